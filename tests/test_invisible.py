"""A loop getting hot changes nothing a program can observe about its own
objects (issue 14, defects 12a and 12b): the count of objects the collector
tracks (CPython's test_descr.test_slots), the reuse of a freed tuple's memory
(test_genexps), the identity of a tuple held by a local and by the stack when
tracing gives up.  Each case runs in a fresh process: what the first loop
ever traced does is part of what is checked."""

from __future__ import annotations

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
