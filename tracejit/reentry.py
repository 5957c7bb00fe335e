"""Resuming inside callees: rebuilding frames that a trace had inlined.

When a guard fails inside an inlined call after the callee already did
something visible (stored into a list, say), CPython must continue *inside*
the callee, not redo the call.  The exit writes the outer frame at its
``CALL`` with the stack as it was before the call, and arms a one-shot
``PY_START`` event for the callee's code.  CPython executes the ``CALL``,
which creates a real frame for the callee; the event's callback (here) then
writes that new frame's locals, stack and instruction pointer so that it
continues where the trace left it.  An inner inlined call chains the same
way, one level per event.  Real frames, real tracebacks, nothing executed
twice (see the PY_START fact in DESIGN.md).

A pending frame is consumed only by a start of its code whose caller is the
expected frame executing the expected ``CALL``; anything else starting that
code runs untouched.  Pending frames are per thread.
"""

from __future__ import annotations

import sys
import threading
import types
from dataclasses import dataclass, field
from typing import Any

from tracejit import cpython as cp

_mon = sys.monitoring


@dataclass(eq=False)
class PendingFrame:
    """The state one callee frame continues with, once CPython creates it."""

    code: types.CodeType
    offset: int
    locals: dict[int, Any]
    stack: list[Any]
    parent: types.FrameType
    # the parent's CALL instruction that creates this frame: its offset and the
    # next instruction's (3.12's f_lasti points into the CALL's inline cache)
    call_offset: int
    call_end: int
    then: list[PendingFrame] = field(default_factory=list)  # frames inside this one


_pending: dict[int, list[PendingFrame]] = {}  # thread id -> frames awaiting their start
# id(code) -> [code, number of frames of that code pending in any thread]
_armed: dict[int, list[Any]] = {}
_lock = threading.Lock()
_tool = [-1]


def install(tool: int) -> None:
    _tool[0] = tool
    _mon.register_callback(tool, _mon.events.PY_START, _on_start)


def uninstall() -> None:
    """Before the tool id is given up: disarm every pending frame."""
    with _lock:
        if _tool[0] >= 0:
            for code, _ in _armed.values():
                _mon.set_local_events(_tool[0], code, 0)
        _armed.clear()
        _pending.clear()
        _tool[0] = -1


def call_instruction(code: types.CodeType, offset: int) -> tuple[int, int]:
    """Where the call instruction a frame resumes at begins and ends (3.12's
    ``KW_NAMES`` is followed by its ``CALL``)."""
    ins = cp.instructions(code)
    for k, i in enumerate(ins):
        if i.offset == offset:
            if i.opname == "KW_NAMES":
                k += 1
            return ins[k].offset, ins[k + 1].offset
    raise ValueError(f"no instruction at offset {offset}")


def schedule(frame: PendingFrame) -> None:
    """Make the next start of ``frame.code`` called from ``frame.parent``
    continue as ``frame`` says."""
    tid = threading.get_ident()
    with _lock:
        _pending.setdefault(tid, []).append(frame)
        entry = _armed.setdefault(id(frame.code), [frame.code, 0])
        entry[1] += 1
        if entry[1] == 1 and _tool[0] >= 0:
            _mon.set_local_events(_tool[0], frame.code, _mon.events.PY_START)


def drop_stale() -> None:
    """Forget this thread's pending frames (their call never started: it
    raised before creating the frame).  Called whenever the thread is back
    in the JIT, where no pending frame can still be legitimately awaited."""
    frames = _pending.get(threading.get_ident())
    if frames:
        from tracejit.params import log, stats

        for f in list(frames):
            stats.stale_callee_resumes += 1
            log(f"resuming inside {f.code.co_name}: its call never started")
            _consume(f, frames)


def _consume(frame: PendingFrame, frames: list[PendingFrame]) -> None:
    with _lock:
        frames.remove(frame)
        entry = _armed.get(id(frame.code))
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del _armed[id(frame.code)]
                if _tool[0] >= 0:
                    _mon.set_local_events(_tool[0], frame.code, 0)


def _on_start(code: types.CodeType, offset: int) -> Any:
    frames = _pending.get(threading.get_ident())
    if not frames:
        return None
    new = sys._getframe(1)
    caller = new.f_back
    for pending in frames:
        if (pending.code is code and pending.parent is caller and caller is not None
                and pending.call_offset <= caller.f_lasti < pending.call_end):
            _consume(pending, frames)
            cp.write_frame(new, pending.offset, pending.locals, pending.stack, old_depth=0)
            for inner in pending.then:
                inner.parent = new
                schedule(inner)
            return None
    return None
