"""The tracer: a meta-interpreter of CPython bytecode that records a trace.

It runs the hot loop for real, one bytecode at a time, on traced values
(:class:`~tracejit.values.TValue`) and records IR for each through the
:class:`~tracejit.tracer.recorder.Recorder`, with a guard wherever it relied
on a run-time fact.  Every guard snapshots the interpreter state *before* the
current bytecode of the outermost frame: resuming there lets CPython redo
that bytecode generically, which is how exceptions, overflows and type
changes get exactly CPython's behaviour.

Frame model (see docs/architecture.md): ``int``/``float``/``bool`` locals live
unboxed in the trace and reach the frame only at exits; reference locals are
written through to the frame when stored, so loop-carried references are
always owned by the frame.  Calls to small pure Python functions are inlined
as frames of the tracer's frame stack; a guard inside them resumes before the
outer ``CALL``.  Bytecode handlers live in the family modules registered in
:mod:`tracejit.tracer.table`; loop closing in :mod:`tracejit.tracer.closing`.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, meta
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import (
    CONST_NULL,
    REF,
    Const,
    InputArg,
    Trace,
    Value,
    const_int,
    const_ref,
    fits_int64,
)
from tracejit.loopkey import LoopKey
from tracejit.tracer import virtuals
from tracejit.tracer.frame import LAZY, Frame
from tracejit.tracer.recorder import Recorder
from tracejit.tracer.table import BYTECODES
from tracejit.values import (
    IR_TYPE,
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_NULL,
    K_REF,
    K_TUPLE,
    K_VIRTUAL,
    Assumptions,
    FrameSnapshot,
    GlobalAssumption,
    InSlot,
    ResumeMode,
    Snapshot,
    TValue,
    const_tvalue,
    kind_of,
    null_tvalue,
)


@dataclass(eq=False)
class TraceResult:
    """What the tracer hands to the runtime."""

    trace: Trace
    kind: str  # "loop", "header" (ends in another trace) or "bridge"
    code: types.CodeType
    header: int
    signature: list[InSlot]
    assumptions: list[GlobalAssumption]
    target: Any = None  # the jump target (a runtime loop version) or None
    frame_depth: int = 0
    finish_reason: str = ""
    greens: list = ()  # (frame slot, value) of a dispatch loop's greens (entry checks)


class Tracer:
    """Records one trace starting from a live CPython frame.

    ``mode`` is "loop" (start at the loop header ``key``, close when it comes
    back) or "bridge" (start at a guard's resume point, end at any loop
    header).  ``find_target(key)`` lists the compiled versions of a loop.
    """

    def __init__(self, frame: types.FrameType, key: LoopKey, mode: str, limit: int,
                 find_target: Callable[[LoopKey], list], inline_depth: int = 6) -> None:
        self.real_frame = frame
        self.key = key
        self.code = key.code
        self.start = key.offset
        self.mode = mode
        self.limit = limit
        self.find_target = find_target
        self.inline_depth = inline_depth
        self.rec = Recorder(self)
        self.emit = self.rec.emit
        self.guard_true = self.rec.guard_true
        self.keepalive = self.rec.keepalive
        self.inputargs: list[InputArg] = []
        self.signature: list[InSlot] = []
        self.assumptions = Assumptions()
        self.outer = Frame.outer(self.code, self.start)
        self.frames: list[Frame] = [self.outer]
        self.headers = cp.loop_headers(self.code)
        self.nlocals = cp.nlocalsplus(self.code)
        self.frame_depth = 0
        self.passed_headers: set[int] = set()
        self.started = False
        self.done: TraceResult | None = None
        self.kwnames: tuple = ()  # names of the keyword arguments of the next CALL
        self.unrolled: list[Any] = []  # codes of inlined functions whose loops were unrolled
        # the result of the residual call just recorded, and where the checks
        # of the assumptions go after each one (see tracer.residual)
        self.after_call: TValue | None = None
        self.recheck_points: list[tuple[int, Snapshot]] = []
        self.program_limit = sys.getrecursionlimit()  # the runtime sets it
        self.pending_release: list[TValue] = []  # see start_bridge
        self.unguarded: TValue | None = None  # see residual.finish_call
        # an interpreter's dispatch loop (tracejit.meta): a loop of its greens,
        # or a bridge in its code
        site = meta.site_of(self.code)
        self.driver = site if site is not None and (key.greens or mode == "bridge") else None
        self.merge_points = 0  # merge points passed (the dispatch loop unrolled)
        self.guest_back_jumps = 0  # can_enter_jit calls traced
        self.merges_since_back_jump = 0
        self.green_after_back_jump: tuple = ()
        self.green_inputs: list[tuple[int, Any]] = []
        # lists and tuples read from `_immutable_fields_` "name[*]" (tracer.folding)
        self.frozen_ids: set[int] = set()

    # -- the frame stack -------------------------------------------------------

    @property
    def top(self) -> Frame:
        return self.frames[-1]

    @property
    def in_callee(self) -> bool:
        return len(self.frames) > 1

    @property
    def stack(self) -> list[TValue]:
        """The outer frame's value stack."""
        return self.outer.stack

    # -- set-up ----------------------------------------------------------------

    def start_loop(self) -> None:
        """Stack slots at the header become typed inputs (they are iterators)."""
        stack = cp.read_stack(self.real_frame)
        self.frame_depth = len(stack)
        for k, obj in enumerate(stack):
            if obj is cp.NULL:
                # e.g. the saved loop variable of a 3.12 inlined comprehension
                self.signature.append(InSlot("stack", k, K_NULL, type(None), None))
                self.stack.append(null_tvalue(k))
                continue
            arg = InputArg(REF)
            self.signature.append(InSlot("stack", k, K_REF, type(obj), arg))
            tv = TValue(K_REF, arg, obj)
            tv.frame_slot = k
            self.stack.append(tv)
        if self.driver is not None:
            # the greens are constants of the trace (the entry checks them)
            for idx in self.driver.green_slots:
                obj = cp.read_local(self.real_frame, idx)
                self.green_inputs.append((idx, obj))
                self.outer.locals[idx] = self.green_value(obj)
                self.outer.written.add(idx)  # every exit writes them back
        self.started = True

    def green_value(self, obj: Any) -> TValue:
        """A constant of the trace: the value of a green or of ``promote``."""
        if type(obj) in (int, bool, float):
            tv = const_tvalue(obj)
            if tv.kind != K_REF:
                return tv
        self.keepalive.append(obj)
        return TValue(K_REF, const_ref(obj), obj)

    def promote(self, tv: TValue) -> TValue:
        """Guard that ``tv`` is what it is now; from then on it is a constant."""
        if isinstance(tv.box, Const) or tv.box is None:
            return tv
        obj = tv.py
        if tv.kind in (K_INT, K_BOOL):
            self.emit("guard_value_i", [tv.box, const_int(int(obj))])
        elif tv.kind == K_REF:
            self.keepalive.append(obj)
            self.emit("guard_value_r", [tv.box, const_ref(obj)])
        else:
            return tv  # (a float: left as it is)
        if tv.kind == K_REF and tv.owned:
            return tv  # (guarded; the trace's reference is released as before)
        return self.green_value(obj)

    def start_bridge(self, values: dict[int, TValue], stack: list[TValue], depth: int,
                     inputargs: list[InputArg], release: list[TValue] = ()) -> None:
        """Start from an exit's state: the frame's ``values`` and ``stack``;
        ``release``: references the exit releases (those of calls it
        redoes), which the bridge releases once its checks passed."""
        self.inputargs = list(inputargs)
        for idx, tv in values.items():
            self.outer.locals[idx] = tv
            self.outer.written.add(idx)
            if tv.kind == K_REF:  # (a constant the exit did not store)
                self.outer.deferred.add(idx)
        self.stack[:] = stack
        self.frame_depth = depth
        self.pending_release = list(release)
        self.started = True

    def release_pending(self) -> None:
        """The bridge's first operations: release what its exit released."""
        for tv in self.pending_release:
            self.emit("decref", [tv.box])
        self.pending_release = []

    # -- snapshots -------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The state a guard recorded now resumes with.

        In the outer frame: before its current bytecode.  Inside inlined
        calls, the innermost calls that have done nothing the program can
        see are redone: the frame that made the outermost of them resumes
        before that ``CALL`` (for the outermost call of all, such exits can
        grow bridges), with the references those calls own released.  Each
        frame below it resumes suspended in its call.
        """
        outer = self.outer
        locals_ = {i: v.frozen() if v.kind == K_VIRTUAL else v
                   for i, v in enumerate(outer.locals)
                   if v is not LAZY and i in outer.written
                   and (v.kind != K_REF or i in outer.deferred)}
        if not self.in_callee:
            snap = Snapshot([FrameSnapshot(self.code, outer.pc, locals_,
                                           [v.frozen() for v in outer.stack],
                                           self.frame_depth, release=list(self.pending_release))])
            snap.unguarded = next((k for k, v in enumerate(outer.stack)
                                   if v is self.unguarded), -1)
            return snap
        level = self.redo_level()
        if level == 1:
            # CPython redoes the outermost call (objects made by class calls
            # in progress are made anew)
            return Snapshot([FrameSnapshot(self.code, outer.pc, locals_,
                                           [v.frozen() for v in outer.stack_before_call],
                                           self.frame_depth,
                                           release=self.callee_references(1))])
        if any(f.constructed is not None for f in self.frames[1:level]):
            # a real __init__ frame can only come from a real class call,
            # which would make another object
            raise TraceAbort(Abort.INLINE, "a side effect inside the __init__ of a class call")
        # each reference in exactly one place: arguments a callee took over
        # belong to its locals, not to its caller's stack
        frames = [FrameSnapshot(self.code, outer.pc, locals_,
                                _not_owning(outer.stack_before_call, self.frames[1]),
                                self.frame_depth, ResumeMode.IN_CALL)]
        for k in range(1, level):
            callee = self.frames[k]
            if k == len(self.frames) - 1:  # the innermost, before its bytecode
                frames.append(FrameSnapshot(callee.code, callee.pc, callee_locals(callee),
                                            [v.frozen() for v in callee.stack], 0))
            elif k == level - 1:  # before the call it redoes
                frames.append(FrameSnapshot(callee.code, callee.pc, callee_locals(callee),
                                            [v.frozen() for v in callee.stack_before_call], 0,
                                            release=self.callee_references(level)))
            else:
                frames.append(FrameSnapshot(
                    callee.code, callee.pc, callee_locals(callee),
                    _not_owning(callee.stack_before_call, self.frames[k + 1]), 0,
                    ResumeMode.IN_CALL))
        return Snapshot(frames)

    def redo_level(self) -> int:
        """The outermost inlined frame (index into ``frames``) since whose call
        nothing the program can see happened; ``len(frames)`` if none."""
        effects = self.rec.effects
        for k in range(1, len(self.frames)):
            if self.frames[k].effects_at_call == effects:
                return k
        return len(self.frames)

    def callee_references(self, level: int) -> list[TValue]:
        """The references the inlined frames from ``frames[level]`` on own,
        each once: taken over from no caller (a callee's own), on their
        stacks, and made by class calls."""
        out = []
        for f in self.frames[level:]:
            for box in f.owned_refs:
                if not any(b is box for b in f.transferred):
                    out.append(TValue(K_REF, box, None, owned=True))
            stack = f.stack if f is self.top else f.stack_before_call
            out += [v.frozen() for v in stack if v.kind == K_REF and v.owned]
            if f.constructed is not None and f.constructed.kind == K_REF:
                out.append(f.constructed.frozen())
        return out

    def in_constructor(self) -> bool:
        """Whether an inlined frame is the __init__ of a class call (its
        stores must go to objects the trace made: see calls.construct)."""
        return any(f.constructed is not None for f in self.frames[1:])

    def call_restartable(self) -> bool:
        """Whether the inlined calls can be redone from the outermost CALL:
        they did nothing the program can see."""
        return self.redo_level() == 1

    def forget_refs(self) -> None:
        """Objects may be freed from here on: unboxed values no longer know
        the object they came from (they will be boxed anew if stored)."""
        todo = [tv for f in self.frames for tv in list(f.locals) + list(f.stack)]
        while todo:
            tv = todo.pop()
            if isinstance(tv, TValue):
                tv.ref = None
                if tv.items:
                    todo.extend(tv.items)

    # -- the main loop ---------------------------------------------------------

    def run(self) -> TraceResult:
        from tracejit.tracer import closing, residual

        first = True
        while True:
            if self.after_call is not None:
                residual.finish_call(self)
            if not self.in_callee and self.outer.pc in self.headers and not first:
                done = closing.close_at_header(self)
                if done is not closing.CONTINUE:
                    return done
            if len(self.rec.ops) > self.limit:
                self._refuse_unrolled_callees()
                raise TraceAbort(Abort.TOO_LONG)
            first = False
            self.step()
            if self.done is not None:
                return self.done

    def _refuse_unrolled_callees(self) -> None:
        """A trace too long while inside inlined functions whose loops were
        unrolled: those functions are called, not inlined, from now on (the
        next try is shorter, rather than too long again)."""
        from tracejit.tracer.calls import refuse_inlining

        for code in self.unrolled:
            refuse_inlining(code, "its unrolled loop made a trace too long")

    def step(self) -> None:
        """Trace the top frame's current instruction."""
        frame = self.top
        ins = frame.instruction()
        entry = BYTECODES.get(ins.opname)
        if entry is None or entry.handler is None:
            raise TraceAbort(Abort.BYTECODE, ins.opname)
        self.rec.begin_bytecode(ins.opname, (frame.code, ins.offset))
        frame.next_pc = frame.offset_after(ins.offset)
        stack = frame.stack
        saved = list(stack)
        try:
            if ins.opname not in virtuals.MAY_SEE_VIRTUALS:
                virtuals.force_all(self, stack[len(stack) - self._operand_count(entry, ins):])
            if ins.opname in FOLDABLE and try_fold(self, ins, stack):
                pass
            elif entry.raw:
                entry.handler(self, ins)
            else:
                self._dispatch(entry, ins, stack)
        except TraceAbort as e:
            # CPython redoes this instruction: it must see the stack unchanged
            if e.resume_at is None:
                stack[:] = saved
            else:  # or something else in its place
                frame.pc, stack[:] = e.resume_at
            raise
        if self.done is None:
            top = self.top
            top.pc = top.next_pc

    def _operand_count(self, entry: Any, ins: Any) -> int:
        """How many stack values the instruction reads (all of the top
        frame's stack for a raw handler, which declares none)."""
        return len(self.top.stack) if entry.raw else entry.npops(ins)

    def _dispatch(self, entry: Any, ins: Any, stack: list[TValue]) -> None:
        npops = entry.npops(ins)
        operands = stack[len(stack) - npops:] if npops else []
        out = entry.handler(self, ins, *operands)
        if out is INLINED:  # it consumed its operands into an inlined call
            return
        if out is None:
            results: tuple = ()
        elif isinstance(out, TValue):
            results = (out,)
        else:
            results = tuple(out)
        if len(results) != entry.npushes(ins):
            raise TraceAbort(Abort.INTERNAL, f"{ins.opname} pushed {len(results)} values")
        if npops:
            del stack[len(stack) - npops:]
        self.release_consumed(operands, results)
        stack.extend(results)

    def release_consumed(self, operands: list[TValue] | tuple, results: tuple) -> None:
        """Release the owned operands an instruction consumed.  A reference
        result may be borrowed from one of them (an attribute or item of a
        new object): it takes a reference of its own first."""
        dropped = [tv for tv in operands
                   if tv.kind == K_REF and tv.owned and all(tv is not r for r in results)]
        if not dropped:
            return
        for r in results:
            if r.kind == K_REF and not r.owned and r.box is not None \
                    and not isinstance(r.box, Const):
                self.emit("incref", [r.box])
                r.owned = True
            elif r.kind != K_REF:
                r.ref = None  # (a number read from them: boxed anew if stored)
        for tv in dropped:
            self.drop(tv)

    def jump(self, offset: int) -> None:
        """The current instruction continues at ``offset`` (a taken branch)."""
        self.top.next_pc = offset

    # -- locals ----------------------------------------------------------------

    def read_local(self, idx: int, allow_null: bool = False) -> TValue:
        frame = self.top
        if not frame.is_outer:
            v = frame.locals[idx]
            if v.kind == K_NULL:
                raise TraceAbort(Abort.UNBOUND, "unbound local in inlined function")
            return v
        v = frame.locals[idx]
        if v is not LAZY and v.kind == K_NULL and not allow_null:
            raise TraceAbort(Abort.UNBOUND, "unbound local")
        if v is LAZY:
            v = frame.locals[idx] = self._read_real_local(idx, allow_null)
        return v

    def _read_real_local(self, idx: int, allow_null: bool) -> TValue:
        """First use of a local of the outer frame: an input of a loop trace,
        or a checked read of the frame in a bridge."""
        obj = cp.read_local(self.real_frame, idx)
        if obj is cp.NULL and allow_null and self.mode == "bridge":
            r = self.rec.load_frame_slot(idx)
            self.guard_true(self.emit("ptr_eq", [r, CONST_NULL]))
            return null_tvalue()
        if obj is cp.NULL:
            raise TraceAbort(Abort.UNBOUND, "unbound local")
        if self.driver is not None and idx in self.driver.green_slots and self.mode == "bridge":
            r = self.rec.load_frame_slot(idx)
            self.emit("guard_nonnull", [r])
            return self.promote(self.unbox(r, obj))
        if self.mode == "loop":
            k = kind_of(obj)
            if k == K_INT and not fits_int64(obj):
                raise TraceAbort(Abort.BIG_INT, "int beyond 64 bits in a local")
            arg = InputArg(IR_TYPE[k])
            self.signature.append(InSlot("local", idx, k, type(obj), arg))
            if obj is None:
                return TValue(K_REF, const_ref(None), None)
            return TValue(k, arg, obj)
        r = self.rec.load_frame_slot(idx)
        self.emit("guard_nonnull", [r])
        return self.unbox(r, obj)

    def write_local(self, idx: int, tv: TValue) -> None:
        frame = self.top
        if not frame.is_outer:
            old = frame.locals[idx]
            if tv.kind == K_REF and tv.owned:
                # the callee's frame owns it now, until the callee returns
                frame.owned_refs.append(tv.box)
                tv.owned = False
            elif needs_reference(tv) and not any(b is tv.box for b in frame.owned_refs):
                # as in CPython, the local keeps the object alive (it may have
                # been borrowed from a field that the callee overwrites next)
                self.emit("incref", [tv.box])
                frame.owned_refs.append(tv.box)
                frame.lent.append(tv.box)
            frame.locals[idx] = tv
            if old.kind == K_REF and any(b is old.box for b in frame.owned_refs) \
                    and not self._refers_to(old.box):
                frame.owned_refs = [b for b in frame.owned_refs if b is not old.box]
                self.release_local(frame, old.box)
            return
        if tv.kind == K_VIRTUAL:
            # the object stays virtual: exits build it; the frame lets go of
            # what it held, as STORE_FAST does
            old = frame.locals[idx]
            if old is LAZY or old.kind != K_VIRTUAL:
                if old is not LAZY and needs_reference(old):
                    self.own_aliases(old.box)
                frame.deferred.discard(idx)
                self.rec.store_frame_slot(idx, CONST_NULL, True)
            frame.locals[idx] = tv
            frame.written.add(idx)
            return
        if tv.kind == K_REF:
            if tv.box is None:
                raise TraceAbort(Abort.VIRTUAL, "virtual range stored in a local")
            old = frame.locals[idx]
            if old is not LAZY and needs_reference(old):
                self.own_aliases(old.box)
            if isinstance(tv.box, Const) and not tv.owned:
                # a constant (``op = program[pc]`` with constant operands):
                # stored where the trace leaves, not on every write
                frame.deferred.add(idx)
                frame.locals[idx] = tv
                frame.written.add(idx)
                return
            frame.deferred.discard(idx)
            self.rec.store_frame_slot(idx, tv.box, tv.owned)
            tv.owned = False
        if tv.kind == K_TUPLE and any(i.kind == K_TUPLE for i in tv.items):
            raise TraceAbort(Abort.VIRTUAL, "nested virtual tuple in a local")
        frame.locals[idx] = tv
        frame.written.add(idx)

    def held_by_outer(self, tv: TValue) -> bool:
        """Whether a local of the outer frame holds ``tv``'s object: it stays
        alive while inlined calls run (only the outer frame's own code
        rebinds its locals), so a callee needs no reference of its own."""
        box = tv.box
        return any(v is not LAZY and v.kind == K_REF and v.box is box
                   for v in self.outer.locals)

    def store_deferred(self) -> None:
        """The trace leaves for code that expects every reference local in
        the frame: store the constants :meth:`write_local` kept back."""
        outer = self.outer
        for idx in sorted(outer.deferred):
            self.rec.store_frame_slot(idx, outer.locals[idx].box, False)
        outer.deferred.clear()

    def release_local(self, frame: Frame, ref: Value) -> None:
        """An inlined frame's reference ``ref`` goes."""
        if any(b is ref for b in frame.lent):
            frame.lent = [b for b in frame.lent if b is not ref]
            self.rec.release_lent(ref)
        else:
            self.emit("decref", [ref])

    def own_stack(self, keep: int = 0) -> None:
        """Before an object the program can reach may be freed (a residual
        call, a store releasing what a field held): the top frame's stack
        takes a reference to each object it borrowed, as CPython's stack
        holds them all (the value may have come from that very field).
        ``keep``: the top entries that are the operation's own operands."""
        st = self.top.stack
        for tv in st[:len(st) - keep]:
            if needs_reference(tv) and tv.frame_slot < 0:
                self.emit("incref", [tv.box])
                tv.owned = True

    def own_aliases(self, box: Value) -> None:
        """The reference ``box`` (a local's) goes: the copies of it that are
        on the stacks take references of their own (``a, b = b, a``)."""
        for f in self.frames:
            for tv in f.stack:
                if tv.kind == K_REF and tv.box is box and not tv.owned and tv.frame_slot < 0:
                    self.emit("incref", [box])
                    tv.owned = True

    def _refers_to(self, box: Value) -> bool:
        """Whether any local or stack entry of the trace still holds ``box``."""
        return any(v is not LAZY and v.box is box
                   for f in self.frames for v in list(f.locals) + f.stack)

    # -- the value stack (for raw handlers) --------------------------------------

    def push(self, tv: TValue) -> None:
        self.top.stack.append(tv)

    def pop(self) -> TValue:
        return self.top.stack.pop()

    def peek(self, n: int = 1) -> TValue:
        return self.top.stack[-n]

    def drop(self, tv: TValue) -> None:
        """A value leaves the stack for good: release what the trace owns."""
        if tv.kind == K_REF and tv.owned:
            self.emit("decref", [tv.box])
            tv.owned = False

    # -- boxes -----------------------------------------------------------------

    def unbox(self, r: Value, obj: Any) -> TValue:
        """Guard the class of ``r`` (concretely ``obj``) and unbox it."""
        self.emit("guard_class", [r, const_int(id(type(obj)))])
        k = kind_of(obj)
        if k == K_INT:
            if not fits_int64(obj):
                raise TraceAbort(Abort.BIG_INT, "int beyond 64 bits")
            tv = TValue(K_INT, self.emit("unbox_int", [r], cp.long_layout()), obj)
        elif k == K_FLOAT:
            tv = TValue(K_FLOAT, self.emit("getfield_f", [r], cp.FLOAT_VALUE), obj)
        elif k == K_BOOL:
            tv = TValue(K_BOOL, self.emit("ptr_eq", [r, const_ref(True)]), obj)
        elif obj is None:
            return TValue(K_REF, const_ref(None), None)
        else:
            return TValue(K_REF, r, obj)
        tv.ref = r  # storing the value again stores this very object
        return tv

    def box(self, tv: TValue) -> tuple[Value, bool]:
        """An object reference for ``tv``; returns (value, owned)."""
        if tv.kind == K_VIRTUAL:
            virtuals.force(self, tv)  # (tv is the real object from now on)
        if tv.ref is not None:
            return tv.ref, False
        if tv.kind == K_INT:
            if isinstance(tv.box, Const):
                self.keepalive.append(tv.py)
                return const_ref(tv.py), False
            return self.emit("call_r", [tv.box], helpers.box_int()), True
        if tv.kind == K_FLOAT:
            return self.emit("call_r", [tv.box], helpers.box_float()), True
        if tv.kind == K_BOOL:
            if isinstance(tv.box, Const):
                return const_ref(bool(tv.box.value)), False
            return cp.emit_box_bool(self.emit, tv.box), False
        if tv.kind == K_REF:
            if tv.box is None:
                raise TraceAbort(Abort.VIRTUAL, "a virtual range where an object is needed")
            return tv.box, tv.owned
        if tv.kind == K_TUPLE:
            # built now, from its items (a new tuple each time it is needed:
            # the program cannot tell, short of comparing identities)
            if not tv.items:
                return const_ref(()), False
            items = [self.box(i) for i in tv.items]
            tup = self.emit("call_r", [const_int(len(items))], helpers.new_tuple())
            for k, (item, owned) in enumerate(items):  # the tuple takes a reference
                if not owned:
                    self.emit("incref", [item])
                self.emit("setfield_r", [tup, item], cp.TUPLE_ITEMS + 8 * k)
            for item in tv.items:
                if item.kind == K_REF:
                    item.owned = False  # (an owned item's reference went to the tuple)
            return tup, True
        raise TraceAbort(Abort.VIRTUAL, f"cannot box a {tv.kind}")

    # -- globals ---------------------------------------------------------------

    def globals(self) -> dict:
        return self.top.globals(self.real_frame)

    def builtins(self) -> dict | None:
        if self.top.is_outer:
            return self.real_frame.f_builtins
        b = self.globals().get("__builtins__")
        return b.__dict__ if isinstance(b, types.ModuleType) else b

    # -- state for CPython when tracing stops ----------------------------------

    def concrete_frames(self) -> list[tuple[types.CodeType, int, dict[int, Any], list[Any], int]]:
        """The frames CPython resumes with when tracing stops, outermost
        first, as Python objects: (code, offset, locals to write, stack, how
        many stack slots the real frame holds now).  The tracer ran the
        program for real, so inside calls that did something visible CPython
        continues inside them (see :mod:`tracejit.reentry`)."""
        outer = self.outer
        loc = {i: v.concrete() for i, v in enumerate(outer.locals) if v is not LAZY}
        if not self.in_callee:
            return [(self.code, outer.pc, loc, [v.concrete() for v in outer.stack],
                     self.frame_depth)]
        frames = [(self.code, outer.pc, loc,
                   [v.concrete() for v in outer.stack_before_call], self.frame_depth)]
        level = self.redo_level()
        # (inside a class call, the tracer changed only objects it made: the
        # call is redone)
        level = next((k for k in range(1, level) if self.frames[k].constructed is not None),
                     level)
        for callee in self.frames[1:level]:
            stack = callee.stack if callee is self.top else callee.stack_before_call
            frames.append((callee.code, callee.pc,
                           {i: v.concrete() for i, v in callee_locals(callee).items()},
                           [v.concrete() for v in stack], 0))
        return frames


FOLDABLE = frozenset({"BINARY_SUBSCR", "BINARY_SLICE", "BINARY_OP", "COMPARE_OP",
                      "CONTAINS_OP", "LOAD_ATTR", "UNPACK_SEQUENCE"})


_FOLDER: list[Any] = []


def try_fold(t: Tracer, ins: Any, stack: list[TValue]) -> bool:
    """tracer.folding.try_fold (imported when first needed: it imports us)."""
    if not _FOLDER:
        from tracejit.tracer import folding

        _FOLDER.append(folding.try_fold)
    return _FOLDER[0](t, ins, stack)


# what a handler returns when it consumed its operands into an inlined call
# (whose frame pushes the result when it returns)
INLINED: Any = object()


def needs_reference(tv: TValue) -> bool:
    """A borrowed reference to an object that the trace did not make constant."""
    return tv.kind == K_REF and not tv.owned and tv.box is not None \
        and not isinstance(tv.box, Const)


def _not_owning(stack: list[TValue], callee: Frame) -> list[TValue]:
    """A caller's stack before its call, without the ownership of the
    arguments ``callee`` took over."""
    out = []
    for v in stack:
        v = v.frozen()
        if v.kind == K_REF and v.owned and any(b is v.box for b in callee.transferred):
            v.owned = False
        out.append(v)
    return out


def callee_locals(frame: Frame) -> dict[int, TValue]:
    """An inlined frame's bound locals; the references it owns are handed
    over (to the real frame the exit builds)."""
    owned = list(frame.owned_refs)
    out = {}
    for i, v in enumerate(frame.locals):
        if v.kind == K_NULL:
            continue
        v = v.frozen()
        if v.kind == K_REF and any(b is v.box for b in owned):
            owned = [b for b in owned if b is not v.box]
            v.owned = True
        out[i] = v
    return out
