"""The runtime: loops and their compiled versions, entering compiled code,
handling guard failures, growing bridges.

Everything here runs inside the ``sys.monitoring`` JUMP callback of the frame
whose loop is hot (see :mod:`tracejit.hooks`).
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, inject, writeback
from tracejit.backend import Backend, BackendUnavailable
from tracejit.ir import (
    CONST_NULL,
    Const,
    ExitDescr,
    InputArg,
    Op,
    Trace,
    Value,
    const_int,
    const_ref,
    dump,
)
from tracejit.opt import optimize
from tracejit.params import log, log_enabled, params, stats
from tracejit.registry import get_backend
from tracejit.resume import ResumeData, build_resume, read_buffer, rebuild, release, write_back
from tracejit.tools import watched
from tracejit.tracer import (
    ABSENT,
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_NULL,
    K_REF,
    K_TUPLE,
    NULL_T,
    PAUSE_COUNTER,
    GlobalAssumption,
    InSlot,
    Snapshot,
    TraceAbort,
    Tracer,
    TraceResult,
    TValue,
    const_tvalue,
    long_layout,
)

ENTRY_FAIL = 0
LOOP_ENDED = "loop ended while tracing it"
# Entering and leaving machine code costs about as much as CPython running
# this many IR operations' worth of bytecode (~8 us: one IR op stands for
# roughly 8 ns of interpreter work).  A loop that on average does less work
# per entry (iterations x operations per iteration) is handed back to CPython.
MIN_OPS_PER_ENTRY = 1000


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
    code: types.CodeType
    header: int
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

    @property
    def name(self) -> str:
        return f"{self.code.co_name}@{self.code.co_firstlineno}:{self.header}"


@dataclass(eq=False)
class ExitInfo:
    descr: ExitDescr
    code: types.CodeType
    resume: ResumeData
    loop_name: str
    bridge_attempts: int = 0
    # the exit of a bridge's final `finish`: tracing on from there would only
    # grow a chain of bridges that each stop where the last one did
    bridgeable: bool = True


class Runtime:
    """Process-wide JIT state."""

    def __init__(self) -> None:
        self.loops: dict[tuple[int, int], LoopInfo] = {}
        # number 0: entry mismatch; 1: a write-back stub wrote the frame
        self.exits: list[ExitInfo | None] = [None, None]
        self._slots: list[Any] = []
        self._slot_free = 0
        self._bufs: list[Any] = []
        self._depth = 0
        self._backend: Backend | None = None
        self._backend_name = ""
        self._trace_counter = 0
        self.keepalive: list[Any] = []
        self._worker: Any = None
        self._jobs = 0
        self._switch = 0.005
        self._guards_seen = 0  # guards offered to tracejit.inject so far

    # -- resources -----------------------------------------------------------

    def backend(self) -> Backend:
        name = params["backend"]
        if self._backend is None or self._backend_name != name:
            try:
                self._backend = get_backend(name)
            except BackendUnavailable as e:
                log(f"backend {name} unavailable ({e}); using the reference backend")
                self._backend = get_backend("reference")
            self._backend_name = name
        return self._backend

    def new_slot(self) -> int:
        if not self._slots or self._slot_free >= len(self._slots[-1]):
            self._slots.append((ctypes.c_int64 * 1024)())
            self._slot_free = 0
        arr = self._slots[-1]
        addr = ctypes.addressof(arr) + 8 * self._slot_free
        self._slot_free += 1
        return addr

    def buffer(self) -> int:
        if self._depth >= len(self._bufs):
            self._bufs.append((ctypes.c_int64 * 4096)())
        return ctypes.addressof(self._bufs[self._depth])

    # -- entering compiled code ----------------------------------------------

    def loop_info(self, code: types.CodeType, header: int) -> LoopInfo:
        key = (id(code), header)
        info = self.loops.get(key)
        if info is None or info.code is not code:
            info = LoopInfo(code, header, threshold=params["threshold"])
            self.loops[key] = info
            self.keepalive.append(code)
        return info

    def enter(self, info: LoopInfo, frame: types.FrameType) -> bool:
        """Run a compiled version of ``info`` from ``frame``; False if none fits."""
        buf = self.buffer()
        self._depth += 1
        try:
            fp = id(frame)
            counter = PAUSE_COUNTER.cell
            for version in info.versions:
                t0 = time.perf_counter()
                before = counter.value
                rc = version.entry_trace.compiled.run(fp, buf)
                if rc == ENTRY_FAIL:
                    continue
                spent = time.perf_counter() - t0
                info.iterations += before - counter.value
                stats.entries += 1
                if stats.first_entry is None:
                    stats.first_entry = time.perf_counter()
                if rc == writeback.FRAME_WRITTEN:
                    stats.written_exits += 1
                else:
                    # until the frame is written back, an exception raised by a
                    # signal handler in the code below must finish that first
                    self.unfinished_exit = (frame, rc, buf)
                    self.handle_exit(frame, rc, buf)
                info.entries += 1
                info.compiled_time += spent
                stats.compiled_time += spent
                if info.entries % 64 == 0 and info.iterations * info.ops_per_iteration \
                        < info.entries * MIN_OPS_PER_ENTRY:
                    self.give_up(info)
                return True
        except BaseException:
            self.finish_interrupted_exit()
            raise
        finally:
            self._depth -= 1
        info.entry_misses += 1
        return False

    # -- exits ---------------------------------------------------------------

    def handle_exit(self, frame: types.FrameType, number: int, buf: int) -> None:
        ex = self.exits[number]
        assert ex is not None
        d = ex.descr
        if d.periodic:  # a pause for CPython's pending work, not a failure
            PAUSE_COUNTER.reset()
            self.resume_frame(frame, ex.resume, read_buffer(buf, d.fail_types))
            return
        d.failures += 1
        stats.guard_failures += 1
        if d.injected:
            stats.forced_failures += 1
        stats.failures_per_loop[ex.loop_name] = stats.failures_per_loop.get(ex.loop_name, 0) + 1
        values = read_buffer(buf, d.fail_types)
        # (a tool switched on by another thread meanwhile: no tracing)
        if d.failures >= params["bridge_threshold"] and d.bridge is None \
                and ex.code is frame.f_code and not watched():
            if ex.bridgeable and ex.bridge_attempts < 3:
                ex.bridge_attempts += 1
                self.trace_bridge(frame, ex, values)
                return
            if params["compiled_exits"] and not d.injected and writeback.supported(ex.resume):
                self.compile_writeback(ex)
        self.resume_frame(frame, ex.resume, values)

    def resume_frame(self, frame: types.FrameType, rd: ResumeData, values: list[Any]) -> None:
        """Deoptimize: put the exit's state into the frame and point it at the
        exit's bytecode."""
        locs, stack, owned = rebuild(rd, values)
        write_back(frame, rd.offset, locs, stack, rd.frame_depth)
        self.unfinished_exit = None
        release(owned)

    unfinished_exit: tuple | None = None

    def finish_interrupted_exit(self) -> None:
        """An exception (from a signal handler, typically KeyboardInterrupt)
        interrupted the Python side of an exit: write the frame now, so the
        exception meets the same state as in the interpreter."""
        pending = self.unfinished_exit
        self.unfinished_exit = None
        if pending is None:
            return
        frame, number, buf = pending
        ex = self.exits[number]
        if ex is not None:
            self.resume_frame(frame, ex.resume, read_buffer(buf, ex.descr.fail_types))

    # -- tracing -------------------------------------------------------------

    def find_targets(self, code: types.CodeType, offset: int, _kinds: Any) -> list:
        info = self.loops.get((id(code), offset))
        if info is None or info.code is not code:
            return []
        return list(info.versions)

    def trace_loop(self, info: LoopInfo, frame: types.FrameType) -> None:
        stats.loops_traced += 1
        t0 = time.perf_counter()
        tracer = Tracer(frame, info.code, info.header, "loop", params["trace_limit"],
                        self.find_targets, params["inline_depth"])
        try:
            tracer.start_loop()
            result = tracer.run()
        except TraceAbort as e:
            stats.trace_time += time.perf_counter() - t0
            if e.reason == LOOP_ENDED:
                info.retry_soon = True  # bad timing, not a bad loop: try next time
            else:
                self._abort(info, e.reason)
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
            reason = e.reason if isinstance(e, TraceAbort) else \
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

            def failed(e: BaseException) -> None:
                self._abort(info, f"compile error: {type(e).__name__}: {e}")

            def finally_() -> None:
                info.pending = False

            self.compile_async(traces, install, failed, finally_)
        self._write_tracer_state(frame, tracer)

    def give_up(self, info: LoopInfo) -> None:
        """The loop leaves its machine code so soon after entering it that the
        entries and exits cost more than they save (typically a guard that
        fails nearly every iteration and cannot grow a bridge): run it in
        CPython from now on."""
        info.versions.clear()
        info.blacklisted = True
        stats.blacklisted += 1
        reason = "too little work per entry into compiled code"
        stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
        log(f"giving up {info.name}: {info.entries} entries, "
            f"{info.iterations / max(1, info.entries):.1f} iterations of "
            f"{info.ops_per_iteration} operations and "
            f"{info.compiled_time * 1e6 / max(1, info.entries):.2f} us in compiled code each")

    def _write_tracer_state(self, frame: types.FrameType, tracer: Tracer) -> None:
        if not tracer.started:
            return  # nothing was executed: the frame is untouched
        offset, locs, stack = tracer.concrete_state()
        write_back(frame, offset, locs, stack, tracer.frame_depth)

    def _abort(self, info: LoopInfo, reason: str) -> None:
        stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
        info.aborts += 1
        info.threshold = min(info.threshold * 2, 1 << 20)
        log(f"abort {info.name}: {reason}")
        if info.aborts >= params["max_aborts"] and not info.versions:
            info.blacklisted = True
            stats.blacklisted += 1
            log(f"blacklisted {info.name}")

    def trace_bridge(self, frame: types.FrameType, ex: ExitInfo, values: list[Any]) -> None:
        rd = ex.resume
        locs, stack, owned = rebuild(rd, values)
        inputargs = [InputArg(t) for t in ex.descr.fail_types]
        tv_locals: dict[int, TValue] = {}
        for (idx, slot), obj in zip(rd.locals, locs.values()):
            tv_locals[idx] = _tvalue(slot, obj, inputargs)
        tv_stack = [_tvalue(slot, obj, inputargs) for slot, obj in zip(rd.stack, stack)]
        tracer = Tracer(frame, ex.code, rd.offset, "bridge", params["trace_limit"],
                        self.find_targets, params["inline_depth"])
        tracer.start_bridge(tv_locals, tv_stack, rd.frame_depth, inputargs)
        self.unfinished_exit = None  # from here on the tracer owns the frame's state
        initial = tracer.snapshot()
        t0 = time.perf_counter()
        try:
            result = tracer.run()
        except BaseException as e:
            stats.trace_time += time.perf_counter() - t0
            if is_user_exception(e):
                self._write_tracer_state(frame, tracer)
                release(owned)
                raise
            reason = e.reason if isinstance(e, TraceAbort) else f"internal error: {e!r}"
            stats.aborts["bridge: " + reason] = stats.aborts.get("bridge: " + reason, 0) + 1
            log(f"bridge abort at {ex.loop_name} exit {ex.descr.number}: {reason}")
            self._write_tracer_state(frame, tracer)
            release(owned)
            return
        stats.trace_time += time.perf_counter() - t0
        if all(op.name == "finish" for op in result.trace.ops):
            # it stops where it starts (typically at a loop whose compiled code
            # expects other types): not worth compiling, nor trying again
            reason = "bridge: " + getattr(tracer, "finish_reason", "empty")
            stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
            ex.bridgeable = False
            self._write_tracer_state(frame, tracer)
            release(owned)
            return

        def failed(e: BaseException) -> None:
            reason = e.reason if isinstance(e, TraceAbort) else f"compile error: {e!r}"
            stats.aborts["bridge: " + reason] = stats.aborts.get("bridge: " + reason, 0) + 1
            log(f"bridge compile failed: {reason}")
            ex.descr.bridge = None

        try:
            closure = list(result.assumptions)
            if result.target is not None:
                closure += result.target.closure
            self._prepend_checks(result.trace, closure, initial)
            self.prepare_trace(result.trace, ex.code, f"bridge{ex.descr.number}",
                               ex.loop_name)
        except Exception as e:
            failed(e)
        else:
            ex.descr.bridge = result.trace  # also marks "being compiled"

            def install() -> None:
                ctypes.c_int64.from_address(ex.descr.slot_address).value = \
                    result.trace.compiled.address
                stats.bridges_compiled += 1

            self.compile_async([result.trace], install, failed, None)
        self._write_tracer_state(frame, tracer)
        release(owned)

    def compile_writeback(self, ex: ExitInfo) -> None:
        """Attach a stub to this exit that writes the frame in machine code."""
        stub = writeback.build(ex.resume, ex.descr.fail_types)
        stub.name = f"writeback{ex.descr.number}"
        stub.loop_name = ex.loop_name
        ex.descr.bridge = stub  # never bridged or stubbed again

        def install() -> None:
            ctypes.c_int64.from_address(ex.descr.slot_address).value = stub.compiled.address
            stats.writeback_stubs += 1

        def failed(e: BaseException) -> None:
            reason = f"write-back stub: compile error: {e!r}"
            stats.aborts[reason] = stats.aborts.get(reason, 0) + 1

        self.compile_async([stub], install, failed, None)

    # -- compiling -----------------------------------------------------------

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
        entry = self.make_entry(version)
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

            self.worker().submit(background)
        else:
            job()

    def worker(self) -> Any:
        if self._worker is None:
            from concurrent.futures import ThreadPoolExecutor

            self._worker = ThreadPoolExecutor(max_workers=1,
                                              thread_name_prefix="tracejit-compile")
        return self._worker

    def drain(self) -> None:
        """Wait until every background compilation has finished."""
        if self._worker is not None:
            self._worker.submit(lambda: None).result()

    def make_entry(self, version: LoopVersion) -> Trace:
        """A trace that reads the frame, checks types and assumptions, and
        enters the loop with unboxed values."""
        ops: list[Op] = []
        fail = ExitDescr(number=ENTRY_FAIL, slot_address=0)

        def guard(name: str, args: list[Value]) -> None:
            op = Op(name, args)
            op.exit = fail
            op.fail_args = []
            ops.append(op)

        fp = Op("get_frame")
        ifr = Op("raw_load_i", [fp], cp.FRAMEOBJ_IFRAME)
        ops += [fp, ifr]
        nlocals = cp.nlocalsplus(version.code)
        args: list[Value] = []
        for slot in version.signature:
            pos = slot.index if slot.where == "local" else nlocals + slot.index
            r = Op("raw_load_r", [ifr], cp.IFRAME_LOCALSPLUS + 8 * pos)
            ops.append(r)
            if slot.kind == K_NULL:
                is_null = Op("ptr_eq", [r, CONST_NULL])
                ops.append(is_null)
                guard("guard_true", [is_null])
                continue
            guard("guard_nonnull", [r])
            guard("guard_class", [r, const_int(id(slot.pytype))])
            if slot.kind == K_INT:
                u = Op("unbox_int", [r], long_layout())
                u.exit = fail
                u.fail_args = []
                ops.append(u)
                args.append(u)
            elif slot.kind == K_FLOAT:
                u = Op("getfield_f", [r], cp.FLOAT_VALUE)
                ops.append(u)
                args.append(u)
            elif slot.kind == K_BOOL:
                u = Op("ptr_eq", [r, const_ref(True)])
                ops.append(u)
                args.append(u)
            else:
                args.append(r)
        self._assumption_ops(version.closure, ops, guard)
        ops.append(Op("jump", args, descr=version.trace))
        return Trace([], ops, name="entry")

    def _assumption_ops(self, closure: list[GlobalAssumption], ops: list[Op], guard: Any
                        ) -> None:
        for a in closure:
            v = Op("call_i", [const_ref(a.namespace), const_ref(a.key)], helpers.dict_lookup())
            ops.append(v)
            expected = 0 if a.value is ABSENT else id(a.value)
            guard("guard_value_i", [v, const_int(expected)])

    def _prepend_checks(self, trace: Trace, closure: list[GlobalAssumption],
                        initial: Snapshot) -> None:
        ops: list[Op] = []

        def guard(name: str, args: list[Value]) -> None:
            op = Op(name, args)
            op.exit = ExitDescr()
            op.snapshot = initial
            ops.append(op)

        self._assumption_ops(closure, ops, guard)
        trace.ops[:0] = ops

    def prepare_trace(self, trace: Trace, code: types.CodeType, name: str, loop_name: str
                      ) -> None:
        """Optimize ``trace`` and give every guard its exit and resume data."""
        trace.name = name
        if log_enabled():
            log(f"trace {name} ({loop_name}) before optimization:\n{dump(trace)}")

        def snapshot_values() -> list[Value]:
            out: list[Value] = []
            for op in trace.ops:
                if op.snapshot is not None:
                    for tv in list(op.snapshot.locals.values()) + op.snapshot.stack:
                        _collect(tv, out)
            return out

        resolve = optimize(trace, snapshot_values, trace.header_snapshot)
        for op in trace.ops:
            if op.is_guard() and op.snapshot is not None:
                rd, fail_args = build_resume(code, op.snapshot, resolve)
                d = op.exit if op.exit is not None else ExitDescr()
                d.number = len(self.exits)
                d.slot_address = self.new_slot()
                d.resume = rd
                d.fail_types = "".join(v.type for v in fail_args)
                op.exit = d
                op.fail_args = fail_args
                self.exits.append(ExitInfo(d, code, rd, loop_name,
                                           bridgeable=op.name != "finish"))
                op.snapshot = None
        if params["inject_nth"]:
            def shadow(d: ExitDescr) -> ExitDescr:
                forced = ExitDescr(number=len(self.exits), slot_address=self.new_slot(),
                                   resume=d.resume, fail_types=d.fail_types, injected=True)
                self.exits.append(ExitInfo(forced, code, d.resume, loop_name))
                return forced

            self._guards_seen += inject.instrument(trace, shadow, self._guards_seen)
        stats.guards_compiled += sum(
            1 for op in trace.ops if op.exit is not None and op.exit.resume is not None
            and not op.exit.injected and op.name != "finish")
        trace.check()
        trace.loop_name = loop_name

    def backend_compile(self, traces: list[Trace]) -> None:
        """Compile traces; later ones may jump to earlier ones.  Backends with
        ``compile_many`` get them in one batch."""
        backend = self.backend()
        t0 = time.perf_counter()
        many = getattr(backend, "compile_many", None)
        if many is not None:
            for trace, compiled in zip(traces, many(traces)):
                trace.compiled = compiled
        else:
            for trace in traces:
                trace.compiled = backend.compile(trace)
        dt = time.perf_counter() - t0
        stats.compile_time += dt
        stats.compile_times.append(dt)
        self.keepalive.extend(traces)
        if log_enabled():
            for trace in traces:
                log(f"trace {trace.name} ({trace.loop_name}) after optimization "
                    f"({len(trace.ops)} ops; batch of {len(traces)} compiled in "
                    f"{dt * 1000:.2f} ms by {backend.name}):\n{dump(trace)}")


