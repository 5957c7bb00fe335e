"""Constant folding and removal of guards that constants prove true."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from tracejit.ir import OPS, Const, Op, Trace, Value, fits_int64

_MASK = (1 << 64) - 1


def _wrap(v: int) -> int:
    v &= _MASK
    return v - (1 << 64) if v >> 63 else v


def _pyfloordiv(a: float, b: float) -> float:
    return a // b


_INT: dict[str, Callable[..., Any]] = {
    "int_add": lambda a, b: _wrap(a + b),
    "int_sub": lambda a, b: _wrap(a - b),
    "int_mul": lambda a, b: _wrap(a * b),
    "int_and": lambda a, b: a & b,
    "int_or": lambda a, b: a | b,
    "int_xor": lambda a, b: a ^ b,
    "int_lshift": lambda a, b: _wrap(a << b) if 0 <= b < 64 else None,
    "int_rshift": lambda a, b: a >> b if 0 <= b < 64 else None,
    "int_floordiv": lambda a, b: _wrap(a // b) if b else None,
    "int_mod": lambda a, b: a % b if b else None,
    "int_lt": lambda a, b: int(a < b),
    "int_le": lambda a, b: int(a <= b),
    "int_eq": lambda a, b: int(a == b),
    "int_ne": lambda a, b: int(a != b),
    "int_gt": lambda a, b: int(a > b),
    "int_ge": lambda a, b: int(a >= b),
    "int_neg": lambda a: _wrap(-a),
    "int_invert": lambda a: ~a,
    "float_add": lambda a, b: a + b,
    "float_sub": lambda a, b: a - b,
    "float_mul": lambda a, b: a * b,
    "float_floordiv": lambda a, b: a // b if b else None,
    "float_mod": lambda a, b: a % b if b else None,
    "float_lt": lambda a, b: int(a < b),
    "float_le": lambda a, b: int(a <= b),
    "float_eq": lambda a, b: int(a == b),
    "float_ne": lambda a, b: int(a != b),
    "float_gt": lambda a, b: int(a > b),
    "float_ge": lambda a, b: int(a >= b),
    "float_neg": lambda a: -a,
    "float_abs": lambda a: abs(a),
    "cast_int_to_float": lambda a: float(a),
}


def evaluate(name: str, values: list[Any]) -> Any:
    """Value of a pure op on constant machine values, or None if not folded."""
    fn = _INT.get(name)
    if fn is None:
        if name == "float_truediv":
            a, b = values
            if b == 0.0:
                return None
            return a / b
        return None
    try:
        r = fn(*values)
    except (ArithmeticError, ValueError):
        return None
    if isinstance(r, float) and math.isnan(r):
        return r
    if isinstance(r, int) and not fits_int64(r):
        return None
    return r


def run(trace: Trace, replaced: dict[int, Value], resolve: Callable[[Value], Value]) -> None:
    out: list[Op] = []
    for op in trace.ops:
        op.args = [resolve(a) for a in op.args]
        d = OPS[op.name]
        if d.pure and not d.guard and op.args and all(isinstance(a, Const) for a in op.args):
            val = evaluate(op.name, [a.value for a in op.args])
            if val is not None:
                replaced[id(op)] = Const(op.type, val)
                continue
        if op.name in ("guard_true", "guard_false") and isinstance(op.args[0], Const):
            if bool(op.args[0].value) == (op.name == "guard_true"):
                continue
        if op.name == "guard_value_i" and all(isinstance(a, Const) for a in op.args):
            if op.args[0].value == op.args[1].value:
                continue
        out.append(op)
    trace.ops = out
