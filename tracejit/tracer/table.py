"""The bytecode table: one entry per instruction the tracer knows.

An entry declares the instruction's stack effect (how many values it pops and
pushes, a number or a function of the instruction) and whether it may appear
in an inlined callee.  For an ordinary entry the dispatcher hands the handler
its operands *without popping them* and pushes what it returns only after it
returned, so every guard the handler emits snapshots the stack as it was
before the instruction: CPython redoing the instruction sees exactly its
operands.  Operands the handler consumed and did not return are released by
the dispatcher (a handler that hands a reference on, into a list say, clears
its ``owned`` flag).  ``raw`` entries manage the stack themselves (calls,
returns, ``FOR_ITER``, ``SWAP``): their guards must come before their first
pop, by convention.

An entry without a handler is a bytecode the tracer knows but does not record;
it still tells :func:`tracejit.tracer.calls.code_refusal` that a callee
containing it has side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Count = int | Callable[[Any], int]


@dataclass(frozen=True)
class Bytecode:
    name: str
    handler: Callable[..., Any] | None
    pops: Count = 0
    pushes: Count = 0
    raw: bool = False
    in_callee: bool = True  # may be inlined (no side effect visible outside, no loop)

    def npops(self, ins: Any) -> int:
        return self.pops(ins) if callable(self.pops) else self.pops

    def npushes(self, ins: Any) -> int:
        return self.pushes(ins) if callable(self.pushes) else self.pushes


BYTECODES: dict[str, Bytecode] = {}


def bytecode(*names: str, pops: Count = 0, pushes: Count = 0, raw: bool = False,
             in_callee: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the handler of ``names``."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            if name in BYTECODES:
                raise ValueError(f"bytecode {name} registered twice")
            BYTECODES[name] = Bytecode(name, fn, pops, pushes, raw, in_callee)
        return fn
    return register


def known_not_traced(*names: str, in_callee: bool = False) -> None:
    """Bytecodes without a handler that still matter to inlining decisions."""
    for name in names:
        BYTECODES[name] = Bytecode(name, None, in_callee=in_callee)
