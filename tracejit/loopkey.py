"""Loop keys: the one name for "this loop" shared by hooks, runtime and tracer.

A Python loop is its code object and the bytecode offset of its header.  A
language implementer's ``JitDriver`` loop will add the green values of the
interpreted program (``greens``), so that one interpreter loop holds many
keys.  The hooks' hot path counts back-jumps under :meth:`LoopKey.counter_id`
(a plain int, cheaper than building a key) and builds keys only when a loop is
hot.
"""

from __future__ import annotations

import types
from typing import Any


class LoopKey:
    __slots__ = ("code", "offset", "greens", "_hash")

    def __init__(self, code: types.CodeType, offset: int, greens: tuple[Any, ...] = ()) -> None:
        self.code = code
        self.offset = offset
        self.greens = greens
        self._hash = hash((self.counter_id(code, offset), greens))

    @staticmethod
    def counter_id(code: types.CodeType, offset: int) -> int:
        """The hooks' back-jump counter key of the loop at ``offset``."""
        return id(code) + (offset << 48)

    def at(self, code: types.CodeType, offset: int) -> bool:
        """Whether the loop header ``offset`` of ``code`` is this loop."""
        return code is self.code and offset == self.offset and not self.greens

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LoopKey) and other.code is self.code
                and other.offset == self.offset and other.greens == self.greens)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        where = f"{self.code.co_name}@{self.code.co_firstlineno}:{self.offset}"
        return f"LoopKey({where}{', ' + repr(self.greens) if self.greens else ''})"
