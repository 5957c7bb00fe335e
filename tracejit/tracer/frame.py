"""The tracer's frames: one class for the real outer frame and inlined callees.

The tracer keeps a stack of :class:`Frame`.  The bottom one stands for the
live CPython frame whose loop is traced: its locals are read from that frame
on first use (``LAZY`` until then).  Frames above it are inlined calls: they
exist only in the tracer, their locals are bound from the call's arguments.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit.codemap import CodeMap
from tracejit.ir import Value
from tracejit.values import NULL_T, TValue

LAZY: Any = object()  # an outer-frame local not read from the real frame yet


class Frame:
    __slots__ = ("code", "func", "locals", "stack", "pc", "next_pc", "return_to",
                 "written", "is_outer", "stack_before_call", "owned_refs", "transferred",
                 "constructed", "operator_method", "lent", "effects_at_call",
                 "setter", "back_jumps", "instrs", "index", "deferred")

    def __init__(self, code: types.CodeType, locals: list[Any], pc: int, *,
                 func: Any = None, return_to: int = 0, is_outer: bool = False) -> None:
        self.code = code
        self.func = func  # the function object of an inlined call
        self.locals = locals
        self.stack: list[TValue] = []
        self.pc = pc
        self.next_pc = pc
        self.return_to = return_to  # offset in the caller after its CALL
        self.written: set[int] = set()  # locals stored by the trace
        self.is_outer = is_outer
        # while a callee runs: this frame's stack as it was before the CALL
        # (what a guard inside the callee resumes with)
        self.stack_before_call: list[TValue] | None = None
        # references an inlined frame's locals own (released when it returns)
        self.owned_refs: list[Value] = []
        self.transferred: list[Value] = []  # of those, the arguments it took over
        self.lent: list[Value] = []  # and those it took to objects it was lent
        # the recorder's count of visible effects when the call began
        self.effects_at_call = 0
        # the object a class call made, for the frame of its __init__: what
        # the call returns once __init__ did (owned by the trace until then)
        self.constructed: TValue | None = None
        # an operator's method (``__add__``...): it must not decline
        self.operator_method = False
        # a property's setter, run by a STORE_ATTR: its result is dropped
        self.setter = False
        self.back_jumps = 0  # an inlined callee's loops: iterations unrolled so far
        # the outer frame's locals holding a constant object that is not
        # stored into the frame yet: exits write them, and so does the trace
        # where it leaves for other code (see Tracer.write_local)
        self.deferred: set[int] = set()
        self.instrs, self.index = code_index(code)

    @classmethod
    def outer(cls, code: types.CodeType, pc: int) -> Frame:
        return cls(code, [LAZY] * cp.nlocalsplus(code), pc, is_outer=True)

    @classmethod
    def callee(cls, func: types.FunctionType, bound: list[TValue | None],
               return_to: int) -> Frame:
        locals_ = [NULL_T if v is None else v for v in bound]
        return cls(func.__code__, locals_, 0, func=func, return_to=return_to)

    def instruction(self, offset: int | None = None) -> Any:
        return self.instrs[self.index[self.pc if offset is None else offset]]

    def offset_after(self, offset: int) -> int:
        """The next instruction's offset (-1 after the last, a return)."""
        i = self.index[offset] + 1
        return self.instrs[i].offset if i < len(self.instrs) else -1

    def globals(self, real_frame: types.FrameType) -> dict:
        return real_frame.f_globals if self.is_outer else self.func.__globals__

    def __repr__(self) -> str:
        return f"<Frame {self.code.co_name}@{self.pc}>"


_INDEX_CACHE = CodeMap()  # code -> (instructions, offset -> position)


def code_index(code: types.CodeType) -> tuple[list, dict[int, int]]:
    """The instructions of ``code`` and a map from offset to position."""
    hit = _INDEX_CACHE.get(code)
    if hit is None:
        ins = cp.instructions(code)
        hit = _INDEX_CACHE[code] = (ins, {i.offset: n for n, i in enumerate(ins)})
    return hit
