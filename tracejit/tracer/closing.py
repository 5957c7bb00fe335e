"""How a trace ends: closing the loop, jumping into another compiled loop, or
finishing a bridge, with the frame brought up to date where code leaves.

A loop trace closes when the outer frame is back at its header (the
``jump`` passes the loop-carried values to the ``label``).  A trace reaching
another loop header jumps to that loop's compiled code when its types match,
first writing into the frame whatever that code expects to find there.  A
bridge that reaches no compiled code ends in ``finish``.
"""

from __future__ import annotations

from typing import Any

from tracejit import cpython as cp
from tracejit.aborts import Abort, TraceAbort
from tracejit.builder import NOTHING
from tracejit.hints import JitHintError
from tracejit.ir import CONST_NULL, Const, InputArg, Op, Trace, Value, const_int, fits_int64
from tracejit.loopkey import LoopKey
from tracejit.meta import green_key, request_trace
from tracejit.pause import PAUSE_COUNTER
from tracejit.tracer import virtuals
from tracejit.tracer.core import Tracer, TraceResult
from tracejit.tracer.frame import LAZY
from tracejit.tracer.residual import expand_rechecks
from tracejit.values import (
    IR_TYPE,
    K_INT,
    K_NULL,
    K_REF,
    K_TUPLE,
    FrameSnapshot,
    InSlot,
    Snapshot,
    TValue,
    kind_of,
    null_tvalue,
    signature_args,
)

# what close_at_header returns when tracing goes on through the header
CONTINUE: Any = object()


def close_at_header(t: Tracer) -> TraceResult:
    t.rec.begin_bytecode("<loop header>", (t.code, t.outer.pc))
    pc = t.outer.pc
    if t.driver is not None and pc == t.driver.header:
        return merge_point_reached(t)
    if t.mode == "loop" and t.key.at(t.code, pc):
        return close_loop(t)
    target = pick_target(t, t.find_target(LoopKey(t.code, pc)))
    if target is None:
        if t.mode == "loop":
            # an inner loop that is not compiled: keep tracing through it
            t.headers = t.headers - {pc}
            return t.run()
        if pc not in t.passed_headers:
            # a bridge passes once through a loop without code of its own
            # (e.g. the middle loop of three), hoping to reach compiled code
            t.passed_headers.add(pc)
            return t.run()
        return finish(t, "loop header without compiled code")
    return jump_to(t, target)


