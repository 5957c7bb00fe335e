"""A loop getting hot changes nothing a program can observe about its own
objects (issue 14, defects 12a and 12b): the count of objects the collector
tracks (CPython's test_descr.test_slots), the reuse of a freed tuple's memory
(test_genexps), the identity of a tuple held by a local and by the stack when
tracing gives up.  Each case runs in a fresh process: what the first loop
ever traced does is part of what is checked."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap

import pytest

import tracejit

BACKENDS = tracejit.backend_names()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_case(backend: str, body: str) -> str:
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} is not usable here")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "backends")]))
    env.pop("TRACEJIT_LOG", None)
    src = (f"import gc, tracejit\ntracejit.set_param(backend={backend!r}, threshold=3)\n"
           "tracejit.enable()\n" + textwrap.dedent(body))
    p = subprocess.run([sys.executable, "-c", src], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_hot_loop_adds_no_tracked_objects(backend):
    out = run_case(backend, '''
        def probe():
            class G(object):
                def __eq__(self, other):
                    return False
            g = G()
            gc.collect()
            gc.disable()  # the JIT's allocations must not start a collection meanwhile
            before = len(gc.get_objects())
            for i in range(10):
                g == g  # traced, and given up (a Python __eq__)
            after = len(gc.get_objects())
            gc.enable()
            return after - before
        print(probe(), probe())
    ''')
    assert out.split() == ["0", "0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_jits_work_starts_no_collection(backend):
    # tracing, compiling and bridging allocate thousands of containers: off
    # the program's collection clock, or the collector runs where it would
    # not have (and untracks a tuple of atomic items, as test_slots counts)
    out = run_case(backend, '''
        class G:
            def __eq__(self, other):
                return False

        def probe(n):
            g = G()
            total = 0
            gc.collect()
            starts = []
            def watch(phase, info):
                if phase == "start":
                    starts.append(info["generation"])
            gc.callbacks.append(watch)
            kept = tuple([n, n + 1])  # tracked until a collection looks at it
            for i in range(n):
                total += i * i if i % 3 else i  # compiled, with a bridge
            for i in range(n):
                g == g  # traced, and given up (a Python __eq__)
            gc.callbacks.remove(watch)
            return len(starts), gc.is_tracked(kept), total
        print(*probe(300), *probe(300))
    ''')
    assert out.split() == ["0", "True", "6014750"] * 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_programs_garbage_is_collected_while_tracing(backend):
    # the program's own code that the tracer runs (here list(), a residual
    # call, calling back into Python) stays on the clock: its cycles are
    # collected in every iteration, the traced one too
    out = run_case(backend, '''
        at = [0]
        seen = set()
        def watch(phase, info):
            if phase == "start":
                seen.add(at[0])
        def cycle(i):
            a = []
            a.append(a)
            return i
        items = list(range(3000))
        def run(n):
            total = 0
            for i in range(n):
                at[0] = i
                total += len(list(map(cycle, items)))
            return total
        gc.callbacks.append(watch)
        print(run(12), sorted(set(range(12)) - seen))
    ''')
    assert out.split() == ["36000", "[]"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_consumed_generator_tuples_are_recycled(backend):
    out = run_case(backend, '''
        for _ in range(2):
            ids = list(map(id, ((i, i) for i in range(10))))
            print(max(ids) - min(ids))
    ''')
    assert out.split() == ["0", "0"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_tuple_in_a_local_and_on_the_stack_stays_one_object(backend):
    out = run_case(backend, '''
        def f(n):
            same = []
            for i in range(n):
                t = (i, i)
                box = [t]  # a virtual tuple in a list display: tracing gives up here
                same.append(box[0] is t)
            return same
        print(all(f(20)), all(f(20)))
    ''')
    assert out.split() == ["True", "True"]


def test_gc_clock_is_found_and_put_back():
    from tracejit import gcclock

    assert gcclock.count_found()  # the offset in cpython.py matches this Python
    gc.collect()
    before = gc.get_count()[0]
    with gcclock.stopped():
        assert not gc.isenabled()
        junk = [[] for _ in range(5000)]
    assert gc.isenabled()
    assert gc.get_count()[0] - before < 10  # the context manager's own objects (5000 if not)
    del junk


def test_gc_clock_keeps_the_programs_own_switching_of_gc():
    from tracejit import gcclock

    with gcclock.stopped():
        with gcclock.program_runs():
            assert gc.isenabled()  # the program's code runs as it would
            gc.disable()  # and switches the collector off itself
    assert not gc.isenabled()
    gc.enable()
    gc.disable()
    with gcclock.stopped():
        with gcclock.program_runs():
            assert not gc.isenabled()
            gc.enable()
        assert not gc.isenabled()  # the JIT's work still runs off the clock
    assert gc.isenabled()


def test_gc_clock_runs_once_many_traces_wait_for_a_full_collection(monkeypatch):
    # dead functions' code is freed by full collections only: past the
    # budget the JIT's work brings the next collection nearer again
    from tracejit import gcclock, lifetime

    gc.collect()  # (a full collection starts the count of traces again)
    monkeypatch.setitem(lifetime._state, "new_traces", lifetime.TRACE_BUDGET)
    before = gc.get_count()[0]
    with gcclock.stopped():
        junk = [[] for _ in range(500)]
    assert gc.get_count()[0] - before >= 500
    del junk
