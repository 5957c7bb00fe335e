"""Constant folding and removal of guards that constants prove true.

The value of an op comes from its table entry's ``evaluate`` (``ir.OPS``),
the same function the reference backend executes, so folding computes what
the compiled code would.  Overflow-checking ops fold too when their
constant operands do not overflow (the guard cannot fail).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracejit.ir import NULL_VALUE, OPS, REF, VOID, Const, Op, Trace, Value, fits_int64


def evaluate(name: str, values: list[Any]) -> Any:
    """Value of op ``name`` on constant machine values, or None if it does not fold.

    None also when the op has no evaluation, when the arguments are outside
    its domain, or when it is a guard that would exit; a guard without a
    result that holds gives True.  Reference arguments are addresses (an
    object given instead stands for its address).
    """
    d = OPS.get(name)
    if d is None or d.evaluate is None or d.args == "*" or len(values) != len(d.args):
        return None
    args = [_address(v) if t == REF else v for v, t in zip(values, d.args)]
    try:
        result = d.evaluate(*args)
    except (ArithmeticError, ValueError):
        return None
    if isinstance(result, int) and not fits_int64(result):
        return None
    return result


def _address(v: Any) -> int:
    if isinstance(v, int):
        return v
    return 0 if v is NULL_VALUE else id(v)


def _machine_value(c: Value) -> Any:
    assert isinstance(c, Const)
    return c.raw() if c.type == REF else c.value


def run(trace: Trace, replaced: dict[int, Value], resolve: Callable[[Value], Value]) -> None:
    out: list[Op] = []
    for op in trace.ops:
        op.args = [resolve(a) for a in op.args]
        d = OPS[op.name]
        if d.evaluate is not None and op.args and all(isinstance(a, Const) for a in op.args):
            val = evaluate(op.name, [_machine_value(a) for a in op.args])
            if val is not None and op.type != REF:
                if op.type != VOID:
                    replaced[id(op)] = Const(op.type, val)
                continue  # a result computed, or a guard that holds
        out.append(op)
    trace.ops = out
