"""Guard-failure injection: a debug mode that makes guards fail on purpose.

With ``set_param(inject_nth=n)`` every trace compiled from then on gets, in
front of each of its guards, a *forced* guard that fails exactly once: on the
n-th time execution reaches that point.  It leaves through a new exit with the
same resume data and live values as the guard it shadows, so the interpreter
takes over exactly where that guard would have sent it.  Deoptimizing at a
guard is always allowed (the interpreter redoes the check), so a correct JIT
gives the same results with or without injection; a wrong resume path shows.

``inject_guard=k`` (k >= 0) restricts injection to the k-th guard compiled
(counting every guard with resume data, in compilation order); -1 means all.

Forced failures are counted in ``stats()["forced_failures"]``.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from tracejit.ir import ExitDescr, Op, Trace, const_int
from tracejit.params import log, params


def instrument(trace: Trace, shadowable: Callable[[ExitDescr], bool],
               new_exit: Callable[[ExitDescr], ExitDescr], first_index: int) -> int:
    """Insert forced guards into ``trace``; return how many guards were seen.

    ``shadowable(d)`` says whether exit ``d`` resumes in the interpreter (not
    the loop's periodic pause); ``new_exit(d)`` registers a fresh exit that
    resumes like ``d``;
    ``first_index`` is the global index of this trace's first guard.
    """
    nth = params["inject_nth"]
    chosen = params["inject_guard"]
    out: list[Op] = []
    index = first_index
    for op in trace.ops:
        d = op.exit
        if op.is_guard() and op.name != "finish" and d is not None and shadowable(d):
            if chosen < 0 or chosen == index:
                forced = new_exit(d)
                out.extend(_forced_guard(op, forced, nth, trace))
                log(f"inject: guard {index} ({op.name}, {trace.name}) shadowed by "
                    f"exit {forced.number}, fails on execution {nth}")
            index += 1
        out.append(op)
    trace.ops = out
    return index - first_index


def _forced_guard(guard: Op, exit: ExitDescr, nth: int, trace: Trace) -> list[Op]:
    cell = (ctypes.c_int64 * 1)(nth)
    trace.keepalive.append(cell)
    address = const_int(ctypes.addressof(cell))
    count = Op("raw_load_i", [address], 0)
    left = Op("int_sub", [count, const_int(1)])
    store = Op("raw_store_i", [address, left], 0)
    alive = Op("int_ne", [left, const_int(0)])
    check = Op("guard_true", [alive])
    check.exit = exit
    check.fail_args = list(guard.fail_args or [])
    return [count, left, store, alive, check]
