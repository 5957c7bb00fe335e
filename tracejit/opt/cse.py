"""Common subexpression elimination, redundant guard removal and a small
heap cache (repeated loads with nothing in between that may write there).

What may be merged and what invalidates a load comes from the op table and
call descriptors (``opt.effects``): pure ops (overflow-checking ones and
pure calls included) are merged with an earlier identical op, guards
without a result with an identical earlier guard, and loads with an earlier
identical load unless an op in between may have written its location.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracejit.ir import Const, Effect, Op, Trace, Value, Writes
from tracejit.opt import effects
from tracejit.opt.effects import Location


def _key(op: Op) -> tuple:
    d = op.descr
    # (named offsets are ints: the name is part of the key)
    descr = (int(d), getattr(d, "tag", None)) if isinstance(d, int) else id(d)
    return (op.name, descr, tuple(_arg_key(a) for a in op.args))


def _arg_key(a: Value) -> Any:
    if isinstance(a, Const):
        return ("c", a)
    return id(a)


# classes whose instances free nothing else and run no code when they die:
# releasing one (``decref``) leaves every other object as it was
_INERT_CLASSES = frozenset(id(c) for c in (int, float, str, bytes, bool, type(None)))
_INERT_BOXES = frozenset({"PyLong_FromLongLong", "PyFloat_FromDouble"})


def _inert_release(op: Op, inert: set[int]) -> bool:
    """``op`` releases an object known (guarded or made) to be inert."""
    if op.name == "decref" or (op.name == "call_v" and getattr(op.descr, "name", "")
                               == "Py_DecRef"):
        return bool(op.args) and id(op.args[-1]) in inert
    return False


def run(trace: Trace, replaced: dict[int, Value], resolve: Callable[[Value], Value]) -> None:
    pure: dict[tuple, Op] = {}
    heap: dict[tuple, tuple[Location, Op]] = {}
    seen_guards: set[tuple] = set()
    inert: set[int] = set()  # values whose release runs no code (see _inert_release)
    boxed_from: dict[int, Value] = {}  # int objects the trace made -> their int64
    out: list[Op] = []
    for op in trace.ops:
        op.args = [resolve(a) for a in op.args]
        if op.name == "guard_class" and isinstance(op.args[1], Const) and \
                op.args[1].value in _INERT_CLASSES:
            inert.add(id(op.args[0]))
        elif op.name == "call_r" and getattr(op.descr, "name", "") in _INERT_BOXES:
            inert.add(id(op))
            if op.descr.name == "PyLong_FromLongLong":
                boxed_from[id(op)] = op.args[0]
        if op.name == "unbox_int" and id(op.args[0]) in boxed_from:
            replaced[id(op)] = boxed_from[id(op.args[0])]  # (it came from an int64)
            continue
        if op.name == "guard_class" and id(op.args[0]) in boxed_from and \
                isinstance(op.args[1], Const) and op.args[1].value == id(int):
            continue  # (PyLong_FromLongLong makes exact ints)
        eff = effects.effect(op)
        if eff is Effect.CONTROL:
            if op.name == "label":  # a new iteration: nothing earlier is known
                pure.clear()
                heap.clear()
                seen_guards.clear()
            out.append(op)
            continue
        if eff is Effect.GUARD:
            key = _key(op)
            if key in seen_guards:
                continue
            seen_guards.add(key)
            out.append(op)
            continue
        if eff is Effect.PURE and op.type != "v":
            key = _key(op)
            prev = pure.get(key)
            if prev is not None:
                replaced[id(op)] = prev
                continue
            pure[key] = op
        elif eff is Effect.LOAD:
            key = _key(op)
            cached = heap.get(key)
            if cached is not None:
                replaced[id(op)] = cached[1]
                continue
            loc = effects.location(op)
            if loc is not None:
                heap[key] = (loc, op)
        elif heap and _inert_release(op, inert):
            pass  # (only that object's reference count changes)
        elif heap and (effects.writes(op) is not Writes.NOTHING or eff is Effect.STORE):
            for k in [k for k, (loc, _) in heap.items() if effects.clobbers(op, loc)]:
                del heap[k]
        if eff is Effect.STORE and op.name in effects.LOAD_OF_STORE:
            # a later load of this location reads the value just stored
            load = Op(effects.LOAD_OF_STORE[op.name], op.args[:-1], op.descr)
            loc = effects.location(load)
            if loc is not None:
                heap[_key(load)] = (loc, op.args[-1])
        if effects.may_change_classes(op):
            seen_guards = {k for k in seen_guards if k[0] != "guard_class"}
        out.append(op)
    trace.ops = out
