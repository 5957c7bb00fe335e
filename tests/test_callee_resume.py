"""Resuming inside inlined callees (tracejit.reentry): a guard failing after
a callee's side effect continues in a real frame of the callee, without
redoing the call.  The programs are in tests/programs.py (and so also in the
differential suite, with every guard forced to fail); these tests check that
the path is really taken, what the program sees of it, and its safety net."""

from __future__ import annotations

import sys
import traceback

import pytest

import tracejit
from tests import programs
from tracejit import reentry
from tracejit.testing.oracle import jit_enabled, observe, observe_jit

BACKENDS = tracejit.backend_names()
# (owned_lists_in_callees, also in tests/programs.py, has no side effect in
# its callees: its exits redo the call, releasing what the callees owned)
RESUMING = ["store_in_callee", "raise_in_callee_after_store", "nested_callees_with_stores",
            "index_error_in_callee"]
CASES = {name: (fn, args) for name, fn, args, _ in programs.PROGRAMS if name in RESUMING}


def _usable(backend: str) -> None:
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} unusable here")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", RESUMING)
def test_exits_inside_callees_resume_there_and_agree(backend, name):
    _usable(backend)
    fn, args = CASES[name]
    expected = observe(fn, args())
    resumed = 0
    for nth in (0, 1, 3):  # the program's own failures, then forced ones
        got = observe_jit(fn, args(), backend, inject_nth=nth)
        st = tracejit.stats()
        assert got == expected, nth
        assert st["stale_callee_resumes"] == 0
        resumed += st["callee_resumes"]
    # failures after the callees' stores went through real callee frames
    assert resumed > 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_double_increment_would_show(backend):
    """The nested program increments list items inside a callee two calls
    deep, then overflows: redoing either call would add twice."""
    _usable(backend)
    fn, args = CASES["nested_callees_with_stores"]
    expected = fn(*args())
    got = observe_jit(fn, args(), backend)
    assert tracejit.stats()["callee_resumes"] >= 1
    assert got == observe(fn, args())
    assert expected[1][150] == 3037000400 + 150 + 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_traceback_shows_the_callee_frame(backend):
    _usable(backend)
    fn, args = CASES["raise_in_callee_after_store"]
    with jit_enabled(backend):
        try:
            fn(*args())
        except ZeroDivisionError as e:
            frames = traceback.extract_tb(e.__traceback__)
        else:
            raise AssertionError("no exception")
        resumed = tracejit.stats()["callee_resumes"]
    assert resumed >= 1
    names = [f.name for f in frames]
    assert names[-2:] == ["raise_in_callee_after_store", "_store_then_divide"]
    assert frames[-1].line == "return 10 // (50 - i)"


def _callee(k):
    return k + 1


def test_a_pending_frame_is_consumed_only_by_its_own_call():
    """A start of the callee from another caller runs untouched; a pending
    frame whose call never happens is dropped and counted."""
    tracejit.reset()
    tracejit.enable()
    try:
        parent = sys._getframe()
        code = _callee.__code__
        start, end = reentry.call_instruction(parent.f_code, parent.f_lasti)
        reentry.schedule(reentry.PendingFrame(code, 0, {0: 100}, [], parent, -10, -5))
        assert _callee(1) == 2  # our caller is not at that call: not rewritten
        reentry.drop_stale()
        assert tracejit.stats()["stale_callee_resumes"] == 1
        assert _callee(1) == 2
        assert start <= end
    finally:
        tracejit.disable()
