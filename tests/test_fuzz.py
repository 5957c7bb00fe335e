"""The guard fuzzer in CI, the programs it found bugs with, and proof that it
can fail.

Budget per backend and Python: a fixed seed (reproducible) plus a varying one
(printed; set TRACEJIT_FUZZ_SEED to replay it).  TRACEJIT_FUZZ_EXAMPLES
scales the number of programs.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest

import tracejit
from tracejit import exits
from tracejit.fuzz import fuzz
from tracejit.testing.oracle import differences, observe, observe_jit
from tracejit.testing.programs import Program

# programs per run; the C backend compiles through gcc, so it gets fewer
EXAMPLES = {"llvm": 250, "x86_64": 400, "reference": 150, "c": 50}
SCALE = float(os.environ.get("TRACEJIT_FUZZ_EXAMPLES_SCALE", "1"))


def usable(backend: str) -> None:
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} is not usable here")


def budget(backend: str) -> int:
    return max(5, int(EXAMPLES.get(backend, 50) * SCALE))


@pytest.mark.parametrize("backend", tracejit.backend_names())
@pytest.mark.parametrize("which", ["fixed", "varying"])
def test_fuzz(backend, which):
    usable(backend)
    if which == "fixed":
        seed = 20261126
    else:
        seed = int(os.environ.get("TRACEJIT_FUZZ_SEED", random.randrange(1 << 30)))
    report = fuzz(backend, budget(backend) // (1 if which == "fixed" else 2), seed)
    print(f"seed {seed}: {report.summary()}")
    assert report.programs > 0
    assert report.failure is None, (
        f"seed {seed}: " + "\n".join(report.failure_summary) + "\n\n" + report.failure)


# -- programs the fuzzer found bugs with (each fixed) ---------------------------

REGRESSIONS = [
    # 3.13: LOAD_FAST_LOAD_FAST pushed its first value before the second read
    # emitted a guard, whose resume state then held one value too many on the
    # stack (CPython redid the instruction: segfault).  Reached only by a
    # forced failure of the guard_nonnull on a local loaded in a bridge.
    Program('''
def f(n, xs, ys, m):
    a1 = 4294967297
    a2 = 2147483647
    x1 = 5e-324
    for i in range(n):
        if i == 0:
            ys[2] = 3
        x1 = ys[i % len(ys)]
        if a2 < m[a1 % len(m)][0] and i > 124:
            break
    return (x1,)
''', "(500, [0], [0.0, 0.1, 0.0, 1.0], [[0], [0, 0], [0, 0]])"),
]


@pytest.mark.parametrize("index", range(len(REGRESSIONS)))
def test_regression_under_every_single_forced_failure(index):
    """Each guard alone forced to fail at its 1st and 2nd execution."""
    program = REGRESSIONS[index]
    expected = observe(program.function(), program.make_args())
    backend = "reference"
    got = observe_jit(program.function(), program.make_args(), backend)
    assert differences(expected, got) == []
    guards = tracejit.stats()["guards_compiled"]
    assert guards > 0
    forced = 0
    for guard in range(guards):
        for nth in (1, 2):
            got = observe_jit(program.function(), program.make_args(), backend,
                              inject_nth=nth, inject_guard=guard)
            assert differences(expected, got) == [], (guard, nth)
            forced += tracejit.stats()["forced_failures"]
    assert forced > guards  # the injection really fired


@pytest.mark.parametrize("index", range(len(REGRESSIONS)))
def test_regression_on_every_backend(index):
    program = REGRESSIONS[index]
    expected = observe(program.function(), program.make_args())
    for backend in tracejit.available_backends():
        for nth in (0, 1, 3):
            got = observe_jit(program.function(), program.make_args(), backend,
                              inject_nth=nth)
            assert differences(expected, got) == [], (backend, nth)


# -- the fuzzer can fail ---------------------------------------------------------


def test_fuzzer_catches_a_local_restored_from_the_wrong_slot(monkeypatch, tmp_path):
    """Break deoptimization on purpose (the first two locals written back
    swap values) and check the fuzzer notices within a small budget, shrinks
    the program, and prints a standalone script."""
    real_rebuild = exits.rebuild

    def broken_rebuild(rd, values):
        locs, stack, owned = real_rebuild(rd, values)
        keys = sorted(locs)
        for a, b in zip(keys, keys[1:]):
            if locs[a] != locs[b]:
                locs[a], locs[b] = locs[b], locs[a]
                break
        return locs, stack, owned

    monkeypatch.setattr(exits, "rebuild", broken_rebuild)
    report = fuzz("reference", 60, seed_value=5)
    assert report.failure is not None, report.summary()
    assert report.failure_summary
    monkeypatch.undo()
    script = tmp_path / "repro.py"
    script.write_text(report.failure)
    # the reproducer runs on its own; with deoptimization fixed it agrees
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert "no difference" in out.stdout


def test_injection_forces_failures_and_keeps_results():
    program = Program('''
def f(n, xs, ys, m):
    total = 0
    acc = 0.5
    for i in range(n):
        total += xs[i % len(xs)] * i
        acc = acc * 0.5 + ys[i % len(ys)]
    return total, acc
''', "(300, [1, 2, 3], [0.25, -1.5], [[0]])")
    expected = observe(program.function(), program.make_args())
    for backend in tracejit.available_backends():
        got = observe_jit(program.function(), program.make_args(), backend, inject_nth=2)
        assert differences(expected, got) == [], backend
        st = tracejit.stats()
        assert st["loops_compiled"] >= 1
        assert st["forced_failures"] >= 3, (backend, st)


def test_fuzz_command_creates_its_out_folder(tmp_path, capsys):
    """``--out`` may name a folder that does not exist yet (it failed with
    FileNotFoundError before the first program ran)."""
    from tracejit.fuzz import main

    out = tmp_path / "not" / "there"
    assert main(["--backend", "reference", "--examples", "1", "--seed", "1",
                 "--out", str(out)]) == 0
    assert out.is_dir()
    assert "fuzz reference: ok" in capsys.readouterr().out


def test_the_generator_writes_object_programs():
    # classes, attributes, methods, properties, super(): half the programs,
    # and a good share of those compiled
    from hypothesis import HealthCheck, given, seed, settings

    from tracejit.testing.programs import programs

    drawn: list[Program] = []

    @seed(20261202)
    @settings(max_examples=300, suppress_health_check=list(HealthCheck), database=None)
    @given(programs())
    def collect(p: Program) -> None:
        drawn.append(p)

    collect()
    with_objects = [p for p in drawn if "class D(C):" in p.source]
    assert len(with_objects) >= 100
    uses = " ".join(p.source.split("def f(", 1)[1] for p in with_objects)
    for construct in ("c0.v", ".get(", ".bump(", "twice", ".sm(", ".cm("):
        assert construct in uses, construct
    backend = "x86_64" if "x86_64" in tracejit.available_backends() else "reference"
    compiled = 0
    for p in with_objects:
        expected = observe(p.function(), p.make_args())
        got = observe_jit(p.function(), p.make_args(), backend)
        assert not differences(expected, got), p.source
        compiled += tracejit.stats()["loops_compiled"] > 0
    assert compiled >= 30, (compiled, len(with_objects))
