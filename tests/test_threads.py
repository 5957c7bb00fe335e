"""Threads sharing compiled loops (issue 14, defect 1): 8 threads run the same
functions, half over ints and half over floats, with a 1 us switch interval,
so that thread switches land anywhere in the JIT's own Python code (exits,
bridges, tracing).  Every result must be the plain result, of the same type,
and nothing may crash.  Each backend runs in its own process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tracejit

BACKENDS = tracejit.backend_names()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

STRESS = r'''
import sys, threading
import tracejit
tracejit.set_param(backend={backend!r}, threshold=20, bridge_threshold=5)
tracejit.enable()
sys.setswitchinterval(1e-6)

def scale(xs, n):
    t = xs[0] * 0
    for _r in range(n):
        for x in xs:
            t = t + x * 2
    return t

def branchy(xs):
    t = xs[0] * 0
    c = 0
    for x in xs:
        if c % 53 == 7:
            t = t - x
        else:
            t = t + x
        c += 1
    return t

def _bump(out, i, x):
    out[i] = out[i] + x
    return out[i] * 2

def stores_in_callee(xs):
    out = [xs[0] * 0] * len(xs)
    t = xs[0] * 0
    for i in range(len(xs)):
        t = t + _bump(out, i, xs[i])
    return t, out

KERNELS = [(scale, 20), (branchy, None), (stores_in_callee, None)]
ints = list(range(300))
floats = [float(i) * 0.5 for i in range(300)]
tracejit.disable()
expected = {{}}
for k, (fn, extra) in enumerate(KERNELS):
    for name, xs in (("i", ints), ("f", floats)):
        expected[k, name] = fn(xs, extra) if extra is not None else fn(xs)
tracejit.enable()
bad = []

def worker(w):
    name, xs = ("i", ints) if w % 2 else ("f", floats)
    for _round in range({rounds}):
        for k, (fn, extra) in enumerate(KERNELS):
            got = fn(xs, extra) if extra is not None else fn(xs)
            want = expected[k, name]
            if got != want or type(got) is not type(want):
                bad.append((w, k, repr(got)[:60]))

threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
st = tracejit.stats()
print("mismatches", len(bad), bad[:3], "compiled", st["loops_compiled"],
      "bridges", st["bridges_compiled"], "failures", st["guard_failures"])
'''


def run_stress(backend: str, rounds: int) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]),
               PYTHONFAULTHANDLER="1")
    p = subprocess.run([sys.executable, "-c", STRESS.format(backend=backend, rounds=rounds)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, f"exit {p.returncode}\n{p.stdout}\n{p.stderr[-3000:]}"
    return p.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_share_compiled_loops(backend):
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} unusable here")
    out = run_stress(backend, rounds=15 if backend in ("reference", "c") else 40)
    assert out.startswith("mismatches 0 "), out
    assert "compiled 0 " not in out, out


if __name__ == "__main__":  # a longer run: python tests/test_threads.py BACKEND RUNS
    backend, runs = sys.argv[1], int(sys.argv[2])
    for k in range(runs):
        print(k, run_stress(backend, rounds=100).strip(), flush=True)
