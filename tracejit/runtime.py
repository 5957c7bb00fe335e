"""The runtime: loops and their compiled versions, entering compiled code,
handling guard failures, growing bridges.

Everything here runs inside the ``sys.monitoring`` JUMP callback of the frame
whose loop is hot (see :mod:`tracejit.hooks`).
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from typing import Any

from tracejit import cpython as cp
from tracejit import gcclock, inject, lifetime, tiers, writeback
from tracejit.aborts import Abort, TraceAbort
from tracejit.backend import Backend
from tracejit.entry import ENTRY_FAIL, make_entry
from tracejit.exits import HEADROOM, ExitHandling, is_user_exception
from tracejit.ir import ExitDescr, Op, Trace, Value, dump
from tracejit.loopkey import LoopKey
from tracejit.opt import optimize
from tracejit.opt.effects import may_change_classes
from tracejit.params import log, log_enabled, params, stats
from tracejit.pause import PAUSE_COUNTER
from tracejit.resume import (
    ResumeData,
    build_resume,
    write_back,
)
from tracejit.tracer import Tracer, TraceResult
from tracejit.untracked import untrack
from tracejit.values import GlobalAssumption, InSlot

# Entering and leaving machine code costs about as much as CPython running
# this many IR operations' worth of bytecode (~8 us: one IR op stands for
# roughly 8 ns of interpreter work).  A loop that on average does less work
# per entry (iterations x operations per iteration) is handed back to CPython.
MIN_OPS_PER_ENTRY = 1000
# traces of one loop that may end with the loop (the loop ran out while it was
# being traced) and be tried again at once; after that they back off as aborts
LOOP_ENDED_RETRIES = 4
# the JIT's frames between a loop's frame and its compiled code (the JUMP
# callback, its slow path, Runtime.enter)
ENTRY_FRAMES = 3
# made once: ctypes may make an array type anew whenever one is asked for
_SLOT_ARRAY = ctypes.c_int64 * 1024
_EXIT_BUFFER = ctypes.c_int64 * 4096


@dataclass(eq=False)
class LoopVersion:
    """One compiled trace starting at a loop header, for one set of types."""

    trace: Trace
    signature: list[InSlot]
    closure: list[GlobalAssumption]  # assumptions checked when entering it
    name: str = ""
    code: Any = None
    entry_trace: Any = None  # frame -> typed inputs -> jump into the loop
    slow_exits: int = 0


@dataclass(eq=False)
class LoopInfo:
    key: LoopKey
    counter: int = 0
    threshold: int = 0
    versions: list[LoopVersion] = field(default_factory=list)
    aborts: int = 0
    blacklisted: bool = False
    entry_misses: int = 0
    retry_soon: bool = False
    pending: bool = False  # a version is being compiled in the background
    entries: int = 0
    compiled_time: float = 0.0
    iterations: int = 0  # loop iterations run in machine code, over all entries
    ops_per_iteration: int = 0  # of its first compiled version
    # tiers (see tracejit.tiers): the tier its code is in, the compiled_time at
    # which to promote it; the interpreter's seconds per iteration (sampled,
    # 0: unknown), the sample under way, and seconds spent in exits
    tier: int = 0
    tier_up_at: float = tiers.NEVER
    interp_time: float = 0.0
    sample: tuple | None = None
    sample_tries: int = 0
    exit_time: float = 0.0
    record: Any = None  # the lifetime.CodeRecord of its code, which owns it
    loops_ended: int = 0  # traces that ended because the loop did (Abort.LOOP_ENDED)
    # a loop of an interpreted program: get_printable_location of its greens
    guest: str = ""

    @property
    def code(self) -> types.CodeType:
        return self.key.code

    @property
    def header(self) -> int:
        return self.key.offset

    @property
    def name(self) -> str:
        where = f"{self.code.co_name}@{self.code.co_firstlineno}:{self.header}"
        return f"{where} [{self.guest}]" if self.guest else where


@dataclass(eq=False)
class ExitInfo:
    """What the runtime knows of one exit (the backend sees only ``descr``)."""

    descr: ExitDescr
    code: types.CodeType
    resume: ResumeData
    loop_name: str
    bridge_attempts: int = 0
    # the exit of a bridge's final `finish`: tracing on from there would only
    # grow a chain of bridges that each stop where the last one did
    bridgeable: bool = True
    failures: int = 0
    bridge: Trace | None = None  # a bridge or write-back stub (also while compiling)
    injected: bool = False  # a failure forced by tracejit.inject (debug mode)

    @property
    def periodic(self) -> bool:
        """The loop's regular pause for CPython: never bridged."""
        return self.resume.periodic


