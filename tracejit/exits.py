"""Leaving compiled code: guard failures, deoptimization (writing the
frame, resuming inside inlined callees), growing bridges and write-back
stubs from exits that fail often.

:class:`ExitHandling` is a part of :class:`tracejit.runtime.Runtime`, kept
apart to keep each file one subject; it uses the runtime's exit table,
trace lock, thread state and compile queue.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
import types
from typing import TYPE_CHECKING, Any

from tracejit import cpython as cp
from tracejit import gcclock, lifetime, reentry, writeback
from tracejit.aborts import TraceAbort
from tracejit.entry import prepend_checks
from tracejit.hints import JitHintError
from tracejit.ir import InputArg
from tracejit.loopkey import LoopKey
from tracejit.params import log, params, stats
from tracejit.pause import PAUSE_COUNTER
from tracejit.resume import (
    ResumeData,
    bridge_releases,
    bridge_state,
    read_buffer,
    rebuild,
    rebuild_callees,
    release,
    write_back,
)
from tracejit.tools import watched
from tracejit.tracer import Tracer
from tracejit.values import K_REF

if TYPE_CHECKING:
    from tracejit.runtime import ExitInfo

# frames the JIT may use above the program's recursion limit while it puts a
# frame back (see Runtime.restore_limit)
HEADROOM = 200


class ExitHandling:
    """The runtime's methods for exits (see the module docstring)."""

    def handle_exit(self, frame: types.FrameType, number: int, buf: int) -> None:
        ex = self.exits[number]
        assert ex is not None
        d = ex.descr
        if ex.periodic:  # a pause for CPython's pending work, not a failure
            PAUSE_COUNTER.reset()
            self.resume_frame(frame, ex.resume, read_buffer(buf, d.fail_types))
            return
        ex.failures += 1
        stats.guard_failures += 1
        if ex.injected:
            stats.forced_failures += 1
        stats.failures_per_loop[ex.loop_name] = stats.failures_per_loop.get(ex.loop_name, 0) + 1
        values = read_buffer(buf, d.fail_types)
        # (a tool switched on by another thread meanwhile: no tracing)
        if ex.failures >= params["bridge_threshold"] and ex.bridge is None \
                and ex.code is frame.f_code and not watched():
            if self.trace_lock.acquire(blocking=False):  # another thread may be tracing
                try:
                    if ex.bridgeable and ex.bridge_attempts < 3:
                        ex.bridge_attempts += 1
                        self.trace_bridge(frame, ex, values)
                        return
                    if params["compiled_exits"] and not ex.injected and \
                            writeback.supported(ex.resume):
                        self.compile_writeback(ex)
                finally:
                    self.trace_lock.release()
        self.resume_frame(frame, ex.resume, values)

    def resume_frame(self, frame: types.FrameType, rd: ResumeData, values: list[Any]) -> None:
        """Deoptimize: put the exit's state into the frame and point it at the
        exit's bytecode."""
        memo: dict = {}
        locs, stack, owned = rebuild(rd, values, memo)
        callees = rebuild_callees(rd, values, owned, memo)
        write_back(frame, rd.offset, locs, stack, rd.frame_depth)
        if callees:
            self.resume_callees(frame, rd.code, rd.offset, callees)
        self.threads.unfinished_exit = None
        release(owned)

    @staticmethod
    def resume_callees(frame: types.FrameType, code: types.CodeType, offset: int,
                       callees: list[tuple[types.CodeType, int, dict[int, Any], list[Any]]]
                       ) -> None:
        """``frame`` was written at the call at ``offset``: make the frames it
        had inlined continue inside the callees, innermost last."""
        stats.callee_resumes += 1
        pending: list[reentry.PendingFrame] = []
        parent_code, parent_offset = code, offset
        for callee_code, callee_offset, locs, stack in callees:
            pending.append(reentry.PendingFrame(
                callee_code, callee_offset, locs, stack, frame,
                *reentry.call_instruction(parent_code, parent_offset)))
            parent_code, parent_offset = callee_code, callee_offset
        for outer, inner in zip(pending, pending[1:]):
            outer.then.append(inner)
        reentry.schedule(pending[0])

    def finish_interrupted_exit(self) -> None:
        """An exception (from a signal handler, typically KeyboardInterrupt)
        interrupted the Python side of an exit: write the frame now, so the
        exception meets the same state as in the interpreter."""
        pending = self.threads.unfinished_exit
        self.threads.unfinished_exit = None
        if pending is None:
            return
        frame, number, buf = pending
        ex = self.exits[number]
        if ex is not None:
            self.resume_frame(frame, ex.resume, read_buffer(buf, ex.descr.fail_types))

    @gcclock.jit_work
    def trace_bridge(self, frame: types.FrameType, ex: ExitInfo, values: list[Any]) -> None:
        rd = ex.resume
        locs, stack, owned = rebuild(rd, values)
        inputargs = [InputArg(t) for t in ex.descr.fail_types]
        tv_locals, tv_stack = bridge_state(rd, locs, stack, inputargs)
        tracer = Tracer(frame, LoopKey(ex.code, rd.offset), "bridge", params["trace_limit"],
                        self.find_targets, params["inline_depth"])
        tracer.program_limit = sys.getrecursionlimit() - HEADROOM  # as in enter
        tracer.start_bridge(tv_locals, tv_stack, rd.frame_depth, inputargs,
                            bridge_releases(rd, inputargs))
        self.threads.unfinished_exit = None  # from here on the tracer owns the frame's state
        # numbers the exit kept as the very objects they were (values.TValue.frozen)
        # are numbers again in the bridge, which still stores those objects
        for k, tv in enumerate(tracer.stack):
            if tv.kind == K_REF and not tv.owned and type(tv.py) in (int, float) \
                    and tv.box is not None and not tv.box.is_const() and k != rd.unguarded \
                    and (type(tv.py) is float or -2**63 <= tv.py < 2**63):
                tracer.stack[k] = tracer.unbox(tv.box, tv.py)
        initial = tracer.snapshot()
        tracer.release_pending()
        if rd.unguarded >= 0:  # a call's result: its class first, as after the call
            tracer.after_call = tv_stack[rd.unguarded]
        t0 = time.perf_counter()
        try:
            result = tracer.run()
        except BaseException as e:
            stats.trace_time += time.perf_counter() - t0
            if is_user_exception(e):
                self._write_tracer_state(frame, tracer)
                release(owned)
                raise
            reason = e.message if isinstance(e, TraceAbort) else f"internal error: {e!r}"
            stats.aborts["bridge: " + reason] = stats.aborts.get("bridge: " + reason, 0) + 1
            log(f"bridge abort at {ex.loop_name} exit {ex.descr.number}: {reason}",
                kind="bridge_abort", loop=ex.loop_name, exit=ex.descr.number, reason=reason,
                code=rd.code, offset=rd.offset)
            self._write_tracer_state(frame, tracer)
            release(owned)
            return
        stats.trace_time += time.perf_counter() - t0
        if all(op.name == "finish" for op in result.trace.ops):
            # it stops where it starts (typically at a loop whose compiled code
            # expects other types): not worth compiling, nor trying again
            reason = "bridge: " + (result.finish_reason or "empty")
            stats.aborts[reason] = stats.aborts.get(reason, 0) + 1
            ex.bridgeable = False
            self._write_tracer_state(frame, tracer)
            release(owned)
            return

        def failed(e: BaseException) -> None:
            reason = e.message if isinstance(e, TraceAbort) else f"compile error: {e!r}"
            stats.aborts["bridge: " + reason] = stats.aborts.get("bridge: " + reason, 0) + 1
            log(f"bridge compile failed: {reason}", kind="bridge_abort", loop=ex.loop_name,
                exit=ex.descr.number, reason=reason, code=rd.code, offset=rd.offset)
            ex.bridge = None

        try:
            closure = list(result.assumptions)
            if result.target is not None:
                closure += result.target.closure
            prepend_checks(result.trace, closure, initial)
            self.prepare_trace(result.trace, ex.code, f"bridge{ex.descr.number}",
                               ex.loop_name)
        except Exception as e:
            failed(e)
        else:
            ex.bridge = result.trace  # also marks "being compiled"

            def install() -> None:
                ctypes.c_int64.from_address(ex.descr.slot_address).value = \
                    result.trace.compiled.address
                stats.bridges_compiled += 1

            self.compile_async([result.trace], install, failed, None)
        self._write_tracer_state(frame, tracer)
        release(owned)

    @gcclock.jit_work
    def compile_writeback(self, ex: ExitInfo) -> None:
        """Attach a stub to this exit that writes the frame in machine code."""
        stub = writeback.build(ex.resume, ex.descr.fail_types)
        stub.name = f"writeback{ex.descr.number}"
        stub.loop_name = ex.loop_name
        ex.bridge = stub  # never bridged or stubbed again
        lifetime.adopt_trace(ex.code, stub)

        def install() -> None:
            ctypes.c_int64.from_address(ex.descr.slot_address).value = stub.compiled.address
            stats.writeback_stubs += 1

        def failed(e: BaseException) -> None:
            reason = f"write-back stub: compile error: {e!r}"
            stats.aborts[reason] = stats.aborts.get(reason, 0) + 1

        self.compile_async([stub], install, failed, None)

    # -- compiling -----------------------------------------------------------


_OWN_DIRS = tuple(os.path.dirname(m.__file__) + os.sep for m in (cp, ))


def is_user_exception(e: BaseException) -> bool:
    """True for exceptions the program raised into the JIT's own code (a
    signal handler's KeyboardInterrupt...), False for JIT bugs.  The first
    must reach the program; the second only abort a trace."""
    if not isinstance(e, Exception) or isinstance(e, JitHintError):
        return True  # KeyboardInterrupt, SystemExit; a misused hint (tracejit.hints)
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
