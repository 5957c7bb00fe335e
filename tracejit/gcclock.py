"""Keeping the JIT's own work off the program's collection clock.

CPython's cycle collector runs when the number of container objects made
since the last collection, less those freed, passes generation 0's threshold.
The JIT's slow work (tracing a loop or a bridge, optimizing, compiling)
makes thousands of such objects.  Left on the clock they would make the
collector run where it would not have run without the JIT, and a program can
see that: a collection untracks tuples of atomic items (CPython's
test_descr.test_slots counts ``gc.get_objects()`` around a loop), and runs
finalizers and weak-reference callbacks earlier.

So that work runs with the clock stopped (:func:`stopped`): automatic
collection is off and generation 0's count is put back afterwards.  The
program's own code that the tracer runs (a residual call made at trace time)
runs on the clock again (:func:`program_runs`), so that a call that makes
much cyclic garbage is collected as it would be without the JIT.

Where the count cannot be found (a CPython whose layout differs from the one
checked), stopping the clock only turns automatic collection off and on.
One exception keeps memory bounded: machine code of dead functions is freed
by full collections only (:mod:`tracejit.lifetime`), so once the JIT has
made ``lifetime.TRACE_BUDGET`` traces since the last full collection, its
work counts on the clock again, until the next full collection.

Limits: another thread's allocations made while one thread has the clock
stopped are not counted, and background compilation on the compiler thread
runs on the clock.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

from tracejit import cpython as cp
from tracejit import lifetime
from tracejit.backend import c_function


def _locate_count() -> ctypes.c_int | None:
    """Generation 0's count, after checking that the threshold next to it is
    the one the gc module reports and changes."""
    interp = c_function("PyInterpreterState_Get", ctypes.c_void_p)()
    threshold = ctypes.c_int.from_address(interp + cp.GC_GEN0_THRESHOLD)
    count = ctypes.c_int.from_address(interp + cp.GC_GEN0_THRESHOLD + 4)
    old = gc.get_threshold()
    probe = old[0] + 12345
    gc.set_threshold(probe, *old[1:])
    try:
        moved = threshold.value == probe
    finally:
        gc.set_threshold(*old)
    if not (moved and threshold.value == old[0] and abs(count.value - gc.get_count()[0]) <= 2):
        return None
    return count


_count = _locate_count()
_depth = 0
_saved = 0  # the program's count when the clock stopped
_was_enabled = False


def count_found() -> bool:
    return _count is not None


def _stop() -> None:
    global _depth, _saved, _was_enabled
    _depth += 1
    if _depth == 1:
        _was_enabled = gc.isenabled()
        if _was_enabled:
            gc.disable()
        if _count is not None:
            _saved = _count.value


def _start() -> None:
    global _depth
    _depth -= 1
    if _depth == 0:
        if _count is not None and not lifetime.pressure():
            _count.value = _saved
        if _was_enabled and not gc.isenabled():
            gc.enable()


@contextmanager
def stopped() -> Iterator[None]:
    """The JIT's own work: what it allocates does not bring the program's
    next collection nearer, and no collection runs meanwhile."""
    _stop()
    try:
        yield
    finally:
        _start()


F = TypeVar("F", bound=Callable[..., Any])


def jit_work(fn: F) -> F:
    """Run ``fn`` with the clock :func:`stopped`."""
    @wraps(fn)
    def off_clock(*args: Any, **kwargs: Any) -> Any:
        with stopped():
            return fn(*args, **kwargs)

    return off_clock  # type: ignore[return-value]


@contextmanager
def program_runs() -> Iterator[None]:
    """The program's code, run by the JIT while the clock is stopped: the
    clock runs, from where the program left it."""
    global _saved, _was_enabled
    if _depth == 0:
        yield
        return
    jit_count = _count.value if _count is not None else 0
    if _count is not None:
        _count.value = _saved
    if _was_enabled:
        gc.enable()
    try:
        yield
    finally:
        if _count is not None:
            _saved = _count.value
            _count.value = jit_count
        _was_enabled = gc.isenabled()  # the program may have switched it
        if _was_enabled:
            gc.disable()
