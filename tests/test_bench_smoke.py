"""Each benchmark computes the same result under the JIT (every usable backend)
as under plain CPython, on a small workload (a tiny one on the slow reference
backend); the quick answers are the recorded ones; the runner's report shows
failures and missing columns instead of numbers.  No timing here: speed is
measured by bench/run.py only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import tracejit

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import bpnn  # noqa: E402
import cold  # noqa: E402
import fannkuch  # noqa: E402
import float_objects  # noqa: E402
import intloop  # noqa: E402
import mandelbrot  # noqa: E402
import matmul  # noqa: E402
import nbody  # noqa: E402
import nqueens  # noqa: E402
import raytracer  # noqa: E402
import richards  # noqa: E402
import run  # noqa: E402
import spectral_norm  # noqa: E402
import text_dict  # noqa: E402

# name, small workload, tiny workload (for the reference backend)
SMALL = [
    ("mandelbrot", lambda: mandelbrot.mandelbrot(40, 30, 50),
     lambda: mandelbrot.mandelbrot(12, 8, 20)),
    ("intloop", lambda: intloop.intloop(5000), lambda: intloop.intloop(500)),
    ("matmul", lambda: matmul.matmul(matmul.make(15, 1), matmul.make(15, 2), 15),
     lambda: matmul.matmul(matmul.make(6, 1), matmul.make(6, 2), 6)),
    ("spectral_norm", lambda: spectral_norm.spectral_norm(30),
     lambda: spectral_norm.spectral_norm(8)),
    ("nbody", lambda: nbody.nbody(300), lambda: nbody.nbody(20)),
    ("bpnn", lambda: bpnn.bpnn(3, 4, 2, 4), lambda: bpnn.bpnn(2, 3, 1, 2)),
    ("fannkuch", lambda: fannkuch.fannkuch(5), lambda: fannkuch.fannkuch(4)),
    ("nqueens", lambda: nqueens.nqueens(7), lambda: nqueens.nqueens(5)),
    ("richards", lambda: richards.richards(300, 1), lambda: richards.richards(30, 1)),
    ("raytracer", lambda: raytracer.render(10, 8, 2), lambda: raytracer.render(3, 2, 1)),
    ("float_objects", lambda: float_objects.float_objects(400, 2),
     lambda: float_objects.float_objects(30, 1)),
    ("text_dict", lambda: text_dict.text_dict(3000), lambda: text_dict.text_dict(300)),
    ("cold", lambda: cold.cold(50, 2), lambda: cold.cold(10, 1)),
]


def test_every_registered_benchmark_has_a_smoke_workload():
    assert [s[0] for s in SMALL] == run.NAMES


@pytest.mark.parametrize("backend", tracejit.backend_names())
@pytest.mark.parametrize("name,small,tiny", SMALL, ids=[s[0] for s in SMALL])
def test_benchmark_result_is_unchanged(name, small, tiny, backend):
    if backend not in tracejit.available_backends():
        pytest.skip(f"{backend} not usable here")
    work = tiny if backend == "reference" else small
    expected = work()
    tracejit.reset()
    tracejit.set_param(backend=backend, threshold=5, bridge_threshold=3,
                       background_compile=0)
    tracejit.enable()
    try:
        got = work()
    finally:
        tracejit.disable()
    assert got == expected


@pytest.mark.parametrize("name", run.NAMES)
def test_quick_answer_is_the_recorded_one(name):
    module = __import__(name)
    assert set(module.EXPECTED) == set(module.SIZES) == {"quick", "full"}
    assert module.main("quick") == module.EXPECTED["quick"]


def test_report_shows_failures_and_missing_columns():
    entry = {"kind": "jit", "median": 0.5, "min": 0.5, "max": 0.5, "steady": 0.4, "ok": False,
             "speedup": 2.0, "steady_speedup": 2.5, "traces": 1,
             "aborts": {"attribute access": 3}, "stats": {"blacklisted": 1}}
    data = {"backends": ["llvm", "x"], "extras": ["pypy", "gcc"], "size": "quick", "runs": 1,
            "cpu": "cpu", "cpus": 1,
            "extra_info": {"pypy": {"reason": "PyPy not installed"}, "gcc": {"errors": {}}},
            "rows": [{"name": "nbody", "ok": False, "modes": {
                "plain": {"kind": "plain", "median": 1.0, "min": 1.0, "max": 1.0,
                          "steady": 1.0, "ok": True},
                "llvm": entry,
                "x": {"kind": "jit", "error": "killed by SIGSEGV", "failed_runs": 1, "runs": 1},
                "pypy": {"kind": "pypy", "na": "PyPy not installed"},
                "gcc": {"kind": "gcc", "na": "no variant"}}}]}
    times, jit, aborts = run.tables(data)
    assert times[1] == ["nbody", "1.000", "0.500 (2.00x) WRONG", "0.400 (2.50x) WRONG",
                        "FAILED", "-", "n/a", "n/a", "-"]
    assert "WRONG RESULT" in jit[1][-1] and "3 aborts" in jit[1][-1]
    assert jit[2][-1].startswith("JIT FAILED: killed by SIGSEGV")
    assert aborts == ["nbody (llvm): attribute access x3"]
    assert any("PyPy: n/a, PyPy not installed" in n for n in run.notes(data))


def test_runner_end_to_end(tmp_path):
    """One quick benchmark through bench/run.py: JSON, Markdown and a correct answer."""
    backends = [b for b in tracejit.available_backends() if b != "reference"][:1] or ["reference"]
    out = tmp_path / "r.json"
    p = subprocess.run([sys.executable, os.path.join(BENCH, "run.py"), "--only", "nqueens",
                        "--size", "quick", "--runs", "1", "--backends", backends[0],
                        "--extras", "gcc", "--no-chart", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(out.read_text())
    row = data["rows"][0]
    assert row["ok"] and row["modes"]["plain"]["ok"] and row["modes"][backends[0]]["ok"]
    assert "nqueens" in (tmp_path / "r.md").read_text()
