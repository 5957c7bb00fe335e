"""Closure cells: ``COPY_FREE_VARS``, ``LOAD_DEREF``, ``STORE_DEREF``.

A function's free variables live in cells.  The cells themselves never
change for a function (``__closure__`` is read-only), so an inlined
closure's cells are constants of the trace (its code is guarded).  What a
cell holds can change at any time (``nonlocal``, another closure over the
same cell), so every ``LOAD_DEREF`` reads it in the trace, guards that it is
set (CPython raises NameError otherwise) and guards its class like any read
of an object.  The loop's own frame reads its cells from its locals, where
CPython keeps them.  Making cells (``MAKE_CELL``: a function whose locals a
nested function captures) is not traced in inlined calls.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.aborts import Abort, TraceAbort
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import K_REF, TValue, const_tvalue


@bytecode("COPY_FREE_VARS")
def copy_free_vars(t: Tracer, ins: Any) -> None:
    frame = t.top
    closure = frame.func.__closure__ if frame.func is not None else None
    if frame.is_outer or closure is None or len(closure) != ins.arg:
        raise TraceAbort(Abort.INLINE, "free variables without a closure")
    first = cp.nlocalsplus(frame.code) - ins.arg
    t.keepalive.append(closure)
    for k, cell in enumerate(closure):
        frame.locals[first + k] = const_tvalue(cell)


def _cell(t: Tracer, index: int) -> TValue:
    cell = t.read_local(index)
    if cell.kind != K_REF or cell.box is None or type(cell.py) is not types.CellType:
        raise TraceAbort(Abort.OPERATION, "a free variable that is not in a cell")
    return cell


@bytecode("LOAD_DEREF", pushes=1)
def load_deref(t: Tracer, ins: Any) -> TValue:
    cell = _cell(t, ins.arg)
    try:
        value = cell.py.cell_contents
    except ValueError:
        raise TraceAbort(Abort.RAISES, "free variable referenced before assignment") from None
    raw = t.emit("getfield_r", [cell.box], cp.CELL_REF)
    t.emit("guard_nonnull", [raw])  # emptied (del): CPython raises NameError
    return t.unbox(raw, value)


@bytecode("STORE_DEREF", pops=1)
def store_deref(t: Tracer, ins: Any, value: TValue) -> None:
    cell = _cell(t, ins.arg)
    if value.kind == K_REF and value.box is None:
        raise TraceAbort(Abort.VIRTUAL, "storing a virtual range in a cell")
    boxed, owned = t.box(value)
    cell.py.cell_contents = value.concrete()
    t.own_stack(keep=1)  # what the cell held may still be on the stack
    old = t.emit("getfield_r", [cell.box], cp.CELL_REF)
    t.emit("setfield_r", [cell.box, boxed], cp.CELL_REF)
    if not owned:
        t.emit("incref", [boxed])
    t.emit("call_v", [old], helpers.xdecref())  # a cell may have been empty
    value.owned = False