class ThreadState(threading.local):
    """What each thread has of its own: a thread switch can happen at any
    bytecode of the JIT's Python code, and another thread may then enter
    compiled code (or leave it) meanwhile."""

    def __init__(self) -> None:
        self.busy = False  # inside the JIT's slow path: never re-enter it
        self.compiler = False  # the compiler thread: its loops (LLVM's) are never traced
        self.depth = 0  # compiled code entered and not left
        self.bufs: list[Any] = []  # an exit buffer per depth
        self.tracing = cp.tracing_flag()  # (threading.local: made in each thread)
        # an exit whose frame is not written back yet (see enter)
        self.unfinished_exit: tuple | None = None


class Runtime(ExitHandling):
    """Process-wide JIT state."""

    def __init__(self) -> None:
        self.loops: dict[LoopKey, LoopInfo] = {}
        self._by_counter: dict[int, LoopInfo] = {}
        # number 0: entry mismatch; 1: a write-back stub wrote the frame
        self.exits: list[ExitInfo | None] = [None, None]
        self._slots: list[Any] = []
        self._slot_free = 0
        # exit numbers and bridge slots of freed code, for reuse (lifetime.py)
        self._free_exits: list[int] = []
        self._free_slots: list[int] = []
        self.threads = ThreadState()
        # one thread at a time traces and compiles; others run on in CPython
        self.trace_lock = threading.Lock()
        self._trace_counter = 0
        self._worker: Any = None
        self._jobs = 0
        self._switch = 0.005
        self._guards_seen = 0  # guards offered to tracejit.inject so far
        self.calls_out = False  # some compiled trace makes residual calls

    # -- resources -----------------------------------------------------------

    def backend(self) -> Backend:
        """The first tier's backend: the one every trace is compiled by."""
        return tiers.chain()[0].backend

    @property
    def keepalive(self) -> list[Trace]:
        """Every trace of code the JIT still has (see tracejit.lifetime)."""
        return [t for rec in lifetime.live_records() for t in rec.traces]

    def new_exit_number(self) -> int:
        if self._free_exits:
            return self._free_exits.pop()
        self.exits.append(None)
        return len(self.exits) - 1

    def free_exit(self, number: int, slot: int) -> None:
        """Exit ``number`` and its bridge slot are unused (their machine code
        is gone): reuse them."""
        ctypes.c_int64.from_address(slot).value = 0
        self._free_exits.append(number)
        self._free_slots.append(slot)

    def new_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        if not self._slots or self._slot_free >= len(self._slots[-1]):
            self._slots.append(_SLOT_ARRAY())
            self._slot_free = 0
        arr = self._slots[-1]
        addr = ctypes.addressof(arr) + 8 * self._slot_free
        self._slot_free += 1
        return addr

    def buffer(self) -> int:
        ts = self.threads
        if ts.depth >= len(ts.bufs):
            ts.bufs.append(_EXIT_BUFFER())
        return ctypes.addressof(ts.bufs[ts.depth])

    # -- entering compiled code ----------------------------------------------

    def loop_info(self, key: LoopKey) -> LoopInfo:
        info = self.loops.get(key)
        if info is None:
            info = LoopInfo(key, threshold=params["threshold"])
            self.loops[key] = info
            lifetime.adopt_loop(info)
            untrack(self.loops)  # a root table (see tracejit.untracked)
        return info

    def loop_at(self, code: types.CodeType, offset: int, counter_id: int) -> LoopInfo:
        """The loop at header ``offset`` of ``code``, found by the hooks'
        counter id (no key is built on this path, which every entry takes)."""
        info = self._by_counter.get(counter_id)
        if info is None or info.key.code is not code:
            info = self._by_counter[counter_id] = self.loop_info(LoopKey(code, offset))
            untrack(self._by_counter)
        return info

    def enter(self, info: LoopInfo, frame: types.FrameType) -> bool:
        """Run a compiled version of ``info`` from ``frame``; False if none fits."""
        rec = info.record
        rec.active.append(None)  # first, then look (see lifetime.py)
        if rec.detached:
            rec.active.pop()
            return False
        # room above the recursion limit for the JIT's own frames: a program
        # running near its limit must not lose the work done in machine code
        # to a RecursionError of the exit path (C calls: they take no frame)
        limit = sys.getrecursionlimit()
        # the code compiled code calls sees the program's limit, as counted
        # from the loop's frame (the JIT's own frames in between do not count)
        sys.setrecursionlimit(limit + (ENTRY_FRAMES if self.calls_out else HEADROOM))
        buf = self.buffer()
        ts = self.threads
        ts.depth += 1
        lifetime.running.append(None)  # no machine code is freed meanwhile
        try:
            fp = id(frame)
            counter = PAUSE_COUNTER.cell
            for version in info.versions:
                t0 = time.perf_counter()
                before = counter.value
                if self.calls_out:
                    # the code it calls runs as if called from the loop's
                    # frame: with events (compiled loops of its own), and
                    # outside the JIT's slow path
                    tracing = ts.tracing
                    saved, tracing.value = tracing.value, 0
                    ts.busy = False
                    try:
                        rc = version.entry_trace.compiled.run(fp, buf)
                    finally:
                        ts.busy = True
                        tracing.value = saved
                else:
                    rc = version.entry_trace.compiled.run(fp, buf)
                if rc == ENTRY_FAIL:
                    continue
                t1 = time.perf_counter()
                spent = t1 - t0
                if self.calls_out:
                    sys.setrecursionlimit(limit + HEADROOM)
                info.iterations += before - counter.value
                stats.entries += 1
                if stats.first_entry is None:
                    stats.first_entry = time.perf_counter()
                if rc == writeback.FRAME_WRITTEN:
                    stats.written_exits += 1
                else:
                    # until the frame is written back, an exception raised by a
                    # signal handler in the code below must finish that first
                    ts.unfinished_exit = (frame, rc, buf)
                    busy = stats.trace_time + stats.compile_time
                    self.handle_exit(frame, rc, buf)
                    # the exit's cost, without the tracing and compiling it did
                    info.exit_time += time.perf_counter() - t1 - \
                        (stats.trace_time + stats.compile_time - busy)
                info.entries += 1
                info.compiled_time += spent
                stats.compiled_time += spent
                if info.compiled_time >= info.tier_up_at:
                    tiers.promote(self, info)
                if info.entries % 64 == 0:
                    if info.iterations * info.ops_per_iteration \
                            < info.entries * MIN_OPS_PER_ENTRY:
                        self.give_up(info)
                    elif tiers.slower_compiled(info):
                        self.give_up(info, tiers.GIVE_BACK)
                return True
        except BaseException:
            self.finish_interrupted_exit()
            raise
        finally:
            ts.depth -= 1
            lifetime.running.pop()
            rec.active.pop()
            lifetime.free_retired()
            self.give_back_limit(limit, frame)
        info.entry_misses += 1
        return False

    # -- tracing -------------------------------------------------------------

    def find_targets(self, key: LoopKey) -> list:
        info = self.loops.get(key)
        return [] if info is None else list(info.versions)

    @gcclock.jit_work
    def trace_loop(self, info: LoopInfo, frame: types.FrameType) -> None:
        # the tracer runs the program: its state must reach the frame even at
        # the program's recursion limit (as in enter)
        if lifetime.sweeping():  # a collection is letting go of JIT state
            return
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(limit + HEADROOM)
        try:
            lifetime.adopt_function(info.record, frame)
            self._trace_loop(info, frame)
        finally:
            self.give_back_limit(limit, frame)

    def _trace_loop(self, info: LoopInfo, frame: types.FrameType) -> None:
        if cp.yields_every_iteration(info.code, info.header):
            # never traced: the tracer would run each try up to the yield
            # (and so disturb the program's allocations) only to give up
            info.aborts = params["max_aborts"] - 1
            self._abort(info, "the loop yields on every iteration")
            return
        stats.loops_traced += 1
        t0 = time.perf_counter()
        tracer = Tracer(frame, info.key, "loop", params["trace_limit"],
                        self.find_targets, params["inline_depth"])
        tracer.program_limit = sys.getrecursionlimit() - HEADROOM  # see trace_loop
        try:
            tracer.start_loop()
            result = tracer.run()
        except TraceAbort as e:
            stats.trace_time += time.perf_counter() - t0
            info.loops_ended += e.reason is Abort.LOOP_ENDED
            if e.reason is Abort.LOOP_ENDED and info.loops_ended <= LOOP_ENDED_RETRIES:
                info.retry_soon = True  # bad timing, not a bad loop: try next time
            else:  # (a loop that always ends while traced backs off like an abort)
                self._abort(info, e.message)
            self._write_tracer_state(frame, tracer)
            return
        except BaseException as e:  # a tracer bug must not break the program
            stats.trace_time += time.perf_counter() - t0
            self._write_tracer_state(frame, tracer)
            if is_user_exception(e):
                raise
            self._abort(info, f"internal error: {type(e).__name__}: {e}")
            return
        stats.trace_time += time.perf_counter() - t0
        try:
            version, traces = self.prepare_header_trace(info, result)
        except Exception as e:
            reason = e.message if isinstance(e, TraceAbort) else \
                f"compile error: {type(e).__name__}: {e}"
            self._abort(info, reason)
        else:
            info.pending = True

            def install() -> None:
                if not info.versions:
                    ops = version.trace.ops
                    labels = [k for k, op in enumerate(ops) if op.name == "label"]
                    info.ops_per_iteration = len(ops) - (labels[0] if labels else 0)
                info.versions.append(version)
                info.aborts = 0
                stats.loops_compiled += 1
                if len(info.versions) == 1:
                    tiers.first_check(info)

            def failed(e: BaseException) -> None:
                self._abort(info, f"compile error: {type(e).__name__}: {e}")

            def finally_() -> None:
                info.pending = False

            self.compile_async(traces, install, failed, finally_)
        self._write_tracer_state(frame, tracer)

    def give_up(self, info: LoopInfo,
                reason: str = "too little work per entry into compiled code") -> None:
        """The loop leaves its machine code so soon after entering it that the
        entries and exits cost more than they save (typically a guard that
        fails nearly every iteration and cannot grow a bridge), or its
        compiled code is slower than the interpreter (``tiers.GIVE_BACK``):
        run it in CPython from now on."""
        info.versions.clear()
        info.blacklisted = True
        stats.blacklisted += 1
        stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
        kind = "give_up"
        if reason == tiers.GIVE_BACK:
            kind = "give_back"
            stats.given_back[info.name] = tiers.describe_loss(info)
        log(f"giving up {info.name} ({reason}): {info.entries} entries, "
            f"{info.iterations / max(1, info.entries):.1f} iterations of "
            f"{info.ops_per_iteration} operations and "
            f"{info.compiled_time * 1e6 / max(1, info.entries):.2f} us in compiled code each",
            kind=kind, loop=info.name, reason=reason, code=info.code, offset=info.header,
            entries=info.entries, iterations=info.iterations, compiled_time=info.compiled_time,
            exit_time=info.exit_time, interp_time=info.interp_time)

    pending_limit = 0  # the program's recursion limit, to give back (see enter)

    def give_back_limit(self, limit: int, frame: types.FrameType) -> None:
        """The program's recursion limit again, after HEADROOM (still in
        force while this runs); if the depth is above it, when ``frame``
        returns."""
        try:
            sys.setrecursionlimit(limit)
        except RecursionError:
            self.defer_limit(limit, frame.f_code)

    def defer_limit(self, limit: int, code: types.CodeType) -> None:
        """CPython refuses a recursion limit below the current depth: give the
        program its limit back when the frame of ``code`` returns (a one-shot
        PY_RETURN event, see hooks._on_return), or at the next slow path."""
        self.pending_limit = limit
        mon = sys.monitoring
        tool = mon.OPTIMIZER_ID
        mon.set_local_events(tool, code, mon.get_local_events(tool, code) | mon.events.PY_RETURN)

    def restore_limit(self) -> bool:
        """Give back a deferred recursion limit if the depth allows it now."""
        try:
            sys.setrecursionlimit(self.pending_limit)
        except RecursionError:
            return False
        self.pending_limit = 0
        return True

    def _write_tracer_state(self, frame: types.FrameType, tracer: Tracer) -> None:
        """The tracer ran the program for real: CPython continues from its state."""
        if not tracer.started:
            return  # nothing was executed: the frame is untouched
        (_, offset, locs, stack, depth), *callees = tracer.concrete_frames()
        write_back(frame, offset, locs, stack, depth)
        if callees:
            self.resume_callees(frame, frame.f_code, offset,
                                [(c, o, loc, st) for c, o, loc, st, _ in callees])

    def _abort(self, info: LoopInfo, reason: str) -> None:
        stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
        info.aborts += 1
        info.threshold = min(info.threshold * 2, 1 << 20)
        log(f"abort {info.name}: {reason}", kind="abort", loop=info.name, reason=reason,
            code=info.code, offset=info.header)
        if info.aborts >= params["max_aborts"] and not info.versions:
            info.blacklisted = True
            stats.blacklisted += 1
            log(f"blacklisted {info.name}", kind="blacklist", loop=info.name, code=info.code,
                offset=info.header)

    def prepare_header_trace(self, info: LoopInfo, result: TraceResult
                             ) -> tuple[LoopVersion, list[Trace]]:
        """Optimize a loop (or header) trace and build its entry trace."""
        closure = list(result.assumptions)
        if result.target is not None:
            closure += result.target.closure
        self._trace_counter += 1
        name = f"loop{self._trace_counter}"
        trace = result.trace
        self.prepare_trace(trace, info.code, name, info.name)
        version = LoopVersion(trace, result.signature, closure, name=name, code=info.code)
        entry = make_entry(info.code, version.signature, closure, trace, result.greens)
        self.prepare_trace(entry, info.code, name + "_entry", info.name)
        version.entry_trace = entry
        return version, [trace, entry]

    def compile_async(self, traces: list[Trace], install: Any, failed: Any,
                      finally_: Any) -> None:
        """Compile on the background thread when the backend makes machine code
        (LLVM releases the GIL, so CPython keeps running the program meanwhile);
        ``install`` runs once the code exists.  Interpreting backends and
        ``set_param(background_compile=0)`` compile right here."""
        def job() -> None:
            try:
                self.backend_compile(traces)
            except Exception as e:  # reported as an abort, never raised
                failed(e)
            else:
                install()
            finally:
                if finally_ is not None:
                    finally_()

        backend = self.backend()
        if params["background_compile"] and getattr(backend, "releases_gil", False):
            self._jobs += 1
            if self._jobs == 1:
                # the compiler thread needs the GIL back after every LLVM call:
                # hand it over more often while it works
                self._switch = sys.getswitchinterval()
                sys.setswitchinterval(0.0002)

            def background() -> None:
                try:
                    job()
                finally:
                    self._jobs -= 1
                    if self._jobs == 0:
                        sys.setswitchinterval(self._switch)

            self.on_compiler(background)
        else:
            job()

    def worker(self) -> Any:
        if self._worker is None:
            from concurrent.futures import ThreadPoolExecutor

            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="tracejit-compile")
        return self._worker

    def on_compiler(self, fn: Any) -> Any:
        """Run ``fn`` on the compiler thread, whose own loops are never traced."""
        def run() -> None:
            ts = self.threads  # (a new one after tracejit.reset)
            ts.busy = ts.compiler = True
            fn()

        return self.worker().submit(run)

    def drain(self) -> None:
        """Wait until every background compilation has finished."""
        if self._worker is not None:
            self._worker.submit(lambda: None).result()

    def prepare_trace(self, trace: Trace, code: types.CodeType, name: str, loop_name: str
                      ) -> None:
        """Optimize ``trace`` and give every guard its exit and resume data."""
        trace.name = name
        if log_enabled():
            log(f"trace {name} ({loop_name}) before optimization:\n{dump(trace)}",
                kind="trace", stage="traced", trace=trace, name=name, loop=loop_name, code=code)

        def snapshot_values() -> list[Value]:
            return [v for op in trace.ops if op.snapshot is not None
                    for v in op.snapshot.values()]

        resolve = optimize(trace, snapshot_values, trace.header_snapshot)
        for op in trace.ops:
            if op.is_guard() and op.snapshot is not None:
                rd, fail_args = build_resume(op.snapshot, resolve)
                d = op.exit if op.exit is not None else ExitDescr()
                d.number = self.new_exit_number()
                d.slot_address = self.new_slot()
                lifetime.adopt_exit(code, d.number, d.slot_address)
                d.fail_types = "".join(v.type for v in fail_args)
                op.exit = d
                op.fail_args = fail_args
                # an exit inside inlined calls resumes in real callee frames:
                # no bridge (it would have to start inside the callees; tried,
                # raytracer's branches inside its methods then grew 37 bridges
                # that cost 20 times what they saved)
                self.exits[d.number] = ExitInfo(d, code, rd, loop_name,
                                                bridgeable=op.name != "finish"
                                                and not rd.raising and len(rd.frames) == 1)
                op.snapshot = None
        if params["inject_nth"]:
            def shadowable(d: ExitDescr) -> bool:
                # (an exception exit needs the exception: it cannot be forced)
                ex = self.exit_info(d)
                return ex is not None and not ex.periodic and not ex.resume.raising

            def shadow(d: ExitDescr) -> ExitDescr:
                original = self.exits[d.number]
                forced = ExitDescr(number=self.new_exit_number(),
                                   slot_address=self.new_slot(), fail_types=d.fail_types)
                lifetime.adopt_exit(code, forced.number, forced.slot_address)
                self.exits[forced.number] = ExitInfo(forced, code, original.resume, loop_name,
                                                     injected=True)
                return forced

            self._guards_seen += inject.instrument(trace, shadowable, shadow,
                                                   self._guards_seen)
        stats.guards_compiled += sum(
            1 for op in trace.ops if op.exit is not None and op.name != "finish"
            and (ex := self.exit_info(op.exit)) is not None and not ex.injected)
        trace.check()
        trace.loop_name = loop_name
        lifetime.adopt_trace(code, trace)

    def exit_info(self, d: ExitDescr) -> ExitInfo | None:
        """The runtime's record of exit ``d`` (None for entry-trace exits and
        exits of traces the runtime did not prepare)."""
        if 1 < d.number < len(self.exits):
            ex = self.exits[d.number]
            if ex is not None and ex.descr is d:
                return ex
        return None

    def annotate(self, op: Op) -> str:
        ex = self.exit_info(op.exit) if op.exit is not None else None
        return repr(ex.resume) if ex is not None else ""

    def backend_compile(self, traces: list[Trace], tier: tiers.Tier | None = None) -> None:
        """Compile traces with ``tier`` (default: the first); later ones may
        jump to earlier ones.  Backends with ``compile_many`` get them in one
        batch."""
        if tier is None:
            tier = tiers.chain()[0]
        backend = tier.backend
        if not self.calls_out and any(may_change_classes(op) for trace in traces
                                      for op in trace.ops):
            self.calls_out = True  # from now on, see enter
        t0 = time.perf_counter()
        many = getattr(backend, "compile_many", None)
        if many is not None:
            for trace, compiled in zip(traces, many(traces)):
                trace.compiled = compiled
        else:
            for trace in traces:
                trace.compiled = backend.compile(trace)
        dt = time.perf_counter() - t0
        for trace in traces:
            trace.tier = tier.index
        stats.tier_compile_times.setdefault(tier.label, []).append(dt)
        if tier.index == 0:  # later tiers: on the compiler thread, in tier_compile_times
            stats.compile_time += dt
            stats.compile_times.append(dt)
        if log_enabled():
            for trace in traces:
                log(f"trace {trace.name} ({trace.loop_name}) after optimization "
                    f"({len(trace.ops)} ops; batch of {len(traces)} compiled in "
                    f"{dt * 1000:.2f} ms by {backend.name}):\n"
                    f"{dump(trace, self.annotate)}",
                    kind="trace", stage="optimized", trace=trace, name=trace.name,
                    loop=trace.loop_name, seconds=dt, backend=backend.name, batch=len(traces))


runtime = Runtime()
