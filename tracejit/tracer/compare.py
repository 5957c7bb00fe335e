"""Handlers for comparisons and truth: ``COMPARE_OP``, ``IS_OP``, ``TO_BOOL``,
``UNARY_NOT``; :func:`truth` is also what conditional jumps test."""

from __future__ import annotations

import operator
from typing import Any

from tracejit import cpython as cp
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import Const, const_float, const_int
from tracejit.tracer.arith import as_float, guard_exact_float
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import K_BOOL, K_FLOAT, K_INT, K_REF, K_TUPLE, K_VIRTUAL, NUMBER_KINDS, TValue

CMP = ("<", "<=", "==", "!=", ">", ">=")
PY_CMP = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
          ">": operator.gt, ">=": operator.ge}
CMP_SUFFIX = {"<": "lt", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", ">=": "ge"}


@bytecode("COMPARE_OP", pops=2, pushes=1)
def compare_op(t: Tracer, ins: Any, a: TValue, b: TValue) -> TValue:
    return compare(t, CMP[cp.compare_op_index(ins.arg)], a, b)


def _number_and_text(a: TValue, b: TValue) -> bool:
    for x, y in ((a, b), (b, a)):
        if x.kind in NUMBER_KINDS and y.kind == K_REF and y.box is not None \
                and type(y.py) in (str, bytes):
            return True
    return False


def compare(t: Tracer, sym: str, a: TValue, b: TValue) -> TValue:
    if a.kind not in NUMBER_KINDS or b.kind not in NUMBER_KINDS:
        if sym in ("==", "!=") and (a.py is None or b.py is None) and \
                a.kind != K_TUPLE and b.kind != K_TUPLE:
            # comparing with None: decided by the (guarded) types
            if a.kind == K_REF and b.kind == K_REF and a.py is None and b.py is None:
                v = sym == "=="
            elif a.kind in NUMBER_KINDS or b.kind in NUMBER_KINDS:
                v = sym == "!="
            else:
                raise TraceAbort(Abort.OPERATION, "comparison of objects")
            return TValue(K_BOOL, const_int(int(v)), v)
        if sym in ("==", "!=") and _number_and_text(a, b):
            # a number and a string are never equal (neither's __eq__ knows
            # the other): decided by the (guarded) types as well
            v = sym == "!="
            return TValue(K_BOOL, const_int(int(v)), v)
        raise TraceAbort(Abort.OPERATION,
                         f"comparison of {type(a.py).__name__} and {type(b.py).__name__}")
    py = PY_CMP[sym](a.py, b.py)
    if K_FLOAT in (a.kind, b.kind):
        if a.kind != K_FLOAT:
            guard_exact_float(t, a.box)
        if b.kind != K_FLOAT:
            guard_exact_float(t, b.box)
        r = t.emit("float_" + CMP_SUFFIX[sym], [as_float(t, a), as_float(t, b)])
    else:
        r = t.emit("int_" + CMP_SUFFIX[sym], [a.box, b.box])
    return TValue(K_BOOL, r, py)


@bytecode("IS_OP", pops=2, pushes=1)
def is_op(t: Tracer, ins: Any, a: TValue, b: TValue) -> TValue:
    if a.kind == K_VIRTUAL or b.kind == K_VIRTUAL:
        # an object the trace has not built is no other object
        same = a.kind == b.kind and a.virt is b.virt
        py = same != bool(ins.arg)
        return TValue(K_BOOL, const_int(int(py)), py)
    if a.kind == K_REF and b.kind == K_REF:
        py = (a.py is b.py) != bool(ins.arg)
        if isinstance(a.box, Const) and isinstance(b.box, Const):
            r = const_int(int(a.py is b.py))
        else:
            r = t.emit("ptr_eq", [a.box, b.box])
        if ins.arg:
            r = t.emit("int_xor", [r, const_int(1)])
    elif (a.kind == K_REF and a.py is None) or (b.kind == K_REF and b.py is None):
        py = (a.py is b.py) != bool(ins.arg)
        r = const_int(int(py))
    else:
        raise TraceAbort(Abort.OPERATION, "`is` on numbers")
    return TValue(K_BOOL, r, py)


@bytecode("UNARY_NOT", pops=1, pushes=1)
def unary_not(t: Tracer, ins: Any, a: TValue) -> TValue:
    b = truth(t, a)
    return TValue(K_BOOL, t.emit("int_xor", [b.box, const_int(1)]), not b.py)


@bytecode("TO_BOOL", pops=1, pushes=1)
def to_bool(t: Tracer, ins: Any, a: TValue) -> TValue:
    return truth(t, a)


def truth(t: Tracer, a: TValue) -> TValue:
    """The traced bool of ``a`` (what ``if a:`` tests)."""
    if a.kind == K_BOOL:
        return a
    if a.kind == K_INT:
        return TValue(K_BOOL, t.emit("int_ne", [a.box, const_int(0)]), bool(a.py))
    if a.kind == K_FLOAT:
        return TValue(K_BOOL, t.emit("float_ne", [a.box, const_float(0.0)]), bool(a.py))
    if a.kind == K_TUPLE:
        return TValue(K_BOOL, const_int(int(bool(a.items))), bool(a.items))
    if a.kind == K_REF:
        if a.py is None:
            return TValue(K_BOOL, const_int(0), False)
        if type(a.py) in (list, tuple):
            n = t.emit("getfield_i", [a.box], cp.VAR_SIZE)
            return TValue(K_BOOL, t.emit("int_ne", [n, const_int(0)]), bool(a.py))
    raise TraceAbort(Abort.OPERATION, f"truth value of {type(a.py).__name__}")
