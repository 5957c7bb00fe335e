"""Handlers for lists and tuples: displays, unpacking, subscripts, appends.

Tuples built in the trace stay virtual (their items are traced values, no
object exists) until something needs the object; lists are real objects.
"""

from __future__ import annotations

from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import Const, Value, const_int
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode, known_not_traced
from tracejit.values import K_BOOL, K_INT, K_NULL, K_REF, K_TUPLE, TValue


@bytecode("BUILD_LIST", pops=lambda ins: ins.arg, pushes=1)
def build_list(t: Tracer, ins: Any, *items: TValue) -> TValue:
    if any(i.kind in (K_TUPLE, K_NULL) for i in items):
        raise TraceAbort(Abort.VIRTUAL, "virtual value in a list display")
    r = t.emit("call_r", [const_int(len(items))], helpers.new_list())
    for k, item in enumerate(items):  # PyList_New leaves the n slots NULL
        boxed, owned = t.box(item)
        if not owned:
            t.emit("incref", [boxed])
        t.emit("setlistitem_r", [r, const_int(k), boxed], cp.LIST_ITEMS)
        item.owned = False  # the list holds it now
    return TValue(K_REF, r, [i.py for i in items], owned=True)


@bytecode("BUILD_TUPLE", pops=lambda ins: ins.arg, pushes=1)
def build_tuple(t: Tracer, ins: Any, *items: TValue) -> TValue:
    if any(i.kind in (K_TUPLE, K_NULL) or (i.kind == K_REF and i.owned) for i in items):
        raise TraceAbort(Abort.VIRTUAL, "nested or owned values in a tuple")
    return TValue(K_TUPLE, None, tuple(i.py for i in items), list(items))


@bytecode("UNPACK_SEQUENCE", pops=1, pushes=lambda ins: ins.arg)
def unpack_sequence(t: Tracer, ins: Any, tv: TValue) -> list[TValue]:
    n = ins.arg
    if tv.kind == K_TUPLE:
        if len(tv.items) != n:
            raise TraceAbort(Abort.RAISES, "unpacking the wrong number of values")
        return list(reversed(tv.items))
    if tv.kind == K_REF and type(tv.py) in (list, tuple):
        if len(tv.py) != n:
            raise TraceAbort(Abort.RAISES, "unpacking the wrong number of values")
        size = t.emit("getfield_i", [tv.box], cp.VAR_SIZE)
        t.emit("guard_value_i", [size, const_int(n)])
        items = [t.unbox(_item(t, tv, const_int(k)), tv.py[k]) for k in range(n)]
        return list(reversed(items))
    raise TraceAbort(Abort.OPERATION, "unpacking an unsupported object")


def _item(t: Tracer, seq: TValue, pos: Value) -> Value:
    """Item ``pos`` of a real list or tuple (a borrowed reference)."""
    if type(seq.py) is list:
        return t.emit("getlistitem_r", [seq.box, pos], cp.LIST_ITEMS)
    return t.emit("getarrayitem_r", [seq.box, pos], cp.TUPLE_ITEMS)


def checked_index(t: Tracer, seq: TValue, idx: TValue) -> Value:
    """Guard that ``idx`` is a valid index of ``seq``; return it non-negative."""
    if idx.kind not in (K_INT, K_BOOL):
        raise TraceAbort(Abort.OPERATION, "non-integer index")
    n = len(seq.py)
    i = idx.py
    if not -n <= i < n:
        raise TraceAbort(Abort.RAISES, "index out of range")
    size = t.emit("getfield_i", [seq.box], cp.VAR_SIZE)
    if isinstance(idx.box, Const) and idx.py >= 0:
        t.guard_true(t.emit("int_lt", [idx.box, size]))
        return idx.box
    if i >= 0:
        t.guard_true(t.emit("int_ge", [idx.box, const_int(0)]))
        t.guard_true(t.emit("int_lt", [idx.box, size]))
        return idx.box
    t.guard_true(t.emit("int_lt", [idx.box, const_int(0)]))
    pos = t.emit("int_add", [idx.box, size])
    t.guard_true(t.emit("int_ge", [pos, const_int(0)]))
    return pos


@bytecode("BINARY_SUBSCR", pops=2, pushes=1)
def binary_subscr(t: Tracer, ins: Any, seq: TValue, idx: TValue) -> TValue:
    if seq.kind == K_TUPLE and idx.kind in (K_INT, K_BOOL) and isinstance(idx.box, Const):
        try:
            return seq.items[idx.py]
        except IndexError:
            raise TraceAbort(Abort.RAISES, "index out of range") from None
    if seq.kind == K_REF and type(seq.py) in (list, tuple):
        pos = checked_index(t, seq, idx)
        return t.unbox(_item(t, seq, pos), seq.py[idx.py])
    raise TraceAbort(Abort.OPERATION, f"subscript of {type(seq.py).__name__}")


@bytecode("STORE_SUBSCR", pops=3)
def store_subscr(t: Tracer, ins: Any, value: TValue, seq: TValue, idx: TValue) -> None:
    if seq.kind != K_REF or type(seq.py) is not list:
        raise TraceAbort(Abort.OPERATION, "item assignment to a non-list")
    if t.in_constructor() and not t.rec.is_fresh(seq.box):
        raise TraceAbort(Abort.INLINE, "__init__ of a class call stores into another object")
    pos = checked_index(t, seq, idx)
    boxed, owned = t.box(value)
    seq.py[idx.py] = value.py
    if not owned:
        t.emit("incref", [boxed])
    t.own_stack(keep=3)  # what the old item was may still be on the stack
    old = t.emit("getlistitem_r", [seq.box, pos], cp.LIST_ITEMS)
    t.emit("setlistitem_r", [seq.box, pos, boxed], cp.LIST_ITEMS)
    t.emit("decref", [old])
    value.owned = False  # the list holds it now


@bytecode("LIST_APPEND", pops=1)
def list_append(t: Tracer, ins: Any, value: TValue) -> None:
    lst = t.peek(ins.arg + 1)
    if lst.kind != K_REF or type(lst.py) is not list or t.in_callee:
        raise TraceAbort(Abort.OPERATION, "LIST_APPEND to a non-list")
    if value.kind == K_NULL or (value.kind == K_REF and value.box is None):
        raise TraceAbort(Abort.VIRTUAL, "appending a virtual object")
    boxed, owned = t.box(value)
    t.emit("call_i", [lst.box, boxed], helpers.list_append())
    if owned:
        t.emit("decref", [boxed])
    value.owned = False
    lst.py.append(value.py)


# stores the tracer does not record: a callee holding one is not inlined
known_not_traced("STORE_GLOBAL")
