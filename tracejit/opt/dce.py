"""Dead code elimination: drop side-effect-free ops whose results nobody uses
(neither later ops, nor guard snapshots, nor jumps)."""

from __future__ import annotations

from tracejit.ir import OPS, Op, Trace, Value

_REMOVABLE = {"getfield_i", "getfield_f", "getfield_r", "raw_load_i", "raw_load_r",
              "getlistitem_r", "getarrayitem_r", "get_frame"}


def run(trace: Trace, keep: list[Value]) -> None:
    used: set[int] = {id(v) for v in keep}
    out: list[Op] = []
    for op in reversed(trace.ops):
        d = OPS[op.name]
        removable = (d.pure and not d.guard) or op.name in _REMOVABLE
        if removable and id(op) not in used:
            continue
        for a in op.args:
            used.add(id(a))
        out.append(op)
    out.reverse()
    trace.ops = out
