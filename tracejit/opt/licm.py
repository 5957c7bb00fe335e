"""Loop-invariant code motion for loop traces.

An operation of the loop body whose operands do not change from one
iteration to the next (constants, label arguments the ``jump`` passes back
unchanged, or other hoisted results) moves in front of the ``label``:
pure operations, loads from memory the loop never writes, and guards.  A
hoisted guard runs before the first iteration, where the interpreter state is
exactly the loop header's, so it exits with the trace's header snapshot: if
it fails, CPython runs the iteration itself.
"""

from __future__ import annotations

from typing import Any

from tracejit.ir import OPS, Const, Op, Trace, Value

_LOADS = {"getfield_i", "getfield_f", "getfield_r", "raw_load_i", "raw_load_r"}
_ITEM_LOADS = {"getlistitem_r", "getarrayitem_r"}
_STORES = {"setfield_i", "setfield_r", "raw_store_i", "raw_store_r"}


def run(trace: Trace, header_snapshot: Any) -> None:
    ops = trace.ops
    if header_snapshot is None or not ops or ops[0].name != "label" or \
            ops[-1].name != "jump" or ops[-1].descr is not None:
        return
    label, body, jump = ops[0], ops[1:-1], ops[-1]
    invariant: set[int] = {id(a) for a, b in zip(label.args, jump.args) if a is b}
    written_tags: set[str] = set()
    untagged_store_offsets: set[int] = set()
    store_offsets: set[int] = set()
    items_written = False
    opaque = False  # something may write anywhere
    for op in body:
        if op.name in _STORES:
            tag = getattr(op.descr, "tag", None)
            if tag is None:
                untagged_store_offsets.add(int(op.descr))
            else:
                written_tags.add(tag)
            store_offsets.add(int(op.descr))
        elif op.name == "setlistitem_r":
            items_written = True
        elif op.name.startswith("call_") and not getattr(op.descr, "pure", False):
            opaque = True
        elif op.name == "decref":
            opaque = True

    def load_is_stable(op: Op) -> bool:
        # fields with different names never overlap; an unnamed access may
        # overlap anything at the same offset
        tag = getattr(op.descr, "tag", None)
        if tag is None:
            return int(op.descr) not in store_offsets
        return tag not in written_tags and int(op.descr) not in untagged_store_offsets

    def is_invariant(v: Value) -> bool:
        return isinstance(v, Const) or id(v) in invariant

    def may_hoist(op: Op) -> bool:
        d = OPS[op.name]
        if not all(is_invariant(a) for a in op.args):
            return False
        if op.name in ("label", "jump", "finish"):
            return False
        if op.name in _LOADS:
            return not opaque and load_is_stable(op)
        if op.name in _ITEM_LOADS:
            return not (items_written or opaque)
        if op.name == "unbox_int":
            return True  # ints are immutable
        if op.name.startswith("call_"):
            return bool(getattr(op.descr, "pure", False))
        if d.guard:
            return True
        return d.pure

    hoisted: list[Op] = []
    kept: list[Op] = []
    for op in body:
        if may_hoist(op):
            hoisted.append(op)
            if op.type != "v":
                invariant.add(id(op))
            if op.is_guard():
                op.snapshot = header_snapshot
        else:
            kept.append(op)
    if hoisted:
        trace.ops = hoisted + [label] + kept + [jump]
