"""The IR builder: appending operations, and the one way to write a frame slot.

Every producer of IR uses it: the tracer's recorder (which adds constant
folding and guard snapshots on top), entry traces and compiled write-back
stubs.  Frame slots are addressed as CPython does: locals first, then the
value stack, ``_PyInterpreterFrame.localsplus[index]``.
"""

from __future__ import annotations

from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.ir import ExitDescr, Op, Value

RELEASE, RETURN, NOTHING = "release", "return", "nothing"


class IRBuilder:
    """Collects operations in ``ops``; objects the trace refers to go in ``keepalive``."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.keepalive: list[Any] = []
        self._iframe: Op | None = None

    def emit(self, name: str, args: list[Value] | tuple = (), descr: Any = None) -> Op:
        op = Op(name, args, descr)
        self.ops.append(op)
        return op

    def guard_to(self, exit: ExitDescr, name: str, args: list[Value], descr: Any = None) -> Op:
        """A guard leaving through a fixed exit with no live values."""
        op = Op(name, args, descr)
        op.exit = exit
        op.fail_args = []
        self.ops.append(op)
        return op

    # -- the interpreter frame -------------------------------------------------

    def iframe(self) -> Value:
        """The ``_PyInterpreterFrame*`` of the frame the code was entered with."""
        if self._iframe is None:
            frame = self.emit("get_frame")
            self._iframe = self.emit("raw_load_i", [frame], cp.FRAMEOBJ_IFRAME)
        return self._iframe

    @staticmethod
    def slot_offset(index: int) -> int:
        return cp.IFRAME_LOCALSPLUS + 8 * index

    def load_frame_slot(self, index: int) -> Op:
        """The (borrowed) reference in frame slot ``index``, possibly NULL."""
        return self.emit("raw_load_r", [self.iframe()], self.slot_offset(index))

    def store_frame_slot(self, index: int, new: Value, owned: bool,
                         old: str = RELEASE) -> Value | None:
        """Store reference ``new`` into frame slot ``index``.

        ``owned``: the frame takes over the caller's reference (otherwise it
        gets a new one).  ``old`` says what happens to the reference the slot
        held: RELEASE it right after the store (CPython's own order for
        ``STORE_FAST``), RETURN it for the caller to release later (when
        several slots are written, destructors must see them all written), or
        NOTHING when the slot is beyond the frame's stack and holds nothing.
        """
        replaced = None
        if old != NOTHING:
            replaced = self.load_frame_slot(index)
        if not owned:
            self.emit("incref", [new])
        self.emit("raw_store_r", [self.iframe(), new], self.slot_offset(index))
        if old == RELEASE:
            self.emit("call_v", [replaced], helpers.xdecref())
            return None
        return replaced
