"""Loop-invariant code motion for loop traces.

An operation of the loop body whose operands do not change from one
iteration to the next (constants, label arguments the ``jump`` passes back
unchanged, or other hoisted results) moves in front of the ``label``:
pure operations (pure calls and overflow-checking ops included), loads from
memory no op of the loop may write (``opt.effects`` decides from the op table
and call descriptors), and guards.  A hoisted guard runs before the first
iteration, where the interpreter state is exactly the loop header's, so it
exits with the trace's header snapshot: if it fails, CPython runs the
iteration itself.
"""

from __future__ import annotations

from typing import Any

from tracejit.ir import Const, Effect, Op, Trace, Value, Writes
from tracejit.opt import effects


def run(trace: Trace, header_snapshot: Any) -> None:
    ops = trace.ops
    if header_snapshot is None or not ops or ops[0].name != "label" or \
            ops[-1].name != "jump" or ops[-1].descr is not None:
        return
    label, body, jump = ops[0], ops[1:-1], ops[-1]
    invariant: set[int] = {id(a) for a, b in zip(label.args, jump.args) if a is b}
    writers = [op for op in body
               if effects.writes(op) is not Writes.NOTHING or
               effects.effect(op) is Effect.STORE]

    def load_is_stable(op: Op) -> bool:
        loc = effects.location(op)
        return loc is not None and not any(effects.clobbers(w, loc) for w in writers)

    classes_change = any(effects.may_change_classes(op) for op in body)

    def is_invariant(v: Value) -> bool:
        return isinstance(v, Const) or id(v) in invariant

    def may_hoist(op: Op) -> bool:
        if not all(is_invariant(a) for a in op.args):
            return False
        eff = effects.effect(op)
        if eff is Effect.GUARD and op.name == "guard_class":
            return not classes_change
        if eff in (Effect.PURE, Effect.GUARD):
            return True
        if eff is Effect.LOAD:
            return load_is_stable(op)
        return False

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
