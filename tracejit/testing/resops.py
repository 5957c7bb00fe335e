"""Tests of what the tracer records, in the manner of PyPy's ``check_resops``.

Run a function under the JIT, take the optimized traces compiled for it and
assert how many operations of each kind they hold, so that a lost
optimization (an overflow guard that comes back, a box allocated in the loop,
a global read no longer hoisted) fails a test::

    from tracejit.testing.resops import calls, check_resops, loop_body, run_and_collect

    def count(n):
        total = 0
        for i in range(n):
            total += i
        return total

    run = run_and_collect(count, 1000)   # reference backend, threshold 3
    body = loop_body(run.loop())         # one iteration: after label, before jump
    check_resops(body, int_add_ovf=1)    # exactly one; other kinds unchecked
    check_resops(body, only=True,        # every op present must be named
                 int_add_ovf=1, getfield_i=2, setfield_i=2, int_add=1, int_sub=2,
                 int_gt=2, guard_true=2, raw_load_i=1, raw_store_i=1)
    assert calls(body) == []             # no C function called in the loop

``preamble(trace)`` is what runs once per entry before the label (hoisted
code), ``run.entries`` the entry traces, ``run.bridges()`` the bridges grown
from guards.  A failing check lists the differences, then the ops.

Traces are found through the runtime's loop records (``info.code``,
``info.versions``, ``version.trace`` and ``version.entry_trace``) and bridges
through the runtime's record of each guard's exit (``runtime.exit_info``),
never through the runtime's dictionary keys.  Counts are of the traces
*after* optimization, as compiled.
"""

from __future__ import annotations

import types
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tracejit
from tracejit.ir import OPS, Op, Trace, dump

__all__ = ["Collected", "run_and_collect", "loop_body", "preamble", "bridges", "op_counts",
           "calls", "check_resops", "ops_text"]

# what a test run changes unless asked otherwise: trace early, compile in the
# calling thread (so the traces exist when the function returns)
_DEFAULTS = {"threshold": 3, "background_compile": 0}


@dataclass
class Collected:
    """What :func:`run_and_collect` found.

    ``traces`` are the traces starting at a loop header, one per compiled
    version, in the order the versions were compiled: loops (which ``jump``
    back to their own ``label``) and header traces (an outer loop's trace
    that ends by jumping into an inner loop's code).  ``entries`` are their
    entry traces, in the same order; ``result`` is what the function returned
    and ``stats`` what ``tracejit.stats()`` said afterwards.
    """

    result: Any
    traces: list[Trace] = field(default_factory=list)
    entries: list[Trace] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def loops(self) -> list[Trace]:
        """The traces that close their loop (one label, a final jump to it)."""
        return [t for t in self.traces if _is_loop(t)]

    @property
    def headers(self) -> list[Trace]:
        """The traces that end by jumping into another compiled trace."""
        return [t for t in self.traces if not _is_loop(t)]

    def loop(self) -> Trace:
        """The only loop trace; fails (showing every trace) unless there is one."""
        loops = self.loops
        if len(loops) != 1:
            shown = "\n\n".join(ops_text(t.ops) for t in self.traces)
            raise AssertionError(f"expected one compiled loop, found {len(loops)} "
                                 f"(aborts: {self.stats.get('aborts')})\n{shown}")
        return loops[0]

    def bridges(self) -> list[Trace]:
        """Every trace grown from a guard of these traces (or of those)."""
        out: list[Trace] = []
        for t in self.traces + self.entries:
            out += bridges(t)
        return out


def _is_loop(trace: Trace) -> bool:
    ops = trace.ops
    return bool(ops) and ops[-1].name == "jump" and ops[-1].descr is None and \
        sum(op.name == "label" for op in ops) == 1


def _nested_codes(code: types.CodeType) -> list[types.CodeType]:
    out = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += _nested_codes(const)
    return out


