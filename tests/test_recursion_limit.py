"""Programs running near the recursion limit behave as without the JIT
(issue 14, defect 9): the JIT's own frames can push them past the limit, and
neither a wrong value (work done in machine code lost to a RecursionError
inside the exit path) nor a RecursionError CPython would not raise may
reach the program.

One frame stays out of reach: sys.monitoring calls the JIT's back-jump
callback as a Python function, one frame above the loop's, so a loop whose
frame is within two frames of the limit gets the RecursionError from that call
itself, before any JIT code runs (plain CPython would still run it).  Never a
wrong value there either."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tracejit

BACKENDS = tracejit.backend_names()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = r'''
import sys
if {jit}:
    import tracejit
    tracejit.set_param(backend={backend!r}, threshold={threshold})
    tracejit.enable()

def work(n):
    t = 0
    for i in range(n):
        t += i
    return t

def deep(d, target):
    if d < target:
        return deep(d + 1, target)
    return work(101)

if {warm}:
    work(500); work(500)  # compiled before going deep
sys.setrecursionlimit({limit})
out = []
for depth in range({low}, {limit}):
    try:
        out.append(deep(0, depth))
    except RecursionError:
        out.append("RecursionError")
print(repr(out))
'''


def _run(jit: bool, backend: str, **kw: object) -> str:
    src = PROGRAM.format(jit=jit, backend=backend, **kw)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]))
    p = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", [
    # compiled code entered and left near the limit: the exit path is deep
    dict(threshold=50, warm=True, limit=100, low=70),
    # the loop becomes hot (traced) near the limit
    dict(threshold=200, warm=False, limit=200, low=170),
], ids=["exits-near-the-limit", "tracing-near-the-limit"])
def test_near_the_recursion_limit_results_match(backend, case):
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} unusable here")
    got = eval(_run(True, backend, **case))
    expected = eval(_run(False, backend, **case))
    assert got[:-3] == expected[:-3]
    # the last depths: the callback's own frame may not fit (see above)
    for g, e in zip(got[-3:], expected[-3:]):
        assert g == e or g == "RecursionError", (got[-3:], expected[-3:])
