"""Tiered compilation (tracejit.tiers): traces compiled by one backend and
recompiled mid-run by another, with guard failures and bridges before and
after the swap, must behave exactly as under CPython; losing loops are
handed back; nothing heavy is imported before it is needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tracejit
from tests import programs
from tracejit import tiers
from tracejit.params import DEFAULTS
from tracejit.runtime import runtime
from tracejit.testing.oracle import observe, observe_jit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
USABLE = tracejit.available_backends()
MIXED = [spec for spec in ("x86_64,llvm", "llvm,x86_64", "llvm:O0,llvm")
         if all(part.split(":")[0] in USABLE for part in spec.split(","))]


@pytest.fixture(params=MIXED)
def chain(request):
    return request.param


def eager(spec, **more):
    """Every exit checks for promotion: recompiled as early as possible, and
    again for every bridge grown later (synchronously, so deterministic)."""
    return dict(tiers=spec, tier_up_ms=0, tier_async=0, **more)


def phases(n):
    """Three phases, each failing a guard of the one before: bridges grow
    before and after the loop moves to its next tier."""
    total = 0
    seen = []
    for i in range(n):
        if i < n // 3:
            total += i
        elif i < 2 * n // 3:
            total -= i * 3
        else:
            total += 0.5 * i  # int to float: another guard
        if i % 17 == 0:
            seen.append(total)

    return total, seen


def nested_phases(n):
    """Loop -> bridge -> other loop: the inner loop's exit grows a bridge that
    closes the outer loop and jumps back into the inner one."""
    out = [0] * n
    for i in range(n):
        s = 0
        for j in range(i % 7 + 40):
            if j % 2:
                s += j * i
            else:
                s -= j
        out[i] = s if i < n // 2 else s * 1.5
    return out


def test_recompiled_mid_run_same_results(chain):
    expected = observe(phases, (3000,))
    got = observe_jit(phases, (3000,), chain.split(",")[0].split(":")[0], **eager(chain))
    assert got == expected
    st = tracejit.stats()
    assert st["tier_ups"] >= 2, st  # the loop, then the bridges grown after it
    assert st["bridges_compiled"] >= 1
    assert st["guard_failures"] >= 1
    assert len(st["tier_compile_times"]) == 2, st["tier_compile_times"]


def test_loop_bridge_other_loop_across_tiers(chain):
    expected = observe(nested_phases, (400,))
    got = observe_jit(nested_phases, (400,), chain.split(",")[0].split(":")[0], **eager(chain))
    assert got == expected
    st = tracejit.stats()
    assert st["tier_ups"] >= 1 and st["bridges_compiled"] >= 1, st
    # the inner loop, entered only from the outer loop's code, moved with it
    loops = [i for i in runtime.loops.values() if i.code is nested_phases.__code__]
    assert len(loops) == 2 and all(i.versions for i in loops)
    assert {v.trace.tier for i in loops for v in i.versions} == {1}


PROGRAM_NAMES = ["matmul", "nested3", "while_branches", "sum_ints_then_float",
                 "int_to_float_switch_late", "list_of_lists_update", "for_else_nested",
                 "overflow_add", "branch_in_callee", "element_type_change", "spectral"]


@pytest.mark.parametrize("name", PROGRAM_NAMES)
def test_programs_with_eager_tier_up(name, chain):
    entry = next(p for p in programs.PROGRAMS if p[0] == name)
    expected = observe(entry[1], entry[2]())
    got = observe_jit(entry[1], entry[2](), chain.split(",")[0].split(":")[0], **eager(chain))
    assert got == expected
    assert tracejit.stats()["loops_compiled"] >= 1


@pytest.mark.parametrize("name", ["while_branches", "sum_ints_then_float", "matmul"])
def test_programs_with_eager_tier_up_and_forced_guard_failures(name, chain):
    entry = next(p for p in programs.PROGRAMS if p[0] == name)
    expected = observe(entry[1], entry[2]())
    got = observe_jit(entry[1], entry[2](), chain.split(",")[0].split(":")[0],
                      **eager(chain, inject_nth=2))
    assert got == expected


def switching(n, late):
    total = 0
    for i in range(n):
        if i % 3 == 0:
            total += i
        else:
            total -= 1  # a bridge in the first run
        if late and i % 4 == 0:
            total ^= 5  # a bridge grown only after the swap
    return total


def test_promotion_between_calls_keeps_old_bridges(chain):
    """Bridges grown in tier 1 stay attached after the swap (same exits, same
    slots), and bridges grown after it are compiled in tier 1 and promoted."""
    def run(k):
        return observe(switching, (1000 * k, k > 1))

    expected = [run(k) for k in (1, 2, 3)]
    first = chain.split(",")[0].split(":")[0]
    tracejit.reset()
    saved = {k: tracejit.get_param(k) for k in ("backend", "tiers", "threshold",
                                                "bridge_threshold", "tier_up_ms")}
    tracejit.set_param(backend=first, threshold=3, bridge_threshold=3, tier_async=0,
                       tiers=chain, tier_up_ms=10 ** 6)
    tracejit.enable()
    try:
        got = [run(1)]
        bridges_before = tracejit.stats()["bridges_compiled"]
        assert bridges_before >= 1
        [info] = [i for i in runtime.loops.values() if i.code is switching.__code__]
        tiers.promote(runtime, info)
        assert info.tier == 1
        assert all(t.tier == 1 for t, _ in tiers.group(runtime, info, 2))
        got.append(run(2))
        tiers.promote(runtime, info)  # the bridges grown since
        got.append(run(3))
    finally:
        tracejit.disable()
        tracejit.set_param(**saved)
    assert got == expected
    assert tracejit.stats()["tier_ups"] == 2


def test_single_backend_means_one_tier():
    tracejit.set_param(backend="reference")
    try:
        assert [t.label for t in tiers.chain()] == ["reference"]
        assert tracejit.get_param("tiers") == "reference"
    finally:
        tracejit.set_param(backend=DEFAULTS["backend"], tiers=DEFAULTS["tiers"])


def test_tiers_parameter_is_checked():
    with pytest.raises(ValueError):
        tracejit.set_param(tiers="x86_64,nope")
    with pytest.raises(ValueError):
        tracejit.set_param(tiers="")
    assert tiers.parse_tiers("x86_64, llvm:O3") == [("x86_64", None), ("llvm", "O3")]
    assert tiers.parse_tiers("auto") == []


def test_auto_without_peachpy_starts_with_cheap_llvm(monkeypatch):
    if "llvm" not in USABLE:
        pytest.skip("llvm is not usable here")
    real = tiers.get_backend

    def no_x86(name):
        if name == "x86_64":
            raise tracejit.backend.BackendUnavailable("PeachPy cannot be imported (test)")
        return real(name)

    monkeypatch.setattr(tiers, "get_backend", no_x86)
    assert [t.label for t in tiers._resolve("auto")] == ["llvm:O0", "llvm"]


def test_unknown_level_falls_back_with_a_log_line():
    if "llvm" not in USABLE:
        pytest.skip("llvm is not usable here")
    assert [t.label for t in tiers._resolve("llvm:O9,reference")] == ["reference"]


def _cold_program(env_backend=None):
    code = ("import tracejit, sys\n"
            "tracejit.enable()\n"
            "def f(n):\n"
            "    s = 0\n"
            "    for i in range(n):\n"
            "        s += i\n"
            "    return s\n"
            "for k in range(50):\n"
            "    f(3)\n"
            "print(sorted(m for m in ('llvmlite', 'peachpy', 'capstone') if m in sys.modules))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]
                                                        + sys.path))
    env.pop("TRACEJIT_BACKEND", None)
    if env_backend:
        env["TRACEJIT_BACKEND"] = env_backend
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cold_program_never_imports_llvmlite():
    p = _cold_program()
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout


def test_cold_program_never_imports_llvmlite_even_when_pinned():
    p = _cold_program("llvm")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout


# -- giving back ------------------------------------------------------------------


def counting(n):
    s = 0
    for i in range(n):
        s += i & 7
    return s


def _run_counting(monkeypatch, ticks, calls=200, **params):
    """Run ``counting`` under the JIT with tiers.clock returning ``ticks``."""
    it = iter(ticks)
    real_sample, real_clock = tiers.sample_interpreter, tiers.clock

    def sample(info, frame, threshold):  # the fake clock for this loop only
        if info.code is not counting.__code__:
            return real_sample(info, frame, threshold)
        tiers.clock = lambda: next(it)
        try:
            return real_sample(info, frame, threshold)
        finally:
            tiers.clock = real_clock

    monkeypatch.setattr(tiers, "sample_interpreter", sample)
    expected = [counting(200) for _ in range(calls)]
    tracejit.reset()
    saved = {k: tracejit.get_param(k) for k in ("backend", "tiers", "threshold", *params)}
    tracejit.set_param(backend="reference" if "x86_64" not in USABLE else "x86_64",
                       threshold=64, **params)
    tracejit.enable()
    try:
        got = [counting(200) for _ in range(calls)]
    finally:
        tracejit.disable()
        tracejit.set_param(**saved)
    assert got == expected
    [info] = [i for i in runtime.loops.values() if i.code is counting.__code__]
    return info


def test_loop_slower_compiled_is_given_back(monkeypatch):
    """The sampled interpreter took 1 ps per iteration (a fake clock): no
    compiled code can beat that, so the loop goes back to CPython."""
    info = _run_counting(monkeypatch, [0.0, 16e-12])
    assert info.interp_time == pytest.approx(1e-12)
    assert info.blacklisted and not info.versions
    st = tracejit.stats()
    assert counting.__code__.co_name in next(iter(st["given_back"]))
    assert st["aborts"].get(tiers.GIVE_BACK) == 1
    assert st["loops_compiled"] >= 1  # (the calling loop may compile too: a residual call)


def test_loop_faster_compiled_stays(monkeypatch):
    info = _run_counting(monkeypatch, [0.0, 16.0])  # 1 s per interpreted iteration
    assert info.versions and not info.blacklisted
    assert tracejit.stats()["given_back"] == {}


def test_give_back_can_be_switched_off(monkeypatch):
    info = _run_counting(monkeypatch, [0.0, 16e-12], give_back=0)
    assert info.interp_time == 0.0 and info.versions


def test_give_back_is_logged(monkeypatch):
    from tracejit import log

    events = []
    log.add_listener(events.append)
    try:
        _run_counting(monkeypatch, [0.0, 16e-12])
    finally:
        log.remove_listener(events.append)
    [ev] = [e for e in events if e.get("kind") == "give_back"]
    assert ev["reason"] == tiers.GIVE_BACK and ev["interp_time"] > 0