def merge_point_reached(t: Tracer) -> Any:
    """The interpreter's dispatch loop is back at its merge point: the
    interpreted program's loop closes if the greens are those the trace
    started with; a compiled loop of other greens is jumped to; otherwise
    the dispatch loop is unrolled once more."""
    site = t.driver
    greens = []
    for name, idx in zip(site.driver.greens, site.green_slots):
        tv = t.read_local(idx)
        if not isinstance(tv.box, Const):
            if t.mode == "loop":
                raise JitHintError(
                    f"{site.driver.name}.jit_merge_point() at {site.where}: green {name!r} "
                    f"is not a constant of the trace here (it was computed from red "
                    f"values); make it one with tracejit.promote() where it is computed")
            tv = t.promote(tv)
            t.outer.locals[idx] = tv
        greens.append(tv.py)
    key = green_key(greens)
    t.merge_points += 1
    if t.mode == "loop" and key == t.key.greens:
        return close_loop(t)
    target = pick_target(t, t.find_target(LoopKey(t.code, t.outer.pc, key)))
    if target is not None:
        return jump_to(t, target)
    if t.guest_back_jumps:
        t.merges_since_back_jump += 1
        if t.merges_since_back_jump == 1:
            t.green_after_back_jump = key
    if t.mode == "bridge" and (t.merges_since_back_jump > GUEST_LOOKAHEAD
                               or len(t.rec.ops) > t.limit // 2):
        # the interpreted program jumped back into a loop without code.  The
        # first time, no bridge: the interpreter runs on, the next merge point
        # traces that loop, and the bridge is tried again once it has code
        if request_trace(site, t.green_after_back_jump):
            raise TraceAbort(Abort.NO_TARGET, "a loop of the interpreted program without "
                             "compiled code yet (traced next)")
        return finish(t, "a loop of the interpreted program without compiled code")
    return CONTINUE


# merge points a bridge passes after the interpreted program jumped back,
# looking for compiled code, before it ends
GUEST_LOOKAHEAD = 8


def pick_target(t: Tracer, versions: list) -> Any:
    """The first compiled version whose input types match the current state."""
    for version in versions:
        if matches(t, version.signature):
            return version
    return None


def matches(t: Tracer, signature: list[InSlot]) -> bool:
    depth = sum(1 for s in signature if s.where == "stack")
    if depth != len(t.stack):
        return False
    for slot in signature:
        if slot.where == "stack":
            tv = t.stack[slot.index]
            if slot.kind == K_NULL:
                if tv.kind != K_NULL:
                    return False
            elif tv.kind != K_REF or tv.box is None or type(tv.py) is not slot.pytype:
                return False
            continue
        tv = t.outer.locals[slot.index]
        obj = cp.read_local(t.real_frame, slot.index) if tv is LAZY else tv.py
        if obj is cp.NULL or type(obj) is not slot.pytype:
            return False
        if slot.kind == K_INT and not fits_int64(obj):
            return False
    return True


def close_loop(t: Tracer) -> TraceResult:
    outer = t.outer
    virtuals.force_outer_locals(t)  # the next iteration starts from the frame
    # the stack at the header must be the same objects as at entry
    if len(t.stack) != t.frame_depth:
        raise TraceAbort(Abort.UNSTABLE, "stack depth changed around the loop")
    for k, tv in enumerate(t.stack):
        slot = t.signature[k]
        if (tv.kind != K_NULL) if slot.kind == K_NULL else (tv.box is not slot.arg):
            raise TraceAbort(Abort.UNSTABLE, "stack contents changed around the loop")
    # written locals that were never read still need a loop-carried slot
    greens = set(t.driver.green_slots) if t.driver is not None else set()
    for idx in sorted(outer.written - greens):
        tv = outer.locals[idx]
        if any(s.where == "local" and s.index == idx for s in t.signature):
            continue
        obj = cp.read_local(t.real_frame, idx)
        if obj is cp.NULL or kind_of(obj) != tv.kind or type(obj) is not type(tv.py):
            raise TraceAbort(Abort.UNSTABLE, "loop-carried local changes type")
        k = kind_of(obj)
        if k == K_INT and not fits_int64(obj):
            raise TraceAbort(Abort.BIG_INT, "int beyond 64 bits in a local")
        if k == K_REF and obj is None:
            continue
        t.signature.append(InSlot("local", idx, k, type(obj), InputArg(IR_TYPE[k])))
    jump_args: list[Value] = []
    for slot in t.signature:
        if slot.where == "stack":
            if slot.kind != K_NULL:
                jump_args.append(slot.arg)
            continue
        tv = outer.locals[slot.index]
        if tv is LAZY:
            jump_args.append(slot.arg)
            continue
        if tv.kind != slot.kind or type(tv.py) is not slot.pytype:
            raise TraceAbort(Abort.UNSTABLE, f"type-unstable loop ({slot.pytype.__name__} -> "
                             f"{type(tv.py).__name__})")
        if tv.kind == K_TUPLE:
            raise TraceAbort(Abort.VIRTUAL, "virtual tuple carried around the loop")
        jump_args.append(tv.box)
    emit_periodic_pause(t)
    t.store_deferred()
    expand_rechecks(t, t.assumptions.items)
    complete_snapshots(t)
    inputargs = signature_args(t.signature)
    ops = [Op("label", inputargs)] + t.rec.ops + [Op("jump", jump_args)]
    trace = Trace(list(inputargs), ops, keepalive=t.keepalive)
    header_locals = {s.index: TValue(s.kind, s.arg, None) for s in t.signature
                     if s.where == "local" and s.kind != K_REF}
    header_stack = []
    for s in t.signature:
        if s.where == "stack":
            if s.kind == K_NULL:
                header_stack.append(null_tvalue(s.index))
            else:
                tv = TValue(K_REF, s.arg, None)
                tv.frame_slot = s.index
                header_stack.append(tv)
    for idx, obj in t.green_inputs:
        header_locals[idx] = t.green_value(obj)
    trace.header_snapshot = Snapshot([FrameSnapshot(t.code, t.start, header_locals,
                                                    header_stack, t.frame_depth)])
    return TraceResult(trace, "loop", t.code, t.start, t.signature,
                       t.assumptions.items, frame_depth=t.frame_depth,
                       greens=t.green_inputs)


def emit_periodic_pause(t: Tracer) -> None:
    """Every PAUSE_EVERY iterations (counted across all loops) compiled code
    returns to CPython at the loop header, so that signal handlers
    (Ctrl-C), thread switches and other pending work run as they would in
    the interpreter; the next back-jump enters the loop again.  The guard
    comes before the store: when it fails the runtime resets the counter."""
    cell = const_int(PAUSE_COUNTER.address)
    left = t.emit("int_sub", [t.emit("raw_load_i", [cell], 0), const_int(1)])
    guard = t.emit("guard_true", [t.emit("int_gt", [left, const_int(0)])])
    guard.snapshot.periodic = True
    t.emit("raw_store_i", [cell, left], 0)


def complete_snapshots(t: Tracer) -> None:
    """Unboxed inputs live in registers, not in the frame: every exit must
    write them back, including exits before the trace first touched them
    (when entered from a bridge, the frame may hold stale values)."""
    for g in t.rec.guards:
        snap = g.snapshot.frames[0]
        for slot in t.signature:
            if (slot.where == "local" and slot.kind != K_REF
                    and slot.index not in snap.locals):
                snap.locals[slot.index] = TValue(slot.kind, slot.arg, None)


def sync_frame_for(t: Tracer, keep_locals: set[int]) -> None:
    """Before leaving compiled code at a header: put unboxed locals that the
    target does not take as inputs into the frame.

    A loop trace's unboxed inputs count as written: it may be entered
    from another trace that passed them in registers without storing them
    (see complete_snapshots)."""
    outer = t.outer
    virtuals.force_outer_locals(t)
    dirty = set(outer.written)
    if t.mode == "loop":
        dirty |= {slot.index for slot in t.signature
                  if slot.where == "local" and slot.kind != K_REF}
    t.store_deferred()
    for idx in sorted(dirty):
        tv = outer.locals[idx]
        if idx in keep_locals or tv is LAZY or tv.kind == K_REF:
            continue
        if tv.kind == K_NULL:
            boxed, owned = CONST_NULL, True
        elif tv.kind == K_TUPLE:
            raise TraceAbort(Abort.VIRTUAL, "virtual tuple escapes into the frame")
        else:
            boxed, owned = t.box(tv)
        t.rec.store_frame_slot(idx, boxed, owned)


def sync_stack(t: Tracer, depth: int) -> None:
    """Make the frame's value stack hold the trace's ``depth`` entries."""
    for k in range(max(depth, t.frame_depth)):
        slot = t.nlocals + k
        old = "release" if k < t.frame_depth else NOTHING
        if k >= depth:
            t.rec.store_frame_slot(slot, CONST_NULL, True, old)
            continue
        tv = t.stack[k]
        if tv.frame_slot == k:
            continue
        if tv.kind == K_NULL:
            boxed, owned = CONST_NULL, True  # nothing to incref
            tv = t.stack[k] = null_tvalue()
        else:
            boxed, owned = t.box(tv)
        t.rec.store_frame_slot(slot, boxed, owned, old)
        tv.owned = False
        tv.frame_slot = k


def jump_to(t: Tracer, target: Any) -> TraceResult:
    sig: list[InSlot] = target.signature
    virtuals.force_outer_locals(t)
    for slot in sig:
        if slot.where == "local":
            t.read_local(slot.index)  # forces a frame read + guard if lazy
    keep = {s.index for s in sig if s.where == "local" and s.kind != K_REF}
    args: list[Value] = []
    for slot in sig:
        if slot.where == "local":
            tv = t.outer.locals[slot.index]
            if tv.kind != slot.kind or type(tv.py) is not slot.pytype:
                return finish(
                    t, f"types differ from the compiled loop (local {slot.index}: "
                    f"{type(tv.py).__name__} {tv.kind}, compiled for "
                    f"{slot.pytype.__name__} {slot.kind})")
            args.append(tv.box)
    t.rec.after_effects()
    sync_frame_for(t, keep)
    sync_stack(t, len(t.stack))
    stack_args = [tv.box for tv in t.stack]
    local_args = iter(args)
    full = [stack_args[slot.index] if slot.where == "stack" else next(local_args)
            for slot in sig if slot.kind != K_NULL]
    t.rec.ops.append(Op("jump", full, descr=target.trace))
    expand_rechecks(t, t.assumptions.items + target.closure)
    if t.mode == "loop":
        complete_snapshots(t)
    inputargs = t.inputargs if t.mode == "bridge" else signature_args(t.signature)
    trace = Trace(list(inputargs), t.rec.ops, keepalive=t.keepalive)
    return TraceResult(trace, "header" if t.mode == "loop" else "bridge", t.code,
                       t.start, t.signature, t.assumptions.items, target=target,
                       frame_depth=t.frame_depth, greens=t.green_inputs)


def finish(t: Tracer, why: str) -> TraceResult:
    """End a bridge with ``finish`` (a loop trace aborts instead)."""
    if t.mode == "loop":
        raise TraceAbort(Abort.NO_TARGET, why)
    t.rec.after_effects()
    t.emit("finish", [])
    expand_rechecks(t, t.assumptions.items)
    trace = Trace(list(t.inputargs), t.rec.ops, keepalive=t.keepalive)
    return TraceResult(trace, "bridge", t.code, t.start, t.signature,
                       t.assumptions.items, frame_depth=t.frame_depth, finish_reason=why)
