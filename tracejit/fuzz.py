"""The guard and deoptimization fuzzer: random loop programs, run with and
without the JIT, must behave identically.

    python -m tracejit.fuzz --backend llvm --examples 200 [--seed 1] [--out DIR]

Each example is a program from :func:`tracejit.testing.programs.programs`
(hot loops with type and value changes scheduled at chosen iterations).  It
runs under plain CPython, then under tracejit with the chosen backend, then
again with guard-failure injection (every guard forced to fail once, on its
n-th execution, see :mod:`tracejit.inject`).  The oracle
(:mod:`tracejit.testing.oracle`) compares return value and type, output,
exception, mutated arguments and reference counts.  On a mismatch hypothesis
shrinks the program to a minimal one, which is printed (and written to
``--out``) as a standalone script that reproduces it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import tracejit
from tracejit.testing.oracle import differences, observe, observe_jit
from tracejit.testing.programs import Program, programs

_COUNTER_TOOL = 3  # a sys.monitoring tool id tracejit itself does not use


@dataclass
class FuzzReport:
    """What one fuzzing run exercised, and the reproducer of its failure."""

    backend: str
    programs: int = 0
    iterations: int = 0  # loop back-edges taken by the plain runs
    loops_compiled: int = 0
    bridges_compiled: int = 0
    guard_failures: int = 0  # natural and forced
    forced_failures: int = 0
    callee_resumes: int = 0  # exits resumed inside inlined callees
    aborts: int = 0
    seconds: float = 0.0
    failure: str | None = None  # standalone reproducer script
    failure_summary: list[str] = field(default_factory=list)

    def summary(self) -> str:
        status = "FAILED" if self.failure else "ok"
        return (f"fuzz {self.backend}: {status}: {self.programs} programs, "
                f"{self.iterations} loop iterations, {self.loops_compiled} loops and "
                f"{self.bridges_compiled} bridges compiled, {self.guard_failures} guard "
                f"failures ({self.forced_failures} forced, {self.callee_resumes} inside "
                f"callees), {self.aborts} trace aborts, "
                f"{self.seconds:.1f} s")


def count_iterations(func: Any, args: tuple) -> tuple[dict[str, Any], int]:
    """:func:`observe` a plain run, also counting the back-edges it takes."""
    counter = [0]
    mon = sys.monitoring

    def on_jump(code: Any, src: int, dst: int) -> Any:
        if dst < src:
            counter[0] += 1
        return None

    mon.use_tool_id(_COUNTER_TOOL, "tracejit-fuzz")
    try:
        mon.register_callback(_COUNTER_TOOL, mon.events.JUMP, on_jump)
        mon.set_events(_COUNTER_TOOL, mon.events.JUMP)
        record = observe(func, args)
    finally:
        mon.set_events(_COUNTER_TOOL, 0)
        mon.register_callback(_COUNTER_TOOL, mon.events.JUMP, None)
        mon.free_tool_id(_COUNTER_TOOL)
    return record, counter[0]


def check(program: Program, backend: str, inject_nth: int, report: FuzzReport,
          crash_file: str | None = None) -> None:
    """Run one program two or three ways; raise AssertionError with a
    reproducer on a mismatch.  ``crash_file`` receives each program's script
    before the JIT runs it, so a crash leaves its reproducer behind."""
    expected, iterations = count_iterations(program.function(), program.make_args())
    report.programs += 1
    report.iterations += iterations
    runs: list[dict[str, Any]] = [{}]
    if inject_nth:
        runs.append({"inject_nth": inject_nth})
    for extra in runs:
        if crash_file:
            params = {"threshold": 3, "bridge_threshold": 3, **extra}
            with open(crash_file, "w", encoding="utf-8") as f:
                f.write(program.script(backend, params))
        got = observe_jit(program.function(), program.make_args(), backend, **extra)
        st_ = tracejit.stats()
        report.loops_compiled += st_["loops_compiled"]
        report.bridges_compiled += st_["bridges_compiled"]
        report.guard_failures += st_["guard_failures"]
        report.forced_failures += st_["forced_failures"]
        report.callee_resumes += st_["callee_resumes"]
        report.aborts += sum(st_["aborts"].values())
        diffs = differences(expected, got)
        if diffs:
            params = {"threshold": 3, "bridge_threshold": 3, **extra}
            report.failure = program.script(backend, params)
            report.failure_summary = diffs
            raise AssertionError(f"JIT ({backend}, {extra or 'no injection'}) differs "
                                 f"from CPython:\n" + "\n".join(diffs))


def fuzz(backend: str, examples: int, seed_value: int | None = None,
         inject: bool = True, shrink: bool = True, crash_file: str | None = None
         ) -> FuzzReport:
    """Fuzz ``backend`` with ``examples`` programs; never raises on a mismatch
    (the report carries the minimal reproducer instead)."""
    if backend not in tracejit.available_backends():
        raise ValueError(f"backend {backend!r} is not usable here: "
                         f"{dict((n, r) for n, _, r in tracejit.describe_backends())[backend]}")
    report = FuzzReport(backend)
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]

    @settings(max_examples=examples, deadline=None, database=None, phases=phases,
              suppress_health_check=list(HealthCheck), print_blob=False)
    @given(programs(), st.integers(1, 6))
    def run_one(program: Program, nth: int) -> None:
        check(program, backend, nth if inject else 0, report, crash_file)

    if seed_value is not None:
        run_one = seed(seed_value)(run_one)
    t0 = time.perf_counter()
    try:
        run_one()
    except AssertionError:
        pass  # report.failure holds the last (shrunk) failing program's script
    finally:
        report.seconds = time.perf_counter() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tracejit.fuzz", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="llvm")
    ap.add_argument("--examples", type=int, default=100)
    ap.add_argument("--seed", type=int, default=None, help="default: a random seed")
    ap.add_argument("--no-inject", action="store_true", help="no forced guard failures")
    ap.add_argument("--out", default=".",
                    help="folder for the reproducer script (created if missing)")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    seed_value = args.seed if args.seed is not None else int.from_bytes(os.urandom(4))
    print(f"fuzzing backend {args.backend} with {args.examples} programs, seed {seed_value}")
    crash_file = os.path.join(args.out, "tracejit-fuzz-running.py")
    print(f"(should the process crash, {crash_file} reproduces the program it ran)")
    report = fuzz(args.backend, args.examples, seed_value, inject=not args.no_inject,
                  crash_file=crash_file)
    os.remove(crash_file)
    print(report.summary())
    if report.failure:
        path = os.path.join(args.out, f"tracejit-fuzz-{args.backend}-{seed_value}.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(report.failure)
        print("\n".join(report.failure_summary))
        print(f"\nminimal reproducer (also in {path}):\n\n{report.failure}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
