"""Compiled code dies with its code object (issue 14, defect 11).

Functions made from distinct source, run until their loops are compiled and
then dropped, must leave no code object behind after ``gc.collect()``, with
or without ``tracejit.reset()``; live functions keep their machine code
across collections; loops still running (in an outer frame, in another
thread) when a function is dropped keep running correctly.  Each case runs
in its own process (the JIT's state and gc callbacks are process-wide).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import tracejit

BACKENDS = tracejit.backend_names()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PRELUDE = '''
import gc, sys, threading, time, weakref
import tracejit
tracejit.set_param(backend={backend!r}, threshold=20, background_compile=0)
tracejit.enable()

# a global helper, a class and a builtin: the traces hold the namespace, the
# helper and the class, which all lead back to the function
SOURCE = """
class P:
    def __init__(self, x):
        self.x = x
def helper(a):
    return a + {{k}}
def f(n):
    ps = [P(1), P(2)]
    s = 0
    for i in range(n):
        s += helper(i) + ps[i % 2].x
    return s
"""

def expected(k, n):
    return sum(i + k + (1 + i % 2) for i in range(n))

def make(k):
    ns = {{}}
    exec(compile(SOURCE.format(k=k), "<lifetime %d>" % k, "exec"), ns)
    return ns["f"]

def compiled():
    tracejit.wait_for_compiler()
    return tracejit.stats()["loops_compiled"]
'''


def run_case(backend: str, body: str) -> str:
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} is not usable here")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]))
    env.pop("TRACEJIT_LOG", None)
    src = PRELUDE.format(backend=backend) + textwrap.dedent(body)
    p = subprocess.run([sys.executable, "-c", src], env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_deleted_functions_code_objects_are_freed(backend):
    out = run_case(backend, '''
        refs = []
        for k in range(30):
            f = make(k)
            assert f(200) == expected(k, 200)
            refs.append(weakref.ref(f.__code__))
            del f
        assert compiled() >= 30, tracejit.stats()
        gc.collect()
        print("alive", sum(r() is not None for r in refs))
    ''')
    assert out.split() == ["alive", "0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_code_objects_are_freed_after_reset(backend):
    out = run_case(backend, '''
        refs = []
        for k in range(10):
            f = make(k)
            assert f(200) == expected(k, 200)
            refs.append(weakref.ref(f.__code__))
            del f
        assert compiled() >= 10
        tracejit.reset()
        gc.collect()
        print("alive", sum(r() is not None for r in refs))
    ''')
    assert out.split() == ["alive", "0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_live_function_keeps_its_machine_code_across_collections(backend):
    out = run_case(backend, '''
        want = expected(3, 200), expected(3, 300)
        f = make(3)
        assert f(200) == want[0]
        assert compiled() >= 1
        traced = tracejit.stats()["loops_traced"]
        entries = tracejit.stats()["entries"]
        for _ in range(3):
            gc.collect()
        assert f(300) == want[1]
        s = tracejit.stats()
        assert s["loops_traced"] == traced, s
        assert s["entries"] > entries, s
        print("ok")
    ''')
    assert out.split() == ["ok"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropping_functions_inside_a_running_loop(backend):
    """The running loop's body drops compiled functions and collects: the
    running machine code stays, the dropped code goes once it has left."""
    out = run_case(backend, '''
        pool = [make(k) for k in range(6)]
        for k, g in enumerate(pool):
            assert g(100) == expected(k, 100)
        refs = [weakref.ref(g.__code__) for g in pool]
        del g

        def drop(i):
            if pool and i % 40 == 0:
                g = pool.pop()
                k = len(pool)
                assert g(50) == expected(k, 50)
                del g
                gc.collect()
            return i

        def outer(n):
            t = 0
            for i in range(n):
                t += drop(i) * 2
            return t

        assert outer(400) == sum(2 * i for i in range(400))
        assert not pool
        gc.collect()
        print("alive", sum(r() is not None for r in refs), outer(100) == 9900)
    ''')
    assert out.split() == ["alive", "0", "True"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_in_a_thread_survives_its_function_being_dropped(backend):
    out = run_case(backend, '''
        sys.setswitchinterval(1e-5)
        f = make(7)
        assert f(200) == expected(7, 200)  # compiled here
        ref = weakref.ref(f.__code__)
        result = []
        started = threading.Event()

        def work(func):
            started.set()
            result.append(func(200000))

        t = threading.Thread(target=work, args=(f,))
        del f
        t.start()
        started.wait()
        for _ in range(20):  # the thread's loop keeps its code alive meanwhile
            gc.collect()
        t.join()
        assert result == [expected(7, 200000)], result
        del t
        # (the finished thread's state, its thread-locals included, may be
        # cleared a moment after join() returns; up to 15 s on a loaded machine,
        # where a c-backend compile of the thread's last bridge can take seconds)
        for _ in range(750):
            gc.collect()
            if ref() is None:
                break
            time.sleep(0.02)
        print("alive", ref() is not None)
    ''')
    assert out.split() == ["alive", "False"]