_OWN_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (cp, ))


def is_user_exception(e: BaseException) -> bool:
    """True for exceptions the program raised into the JIT's own code (a
    signal handler's KeyboardInterrupt...), False for JIT bugs.  The first
    must reach the program; the second only abort a trace."""
    if not isinstance(e, Exception):
        return True  # KeyboardInterrupt, SystemExit
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    own = _OWN_DIRS + tuple(
        os.path.dirname(m.__file__) + os.sep for name, m in list(sys.modules.items())
        if name.startswith("tracejit_") and getattr(m, "__file__", None))
    return not filename.startswith(own + (_STDLIB,))


_STDLIB = os.path.dirname(os.__file__) + os.sep


def _collect(tv: TValue, out: list[Value]) -> None:
    if tv.items is not None:
        for i in tv.items:
            _collect(i, out)
    elif tv.box is not None and not isinstance(tv.box, Const):
        out.append(tv.box)


def _tvalue(slot: tuple, obj: Any, inputargs: list[InputArg]) -> TValue:
    tag = slot[0]
    if tag == "arg":
        _, k, kind, owned, frame_slot = slot
        tv = TValue(kind, inputargs[k], obj, owned=owned)
        tv.frame_slot = frame_slot
        return tv
    if tag == "const":
        return const_tvalue(obj)
    if tag == "tuple":
        return TValue(K_TUPLE, None, obj,
                      [_tvalue(s, o, inputargs) for s, o in zip(slot[1], obj)])
    if tag == "range":
        parts = [obj.start, obj.stop, obj.step]
        return TValue(K_REF, None, obj, items=[_tvalue(s, o, inputargs)
                                               for s, o in zip(slot[1], parts)])
    return NULL_T


runtime = Runtime()
