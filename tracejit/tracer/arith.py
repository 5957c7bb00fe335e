"""Handlers for arithmetic: ``BINARY_OP`` and the unary numeric operators.

Ints are int64 in the trace with overflow guards (an overflowing result is
CPython's to compute, as a Python int); floats are doubles with guards where
CPython would raise (division by zero, ``**`` out of range).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import Const, Value, const_float, const_int, fits_int64
from tracejit.tracer import dunders
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import K_BOOL, K_FLOAT, K_INT, K_REF, NUMBER_KINDS, TValue

BINARY_OPS = {
    0: "+", 1: "&", 2: "//", 3: "<<", 5: "*", 6: "%", 7: "|", 8: "**", 9: ">>",
    10: "-", 11: "/", 12: "^",
}
PY_BINOP: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "&": operator.and_, "//": operator.floordiv, "<<": operator.lshift,
    "*": operator.mul, "%": operator.mod, "|": operator.or_, "**": operator.pow,
    ">>": operator.rshift, "-": operator.sub, "/": operator.truediv, "^": operator.xor,
}
_BITWISE = {"&": "int_and", "|": "int_or", "^": "int_xor"}
_FLOAT_OPS = {"+": "float_add", "-": "float_sub", "*": "float_mul", "/": "float_truediv",
              "//": "float_floordiv", "%": "float_mod"}
TWO53 = 1 << 53


@bytecode("BINARY_OP", pops=2, pushes=1)
def binary_op(t: Tracer, ins: Any, a: TValue, b: TValue) -> TValue:
    sym = BINARY_OPS.get(ins.arg - 13 if ins.arg >= 13 else ins.arg)  # 13+: in-place
    if sym is None:
        raise TraceAbort(Abort.OPERATION, f"binary operator {ins.arg}")
    if sym == "*" and ins.arg < 13 and a.kind == K_REF and type(a.py) is list \
            and b.kind in (K_INT, K_BOOL):
        return repeat_list(t, a, b)
    if dunders.is_instance_operand(a) or dunders.is_instance_operand(b):
        return dunders.binary_dunder(t, ins, sym, ins.arg >= 13, a, b)
    if sym == "+" and a.kind == K_REF and b.kind == K_REF and type(a.py) is str \
            and type(b.py) is str and a.box is not None and b.box is not None:
        return concat_str(t, a, b)
    return binary(t, sym, a, b)


def concat_str(t: Tracer, a: TValue, b: TValue) -> TValue:
    """``str + str`` (the classes are guarded where the values came from)."""
    if len(a.py) + len(b.py) > MAX_REPEAT_ITEMS:
        raise TraceAbort(Abort.OPERATION, "str + str of a huge size")
    size = t.emit("int_add", [t.emit("getfield_i", [a.box], cp.STR_LENGTH),
                              t.emit("getfield_i", [b.box], cp.STR_LENGTH)])
    t.guard_true(t.emit("int_le", [size, const_int(MAX_REPEAT_ITEMS)]))
    r = t.emit("call_r", [a.box, b.box], helpers.unicode_concat())
    t.emit("guard_nonnull", [r])  # out of memory: CPython redoes it and raises
    return TValue(K_REF, r, a.py + b.py, owned=True)


# the largest list ``list * int`` builds in compiled code: beyond it CPython
# does it (and raises MemoryError where the memory is not there), so that the
# call made from machine code never fails with an exception set
MAX_REPEAT_ITEMS = 1 << 26


def repeat_list(t: Tracer, a: TValue, b: TValue) -> TValue:
    """``list * int`` (e.g. ``[0.0] * n``): a new list."""
    if len(a.py) * b.py > MAX_REPEAT_ITEMS:
        raise TraceAbort(Abort.OPERATION, "list * int of a huge size")
    size = t.emit("getfield_i", [a.box], cp.VAR_SIZE)
    items = t.emit("int_mul_ovf", [size, b.box])
    t.guard_true(t.emit("int_le", [items, const_int(MAX_REPEAT_ITEMS)]))
    r = t.emit("call_r", [a.box, b.box], helpers.sequence_repeat())
    t.emit("guard_nonnull", [r])  # out of memory: CPython redoes it and raises
    return TValue(K_REF, r, a.py * b.py, owned=True)


def binary(t: Tracer, sym: str, a: TValue, b: TValue) -> TValue:
    ka, kb = a.kind, b.kind
    if ka not in NUMBER_KINDS or kb not in NUMBER_KINDS:
        raise TraceAbort(Abort.OPERATION,
                         f"{sym} on {type(a.py).__name__} and {type(b.py).__name__}")
    try:
        py = PY_BINOP[sym](a.py, b.py)
    except Exception as e:
        raise TraceAbort(Abort.RAISES, f"{sym} raises {type(e).__name__}") from None
    if K_FLOAT in (ka, kb):
        if type(py) is not float:
            raise TraceAbort(Abort.OPERATION, "float operation with a non-float result")
        return TValue(K_FLOAT, float_binary(t, sym, as_float(t, a), as_float(t, b)), py)
    if ka == K_BOOL and kb == K_BOOL and sym in _BITWISE:
        return TValue(K_BOOL, t.emit(_BITWISE[sym], [a.box, b.box]), py)
    if type(py) is int and not fits_int64(py):
        raise TraceAbort(Abort.BIG_INT, "integer result beyond 64 bits")
    return int_binary(t, sym, a, b, py)


def as_float(t: Tracer, tv: TValue) -> Value:
    if tv.kind == K_FLOAT:
        return tv.box
    if isinstance(tv.box, Const):
        return const_float(float(tv.box.value))
    return t.emit("cast_int_to_float", [tv.box])


def float_binary(t: Tracer, sym: str, x: Value, y: Value) -> Value:
    if sym in ("/", "//", "%"):
        if not (isinstance(y, Const) and y.value != 0.0):
            t.guard_true(t.emit("float_ne", [y, const_float(0.0)]))
    if sym == "**":
        if isinstance(y, Const) and y.value == 2.0:
            # CPython raises OverflowError where the square of a finite
            # float is inf: the guard sends that case (and inf ** 2) back
            r = t.emit("float_mul", [x, x])
            guard_finite(t, r)
            return r
        r = t.emit("call_f", [x, y], helpers.libm("pow"))
        t.guard_true(t.emit("float_gt", [x, const_float(0.0)]))
        guard_finite(t, r)
        return r
    name = _FLOAT_OPS.get(sym)
    if name is None:
        raise TraceAbort(Abort.OPERATION, f"float {sym}")
    return t.emit(name, [x, y])


def guard_finite(t: Tracer, r: Value) -> None:
    t.guard_true(t.emit("float_lt", [t.emit("float_abs", [r]), const_float(math.inf)]))


def int_binary(t: Tracer, sym: str, a: TValue, b: TValue, py: Any) -> TValue:
    x, y = a.box, b.box
    if sym in ("+", "-", "*"):
        name = {"+": "int_add_ovf", "-": "int_sub_ovf", "*": "int_mul_ovf"}[sym]
        if isinstance(x, Const) and isinstance(y, Const):
            return TValue(K_INT, const_int(py), py)
        return TValue(K_INT, t.emit(name, [x, y]), py)
    if sym in _BITWISE:
        return TValue(K_INT, t.emit(_BITWISE[sym], [x, y]), py)
    if sym in ("//", "%"):
        guard_nonzero(t, y)
        if sym == "//" and not (isinstance(y, Const) and y.value != -1):
            t.guard_true(t.emit("int_ne", [x, const_int(-(1 << 63))]))
        name = "int_floordiv" if sym == "//" else "int_mod"
        return TValue(K_INT, t.emit(name, [x, y]), py)
    if sym == "/":
        guard_nonzero(t, y)
        guard_exact_float(t, x)
        guard_exact_float(t, y)
        return TValue(K_FLOAT, t.emit("float_truediv", [as_float(t, a), as_float(t, b)]), py)
    if sym == "<<":
        guard_shift(t, y)
        return TValue(K_INT, t.emit("int_lshift_ovf", [x, y]), py)
    if sym == ">>":
        if b.py < 0:
            raise TraceAbort(Abort.RAISES, "negative shift")
        t.guard_true(t.emit("int_ge", [y, const_int(0)]))
        if b.py >= 63:
            t.guard_true(t.emit("int_ge", [y, const_int(63)]))
            return TValue(K_INT, t.emit("int_rshift", [x, const_int(63)]), py)
        t.guard_true(t.emit("int_lt", [y, const_int(63)]))
        return TValue(K_INT, t.emit("int_rshift", [x, y]), py)
    if sym == "**":
        if not isinstance(y, Const) or not 0 <= y.value <= 64:
            raise TraceAbort(Abort.OPERATION, "int ** with a non-constant or large exponent")
        return TValue(K_INT, int_pow(t, x, y.value), py)
    raise TraceAbort(Abort.OPERATION, f"int {sym}")


def int_pow(t: Tracer, x: Value, n: int) -> Value:
    result: Value = const_int(1)
    base = x
    first = True
    while n:
        if n & 1:
            result = base if first else t.emit("int_mul_ovf", [result, base])
            first = False
        n >>= 1
        if n:
            base = t.emit("int_mul_ovf", [base, base])
    return result


def guard_nonzero(t: Tracer, y: Value) -> None:
    if isinstance(y, Const):
        if y.value == 0:
            raise TraceAbort(Abort.RAISES, "division by constant zero")
        return
    t.guard_true(t.emit("int_ne", [y, const_int(0)]))


def guard_exact_float(t: Tracer, x: Value) -> None:
    if isinstance(x, Const):
        if abs(x.value) > TWO53:
            raise TraceAbort(Abort.BIG_INT, "int too large for exact float conversion")
        return
    t.guard_true(t.emit("int_le", [x, const_int(TWO53)]))
    t.guard_true(t.emit("int_ge", [x, const_int(-TWO53)]))


def guard_shift(t: Tracer, y: Value) -> None:
    if isinstance(y, Const):
        if not 0 <= y.value < 64:
            raise TraceAbort(Abort.RAISES, "shift count out of range")
        return
    t.guard_true(t.emit("int_ge", [y, const_int(0)]))
    t.guard_true(t.emit("int_lt", [y, const_int(64)]))


@bytecode("UNARY_NEGATIVE", pops=1, pushes=1)
def unary_negative(t: Tracer, ins: Any, a: TValue) -> TValue:
    if a.kind == K_FLOAT:
        return TValue(K_FLOAT, t.emit("float_neg", [a.box]), -a.py)
    if a.kind in (K_INT, K_BOOL):
        if not fits_int64(-a.py):
            raise TraceAbort(Abort.BIG_INT, "negation beyond 64 bits")
        if isinstance(a.box, Const):
            return TValue(K_INT, const_int(-a.py), -a.py)
        return TValue(K_INT, t.emit("int_sub_ovf", [const_int(0), a.box]), -a.py)
    raise TraceAbort(Abort.OPERATION, "unary minus on an object")


@bytecode("UNARY_INVERT", pops=1, pushes=1)
def unary_invert(t: Tracer, ins: Any, a: TValue) -> TValue:
    if a.kind not in (K_INT, K_BOOL):
        raise TraceAbort(Abort.OPERATION, "~ on a non-int")
    return TValue(K_INT, t.emit("int_invert", [a.box]), ~a.py)
