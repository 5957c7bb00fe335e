"""Common subexpression elimination, redundant guard removal and a small
heap cache (repeated field loads with no store or call in between)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracejit.ir import OPS, Const, Op, Trace, Value

# loads whose result only changes when memory is written
_LOADS = {"getfield_i", "getfield_f", "getfield_r", "raw_load_i", "getlistitem_r",
          "getarrayitem_r"}
_STORES = {"setfield_i", "setfield_r", "raw_store_i", "raw_store_r", "setlistitem_r"}


def _key(op: Op) -> tuple:
    return (op.name, op.descr if isinstance(op.descr, int) else id(op.descr),
            tuple(_arg_key(a) for a in op.args))


def _arg_key(a: Value) -> Any:
    if isinstance(a, Const):
        return ("c", a)
    return id(a)


def run(trace: Trace, replaced: dict[int, Value], resolve: Callable[[Value], Value]) -> None:
    pure: dict[tuple, Op] = {}
    heap: dict[tuple, Op] = {}
    seen_guards: set[tuple] = set()
    out: list[Op] = []
    for op in trace.ops:
        op.args = [resolve(a) for a in op.args]
        d = OPS[op.name]
        if op.name == "label":
            pure.clear()
            heap.clear()
            seen_guards.clear()
            out.append(op)
            continue
        if d.guard and op.name not in ("finish",) and d.result == "v":
            key = _key(op)
            if key in seen_guards:
                continue
            seen_guards.add(key)
            out.append(op)
            continue
        if d.pure and not d.guard and op.type != "v":
            key = _key(op)
            prev = pure.get(key)
            if prev is not None:
                replaced[id(op)] = prev
                continue
            pure[key] = op
        elif op.name in _LOADS:
            key = _key(op)
            prev = heap.get(key)
            if prev is not None:
                replaced[id(op)] = prev
                continue
            heap[key] = op
        elif op.name in _STORES:
            # a store may alias every load from the same kind of location
            heap.clear()
        elif op.name.startswith("call_") or op.name in ("decref",):
            heap.clear()
        out.append(op)
    trace.ops = out
