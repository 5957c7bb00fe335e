"""Dead code elimination: drop side-effect-free ops (pure ops, pure calls and
loads that cannot exit, as the op table says) whose results nobody uses
(neither later ops, nor guard snapshots, nor jumps)."""

from __future__ import annotations

from tracejit.ir import Op, Trace, Value
from tracejit.opt import effects


def run(trace: Trace, keep: list[Value]) -> None:
    used: set[int] = {id(v) for v in keep}
    out: list[Op] = []
    for op in reversed(trace.ops):
        if id(op) not in used and effects.has_no_side_effect(op):
            continue
        for a in op.args:
            used.add(id(a))
        out.append(op)
    out.reverse()
    trace.ops = out
