"""Parallel moves: put several values into several locations at once (the
loop back-edge, the label, call arguments) without clobbering a source that
another move still has to read.  Cycles are broken through a scratch
register (r11 for integers, xmm15 for doubles)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

R11, XMM15 = 11, 31


def parallel_move(moves: list[tuple[int, Any, bool]],
                  move: Callable[[int, Any, bool], None]) -> None:
    """Perform ``moves`` = [(destination, source, is_float)] as if simultaneous.

    Destinations are distinct locations (ints); a source is a location or a
    constant (anything not an int).  ``move(dst, src, is_float)`` emits one
    copy.  Linear time: a move is emitted once no pending move reads its
    destination; when only cycles remain, one value is parked in a scratch
    register.
    """
    pending: dict[int, tuple[int, Any, bool]] = {}
    consts = []
    readers: dict[int, int] = {}
    for m in moves:
        d, s, _ = m
        if type(s) is not int:
            consts.append(m)
        elif s != d:
            pending[d] = m
            readers[s] = readers.get(s, 0) + 1
    ready = [d for d in pending if not readers.get(d)]
    while pending:
        while ready:
            d = ready.pop()
            _, s, f = m = pending.pop(d)
            move(*m)
            left = readers[s] - 1
            readers[s] = left
            if left == 0 and s in pending:
                ready.append(s)
        if pending:
            # only cycles remain: park one destination's value in a scratch
            d, (_, _, is_float) = next(iter(pending.items()))
            temp = XMM15 if is_float else R11
            move(temp, d, is_float)
            for x, (_, s, f) in list(pending.items()):
                if s == d:
                    pending[x] = (x, temp, f)
            readers[temp] = readers.pop(d)
            ready.append(d)
    for m in consts:
        move(*m)
