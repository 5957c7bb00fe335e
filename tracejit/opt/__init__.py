"""Trace optimization passes, one per module, run in order by :func:`optimize`.

Passes rewrite ``trace.ops`` in place and record replaced values in a shared
map so that guard snapshots (resolved later, when exits are built) follow the
replacements.
"""

from __future__ import annotations

from collections.abc import Callable

from tracejit.ir import Trace, Value
from tracejit.opt import cse, dce, fold, licm

Resolver = Callable[[Value], Value]


def optimize(trace: Trace, snapshot_values: Callable[[], list[Value]],
             header_snapshot: object = None) -> Resolver:
    """Run all passes; return the resolver mapping old values to new ones.

    ``snapshot_values`` lists the values guard snapshots refer to, so that dead
    code elimination keeps what deoptimization needs.
    """
    replaced: dict[int, Value] = {}

    def resolve(v: Value) -> Value:
        while id(v) in replaced:
            v = replaced[id(v)]
        return v

    fold.run(trace, replaced, resolve)
    cse.run(trace, replaced, resolve)
    licm.run(trace, header_snapshot)
    dce.run(trace, [resolve(v) for v in snapshot_values()])
    return resolve
