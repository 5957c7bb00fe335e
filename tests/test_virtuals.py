"""Virtual instances (tracer.virtuals): what the compiled loops hold, and that
exits holding virtuals really run.  The differential programs are in
tests/programs_virtuals.py (every backend, every guard forced to fail once,
through tests/test_differential.py)."""

from __future__ import annotations

import pytest

import tracejit
from tests import programs_virtuals as pv
from tracejit.testing.oracle import observe, observe_jit
from tracejit.testing.resops import calls, loop_body, run_and_collect

BUILDS = {"object_new", "PyObject_SetAttr"}


@pytest.fixture(params=tracejit.backend_names())
def backend(request):
    if request.param not in tracejit.available_backends():
        pytest.skip(f"backend {request.param} is not usable here")
    return request.param


class Vec:
    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z

    def add(self, o):
        return Vec(self.x + o.x, self.y + o.y, self.z + o.z)

    def dot(self, o):
        return self.x * o.x + self.y * o.y + self.z * o.z


def temporaries(n, d):
    s = 0.0
    for i in range(n):
        s += Vec(float(i), 2.0, 3.0).add(d).dot(d)
    return s


def _keep_one(v, i, n, out):
    if i == n - 2:
        out.append(v)
    return v.x


def kept_on_one_branch(n, d, out):
    s = 0.0
    for i in range(n):
        s += _keep_one(Vec(float(i), 1.0, 0.5).add(d), i, n, out)
    return s


def test_temporaries_are_never_built(backend):
    d = Vec(0.5, 0.25, 0.125)
    run = run_and_collect(temporaries, 300, d, backend=backend)
    assert run.result == temporaries(300, d)
    body = loop_body(run.loop())
    assert not BUILDS & set(calls(body)), calls(body)
    assert "PyFloat_FromDouble" not in calls(body)


def test_switched_off_every_object_is_built(backend):
    d = Vec(0.5, 0.25, 0.125)
    run = run_and_collect(temporaries, 300, d, backend=backend, virtuals=0)
    assert run.result == temporaries(300, d)
    assert BUILDS <= set(calls(loop_body(run.loop())))


def test_an_object_escaping_on_one_branch_is_built_there_only(backend):
    d = Vec(0.5, 0.25, 0.125)
    out: list = []
    run = run_and_collect(kept_on_one_branch, 300, d, out, backend=backend,
                          bridge_threshold=1)
    assert run.result == kept_on_one_branch(300, d, [])
    assert [(v.x, v.y, v.z) for v in out] == [(298.5, 1.25, 0.625)]
    assert not BUILDS & set(calls(loop_body(run.loop())))
    # the branch that keeps it: an exit that built it, or a bridge that does
    built = any(BUILDS & set(calls(b.ops)) for b in run.bridges())
    assert built or run.stats["guard_failures"] >= 1


@pytest.mark.parametrize("name", ["virtual_type_changes_inside", "virtual_attribute_error",
                                  "virtual_escapes_on_one_branch", "virtual_aliased"])
def test_exits_holding_virtuals_are_taken(name, backend):
    entry = next(p for p in pv.PROGRAMS if p[0] == name)
    expected = observe(entry[1], entry[2]())
    got = observe_jit(entry[1], entry[2](), backend)
    assert got == expected
    assert tracejit.stats()["guard_failures"] >= 1


def test_a_virtual_resumed_twice_is_one_object(backend):
    """Identity at an exit: the local and the pair's two fields are one object."""
    entry = next(p for p in pv.PROGRAMS if p[0] == "virtual_aliased")
    got = observe_jit(entry[1], entry[2](), backend, inject_nth=2)
    assert got == observe(entry[1], entry[2]())
    assert tracejit.stats()["forced_failures"] >= 1