def run_and_collect(func: Callable[..., Any], *args: Any, backend: str = "reference",
                    **params: Any) -> Collected:
    """Run ``func(*args)`` under ``tracejit.jit`` from a fresh JIT state and
    collect the optimized traces compiled for its code (and nested code).

    ``params`` are passed to ``tracejit.set_param`` (``threshold`` defaults to
    3 and ``background_compile`` to 0 here); every parameter is restored
    afterwards, and the JIT is disabled again.
    """
    from tracejit import runtime as rt

    settings = dict(_DEFAULTS, backend=backend, **params)
    saved = {name: tracejit.get_param(name) for name in settings}
    codes = {id(c): c for c in _nested_codes(func.__code__)}
    tracejit.reset()
    tracejit.set_param(**settings)
    try:
        result = tracejit.jit(func)(*args)
    finally:
        tracejit.disable()
        tracejit.wait_for_compiler()
        tracejit.set_param(**saved)
    found = Collected(result, stats=tracejit.stats())
    for info in rt.runtime.loops.values():
        if codes.get(id(info.code)) is not info.code:
            continue
        for version in info.versions:
            found.traces.append(version.trace)
            if version.entry_trace is not None:
                found.entries.append(version.entry_trace)
    return found


def loop_body(trace: Trace) -> list[Op]:
    """The operations of one iteration: after the ``label``, before the final
    ``jump``.  (What stands before the label runs once per entry: hoisted
    loop-invariant code.)"""
    if not _is_loop(trace):
        raise AssertionError(f"not a loop (one label, a final jump to it):\n{ops_text(trace.ops)}")
    ops = trace.ops
    start = next(k for k, op in enumerate(ops) if op.name == "label")
    return ops[start + 1:-1]


def preamble(trace: Trace) -> list[Op]:
    """The operations before the ``label`` (run once per entry into the loop)."""
    ops = trace.ops
    for k, op in enumerate(ops):
        if op.name == "label":
            return ops[:k]
    raise AssertionError(f"no label in trace:\n{ops_text(ops)}")


def bridges(trace: Trace) -> list[Trace]:
    """Traces attached to the guards of ``trace``, recursively (bridges and
    compiled write-back stubs, see :mod:`tracejit.writeback`)."""
    from tracejit.runtime import runtime

    out: list[Trace] = []
    todo = [trace]
    seen = {id(trace)}
    while todo:
        t = todo.pop()
        for op in t.ops:
            ex = runtime.exit_info(op.exit) if op.exit is not None else None
            b = ex.bridge if ex is not None else None
            if isinstance(b, Trace) and id(b) not in seen:
                seen.add(id(b))
                out.append(b)
                todo.append(b)
    return out


def op_counts(ops: Iterable[Op]) -> Counter[str]:
    """How many operations of each name."""
    return Counter(op.name for op in ops)


def calls(ops: Iterable[Op]) -> list[str]:
    """The names of the C functions called (``call_*`` ops), in order."""
    return [op.descr.name for op in ops if op.name.startswith("call_")]


def ops_text(ops: Sequence[Op]) -> str:
    """Operations in the text form of :func:`tracejit.ir.dump` (values defined
    outside ``ops`` get names too; resume comments are left out)."""
    lines = dump(Trace([], list(ops))).splitlines()[1:]
    return "\n".join("  " + ln.split("  # ", 1)[0] for ln in lines)


def check_resops(ops: Sequence[Op], only: bool = False, **expected: int) -> None:
    """Assert that ``ops`` holds exactly ``expected[name]`` operations named
    ``name`` for each keyword (``0`` for "none").  With ``only=True`` every
    operation must be of a named kind: anything else present fails.

    The failure message lists each difference and then the operations.  A
    name that is no operation of :data:`tracejit.ir.OPS` is a ``ValueError``
    (so that a misspelt ``int_add_ovf=0`` cannot pass silently).
    """
    unknown = sorted(name for name in expected if name not in OPS)
    if unknown:
        raise ValueError(f"check_resops: no such operation: {', '.join(unknown)}")
    got = op_counts(ops)
    wrong = [f"{name}: expected {n}, found {got.get(name, 0)}"
             for name, n in expected.items() if got.get(name, 0) != n]
    if only:
        wrong += [f"{name}: expected none, found {n}" for name, n in sorted(got.items())
                  if name not in expected]
    if wrong:
        summary = ", ".join(f"{name}={n}" for name, n in sorted(got.items()))
        raise AssertionError("check_resops: " + "; ".join(wrong) +
                             f"\nfound {summary}:\n{ops_text(ops)}")
