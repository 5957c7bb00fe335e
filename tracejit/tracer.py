"""The tracer: a meta-interpreter of CPython bytecode that records a trace.

It runs the hot loop for real, one bytecode at a time, on *traced values*
(:class:`TValue`: a concrete Python value plus the IR value that computes it)
and appends one IR operation, or a few, per bytecode, with a guard wherever it
relied on a run-time fact.  Every guard gets a snapshot of the interpreter
state *before* the current bytecode: resuming there lets CPython redo that
bytecode generically, which is how exceptions, overflows and type changes get
exactly CPython's behaviour.  An instruction's guards always come before its
side effects so that redoing it is safe.

Frame model (see docs/architecture.md): ``int``/``float``/``bool`` locals live
unboxed in the trace and reach the frame only at exits; reference locals are
written through to the frame when stored, so loop-carried references are
always owned by the frame.  Calls to small pure Python functions are inlined
with virtual frames; a guard inside them resumes before the outer ``CALL``.
"""

from __future__ import annotations

import math
import operator
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.ir import (
    CONST_NULL,
    FLOAT,
    INT,
    REF,
    Const,
    ExitDescr,
    InputArg,
    LongLayout,
    Op,
    Trace,
    Value,
    const_float,
    const_int,
    const_ref,
    fits_int64,
)


class _PauseCounter:
    """The int64 cell compiled loops count down (see _emit_periodic_pause)."""

    def __init__(self) -> None:
        import ctypes

        self.cell = ctypes.c_int64(PAUSE_EVERY)
        self.address = ctypes.addressof(self.cell)

    def reset(self) -> None:
        self.cell.value = PAUSE_EVERY


PAUSE_EVERY = 1 << 20
PAUSE_COUNTER = _PauseCounter()


ABSENT = object()  # a global name that is not bound (assumed to stay unbound)


class TraceAbort(Exception):
    """Tracing stops; CPython carries on from the instruction being traced."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# kinds of traced values
K_INT, K_FLOAT, K_BOOL, K_REF, K_TUPLE, K_NULL = "int", "float", "bool", "ref", "tuple", "null"
_IR_TYPE = {K_INT: INT, K_BOOL: INT, K_FLOAT: FLOAT, K_REF: REF}


class TValue:
    """A traced value: concrete value + how the trace computes it.

    ``kind`` int/bool hold an ``i`` value, float an ``f`` value, ref an ``r``
    value (``owned`` if the trace holds a reference to release), tuple is a
    virtual tuple whose ``items`` are TValues, null is C NULL.
    ``frame_slot`` is the frame stack slot that already holds this object.
    """

    __slots__ = ("kind", "box", "py", "items", "owned", "frame_slot", "ref")

    def __init__(self, kind: str, box: Value | None, py: Any, items: list | None = None,
                 owned: bool = False) -> None:
        self.kind = kind
        self.box = box
        self.py = py
        self.items = items
        self.owned = owned
        self.frame_slot = -1
        self.ref: Value | None = None  # the (borrowed) object it was unboxed from

    def __repr__(self) -> str:
        return f"TValue({self.kind}, {self.py!r:.30})"


NULL_T = TValue(K_NULL, CONST_NULL, cp.NULL)
_LAZY = object()  # local not yet read from the real frame


def kind_of(obj: Any) -> str:
    t = type(obj)
    if t is bool:
        return K_BOOL
    if t is int:
        return K_INT
    if t is float:
        return K_FLOAT
    return K_REF


def const_tvalue(obj: Any) -> TValue:
    k = kind_of(obj)
    if k == K_INT:
        if not fits_int64(obj):
            return TValue(K_REF, const_ref(obj), obj)
        return TValue(K_INT, const_int(obj), obj)
    if k == K_BOOL:
        return TValue(K_BOOL, const_int(int(obj)), obj)
    if k == K_FLOAT:
        return TValue(K_FLOAT, const_float(obj), obj)
    if type(obj) is tuple and len(obj) <= 16:
        return TValue(K_TUPLE, None, obj, [const_tvalue(x) for x in obj])
    return TValue(K_REF, const_ref(obj), obj)


# ---------------------------------------------------------------------------
# snapshots: what a guard needs to rebuild the frame


@dataclass
class Snapshot:
    """Interpreter state before the bytecode at ``offset`` of the outer frame.

    ``locals`` maps local index -> TValue for locals the frame does not hold;
    ``stack`` is the full value stack; ``frame_depth`` is how many stack slots
    the real frame owns at this point (their contents may be stale).
    """

    offset: int
    locals: dict[int, TValue]
    stack: list[TValue]
    frame_depth: int


@dataclass(eq=False)
class InSlot:
    """One input of a trace that starts at a loop header."""

    where: str  # "local" or "stack"
    index: int
    kind: str
    pytype: type
    arg: InputArg | None = None


@dataclass(eq=False)
class GlobalAssumption:
    namespace: dict
    key: str
    value: Any


@dataclass
class InlineFrame:
    code: types.CodeType
    locals: list
    stack: list
    pc: int
    func: Any
    return_to: int = 0  # offset in the caller after the CALL


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
    finish_state: Any = None


# ---------------------------------------------------------------------------


def long_layout() -> LongLayout:
    return LongLayout(cp.LONG_TAG, cp.LONG_DIGITS, cp.LONG_NON_SIZE_BITS,
                      helpers.c_symbol("PyLong_AsLongAndOverflow"))


_SEQ_ITER_TYPES = None


def seq_iter_types() -> dict[type, type]:
    global _SEQ_ITER_TYPES
    if _SEQ_ITER_TYPES is None:
        _SEQ_ITER_TYPES = {cp.LIST_ITER_TYPE: list, cp.TUPLE_ITER_TYPE: tuple}
    return _SEQ_ITER_TYPES


BINARY_OPS = {
    0: "+", 1: "&", 2: "//", 3: "<<", 5: "*", 6: "%", 7: "|", 8: "**", 9: ">>",
    10: "-", 11: "/", 12: "^",
}
_PY_BINOP: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "&": operator.and_, "//": operator.floordiv, "<<": operator.lshift,
    "*": operator.mul, "%": operator.mod, "|": operator.or_, "**": operator.pow,
    ">>": operator.rshift, "-": operator.sub, "/": operator.truediv, "^": operator.xor,
}
_CMP = ("<", "<=", "==", "!=", ">", ">=")
_PY_CMP = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
           ">": operator.gt, ">=": operator.ge}
_CMP_SUFFIX = {"<": "lt", "<=": "le", "==": "eq", "!=": "ne", ">": "gt", ">=": "ge"}
_SWAP_CMP = {"<": ">", "<=": ">=", "==": "==", "!=": "!=", ">": "<", ">=": "<="}
TWO53 = 1 << 53


class Tracer:
    """Records one trace starting from a live CPython frame.

    ``mode`` is "loop" (start at a loop header, close when it comes back) or
    "bridge" (start at a guard's resume point, end at any loop header).
    ``find_target(code, offset, kinds)`` returns a compiled trace of that loop
    header accepting the current state, or None.
    """

    def __init__(self, frame: types.FrameType, code: types.CodeType, start: int, mode: str,
                 limit: int, find_target: Callable, inline_depth: int = 6) -> None:
        self.frame = frame
        self.code = code
        self.start = start
        self.mode = mode
        self.limit = limit
        self.find_target = find_target
        self.inline_depth = inline_depth
        self.ops: list[Op] = []
        self.inputargs: list[InputArg] = []
        self.signature: list[InSlot] = []
        self.assumptions: list[GlobalAssumption] = []
        self._assumed: dict[tuple[int, str], GlobalAssumption] = {}
        self.keepalive: list[Any] = []
        self.instrs = cp.instructions(code)
        self.index_of = {ins.offset: i for i, ins in enumerate(self.instrs)}
        self.headers = cp.loop_headers(code)
        self.nlocals = cp.nlocalsplus(code)
        self.locals: list[Any] = [_LAZY] * self.nlocals
        self.written: set[int] = set()
        self.stack: list[TValue] = []
        self.frame_depth = 0
        self.pc = start
        self.inline: list[InlineFrame] = []
        self.call_snapshot: tuple | None = None  # outer state at the outermost inlined CALL
        self.guards: list[Op] = []
        self._frame_ptr: Op | None = None
        self._iframe: Op | None = None
        self.long_layout = long_layout()
        self.result_target: Any = None
        self.passed_headers: set[int] = set()

    # -- set-up --------------------------------------------------------------

    started = False

    def start_loop(self) -> None:
        """Stack slots at the header become typed inputs (they are iterators)."""
        stack = cp.read_stack(self.frame)
        self.frame_depth = len(stack)
        for k, obj in enumerate(stack):
            if obj is cp.NULL:
                # e.g. the saved loop variable of a 3.12 inlined comprehension
                self.signature.append(InSlot("stack", k, K_NULL, type(None), None))
                tv = TValue(K_NULL, CONST_NULL, cp.NULL)
                tv.frame_slot = k
                self.stack.append(tv)
                continue
            arg = InputArg(REF)
            slot = InSlot("stack", k, K_REF, type(obj), arg)
            self.signature.append(slot)
            tv = TValue(K_REF, arg, obj)
            tv.frame_slot = k
            self.stack.append(tv)
        self.started = True

    def start_bridge(self, values: dict[int, TValue], stack: list[TValue], depth: int,
                     inputargs: list[InputArg]) -> None:
        self.inputargs = list(inputargs)
        for idx, tv in values.items():
            self.locals[idx] = tv
            self.written.add(idx)
        self.stack = list(stack)
        self.frame_depth = depth
        self.started = True

    # -- recording helpers ---------------------------------------------------

    def emit(self, name: str, args: list[Value] | tuple = (), descr: Any = None) -> Op:
        op = Op(name, args, descr)
        if name == "decref" or (name.startswith("call_") and descr.releases):
            self._forget_refs()
        if op.is_guard():
            op.snapshot = self.snapshot()
            op.exit = ExitDescr()
            self.guards.append(op)
        self.ops.append(op)
        return op

    def _forget_refs(self) -> None:
        """Objects may be freed from here on: unboxed values no longer know
        the object they came from (they will be boxed anew if stored)."""
        frames = [(self.locals, self.stack)] + [(f.locals, f.stack) for f in self.inline]
        todo = [tv for loc, stack in frames for tv in list(loc) + list(stack)]
        while todo:
            tv = todo.pop()
            if isinstance(tv, TValue):
                tv.ref = None
                if tv.items:
                    todo.extend(tv.items)

    def guard_true(self, cond: Value, expected: bool = True) -> None:
        if isinstance(cond, Const):
            if bool(cond.value) != expected:
                raise TraceAbort("internal: constant guard fails")
            return
        self.emit("guard_true" if expected else "guard_false", [cond])

    def snapshot(self) -> Snapshot:
        if self.call_snapshot is not None:
            offset, loc, stack = self.call_snapshot
            return Snapshot(offset, dict(loc), [_frozen(v) for v in stack], self.frame_depth)
        loc = {i: v for i, v in enumerate(self.locals)
               if v is not _LAZY and i in self.written and v.kind != K_REF}
        return Snapshot(self.pc, loc, [_frozen(v) for v in self.stack], self.frame_depth)

    def frame_ptr(self) -> Op:
        if self._iframe is None:
            self._frame_ptr = self.emit("get_frame")
            self._iframe = self.emit("raw_load_i", [self._frame_ptr], cp.FRAMEOBJ_IFRAME)
        return self._iframe

    def local_offset(self, idx: int) -> int:
        return cp.IFRAME_LOCALSPLUS + 8 * idx

    def stack_offset(self, k: int) -> int:
        return cp.IFRAME_LOCALSPLUS + 8 * (self.nlocals + k)

    def unbox(self, r: Value, obj: Any) -> TValue:
        """Guard the class of ``r`` (concretely ``obj``) and unbox it."""
        t = type(obj)
        self.emit("guard_class", [r, const_int(id(t))])
        k = kind_of(obj)
        if k == K_INT:
            if not fits_int64(obj):
                raise TraceAbort("int beyond 64 bits")
            tv = TValue(K_INT, self.emit("unbox_int", [r], self.long_layout), obj)
        elif k == K_FLOAT:
            tv = TValue(K_FLOAT, self.emit("getfield_f", [r], cp.FLOAT_VALUE), obj)
        elif k == K_BOOL:
            tv = TValue(K_BOOL, self.emit("ptr_eq", [r, const_ref(True)]), obj)
        else:
            tv = None
        if tv is not None:
            # storing the value again stores this very object (identity kept)
            tv.ref = r
            return tv
        if obj is None:
            return TValue(K_REF, const_ref(None), None)
        return TValue(K_REF, r, obj)

    def box(self, tv: TValue) -> tuple[Value, bool]:
        """An object reference for ``tv``; returns (value, owned)."""
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
            return tv.box, tv.owned
        raise TraceAbort(f"cannot box a {tv.kind}")

    # -- locals --------------------------------------------------------------

    def read_local(self, idx: int, allow_null: bool = False) -> TValue:
        if self.inline:
            v = self.inline[-1].locals[idx]
            if v is None:
                raise TraceAbort("unbound local in inlined function")
            return v
        v = self.locals[idx]
        if v is not _LAZY and v.kind == K_NULL and not allow_null:
            raise TraceAbort("unbound local")
        if v is _LAZY:
            obj = cp.read_local(self.frame, idx)
            if obj is cp.NULL and allow_null and self.mode == "bridge":
                r = self.emit("raw_load_r", [self.frame_ptr()], self.local_offset(idx))
                self.guard_true(self.emit("ptr_eq", [r, CONST_NULL]))
                v = self.locals[idx] = TValue(K_NULL, CONST_NULL, cp.NULL)
                return v
            if obj is cp.NULL:
                raise TraceAbort("unbound local")
            if self.mode == "loop":
                k = kind_of(obj)
                if k == K_INT and not fits_int64(obj):
                    raise TraceAbort("int beyond 64 bits in a local")
                arg = InputArg(_IR_TYPE[k])
                self.signature.append(InSlot("local", idx, k, type(obj), arg))
                v = TValue(k, arg, obj) if obj is not None else TValue(K_REF, const_ref(None), None)
                if obj is None:
                    self.signature[-1].arg = arg
            else:
                r = self.emit("raw_load_r", [self.frame_ptr()], self.local_offset(idx))
                self.emit("guard_nonnull", [r])
                v = self.unbox(r, obj)
            self.locals[idx] = v
        return v

    def write_local(self, idx: int, tv: TValue) -> None:
        if self.inline:
            self.inline[-1].locals[idx] = tv
            return
        if tv.kind == K_REF:
            if tv.box is None:
                raise TraceAbort("virtual range stored in a local")
            self._write_through(idx, tv)
        if tv.kind == K_TUPLE and not all(i.kind != K_TUPLE for i in tv.items):
            raise TraceAbort("nested virtual tuple in a local")
        self.locals[idx] = tv
        self.written.add(idx)

    def _write_through(self, idx: int, tv: TValue) -> None:
        fp = self.frame_ptr()
        off = self.local_offset(idx)
        old = self.emit("raw_load_r", [fp], off)
        if not tv.owned:
            self.emit("incref", [tv.box])
        self.emit("raw_store_r", [fp, tv.box], off)
        self.emit("call_v", [old], helpers.xdecref())
        tv.owned = False

    # -- stack ---------------------------------------------------------------

    def push(self, tv: TValue) -> None:
        (self.inline[-1].stack if self.inline else self.stack).append(tv)

    def pop(self) -> TValue:
        st = self.inline[-1].stack if self.inline else self.stack
        tv = st.pop()
        return tv

    def peek(self, n: int = 1) -> TValue:
        st = self.inline[-1].stack if self.inline else self.stack
        return st[-n]

    def drop(self, tv: TValue) -> None:
        """A value leaves the stack for good: release what the trace owns."""
        if tv.kind == K_REF and tv.owned:
            self.emit("decref", [tv.box])
            tv.owned = False

    # -- main loop -----------------------------------------------------------

    def run(self) -> TraceResult:
        first = True
        while True:
            if not self.inline:
                if self.pc in self.headers and not first:
                    return self.close_at_header()
                if len(self.ops) > self.limit:
                    raise TraceAbort("trace too long")
            first = False
            code = self.inline[-1].code if self.inline else self.code
            pc = self.inline[-1].pc if self.inline else self.pc
            ins = self._instr(code, pc)
            handler = getattr(self, "op_" + ins.opname, None)
            if handler is None:
                raise TraceAbort(f"unsupported bytecode {ins.opname}")
            stack = self.inline[-1].stack if self.inline else self.stack
            saved = list(stack)
            try:
                nxt = handler(ins)
            except TraceAbort:
                # CPython redoes this instruction: it must see the stack unchanged
                stack[:] = saved
                raise
            if self.done is not None:
                return self.done
            if nxt is None:
                nxt = self._next_offset(code, pc)
            if self.inline:
                self.inline[-1].pc = nxt
            else:
                self.pc = nxt

    done: TraceResult | None = None

    def _instr(self, code: types.CodeType, pc: int) -> Any:
        ins, index = _code_index(code)
        return ins[index[pc]]

    def _next_offset(self, code: types.CodeType, pc: int) -> int:
        ins, index = _code_index(code)
        return ins[index[pc] + 1].offset

    # -- closing -------------------------------------------------------------

    def close_at_header(self) -> TraceResult:
        if self.mode == "loop" and self.pc == self.start:
            return self._close_loop()
        target = self._pick_target(self.find_target(self.code, self.pc, None))
        if target is None:
            if self.mode == "loop":
                # an inner loop that is not compiled: keep tracing through it
                self.headers = self.headers - {self.pc}
                return self.run()
            if self.pc not in self.passed_headers:
                # a bridge passes once through a loop without code of its own
                # (e.g. the middle loop of three), hoping to reach compiled code
                self.passed_headers.add(self.pc)
                return self.run()
            return self._finish("loop header without compiled code")
        return self._jump_to(target)

    def _pick_target(self, versions: list) -> Any:
        """The first compiled version whose input types match the current state."""
        for version in versions:
            if self._matches(version.signature):
                return version
        return None

    def _matches(self, signature: list[InSlot]) -> bool:
        depth = sum(1 for s in signature if s.where == "stack")
        if depth != len(self.stack):
            return False
        for slot in signature:
            if slot.where == "stack":
                tv = self.stack[slot.index]
                if slot.kind == K_NULL:
                    if tv.kind != K_NULL:
                        return False
                elif tv.kind != K_REF or tv.box is None or type(tv.py) is not slot.pytype:
                    return False
                continue
            tv = self.locals[slot.index]
            obj = cp.read_local(self.frame, slot.index) if tv is _LAZY else tv.py
            if obj is cp.NULL or type(obj) is not slot.pytype:
                return False
            if slot.kind == K_INT and not fits_int64(obj):
                return False
        return True

    def _close_loop(self) -> TraceResult:
        # the stack at the header must be the same objects as at entry
        if len(self.stack) != self.frame_depth:
            raise TraceAbort("stack depth changed around the loop")
        for k, tv in enumerate(self.stack):
            slot = self.signature[k]
            if (tv.kind != K_NULL) if slot.kind == K_NULL else (tv.box is not slot.arg):
                raise TraceAbort("stack contents changed around the loop")
        # written locals that were never read still need a loop-carried slot
        for idx in sorted(self.written):
            tv = self.locals[idx]
            if any(s.where == "local" and s.index == idx for s in self.signature):
                continue
            obj = cp.read_local(self.frame, idx)
            if obj is cp.NULL or kind_of(obj) != tv.kind or type(obj) is not type(tv.py):
                raise TraceAbort("loop-carried local changes type")
            k = kind_of(obj)
            if k == K_INT and not fits_int64(obj):
                raise TraceAbort("int beyond 64 bits in a local")
            if k == K_REF and obj is None:
                continue
            self.signature.append(InSlot("local", idx, k, type(obj), InputArg(_IR_TYPE[k])))
        jump_args: list[Value] = []
        for slot in self.signature:
            if slot.where == "stack":
                if slot.kind != K_NULL:
                    jump_args.append(slot.arg)
                continue
            tv = self.locals[slot.index]
            if tv is _LAZY:
                jump_args.append(slot.arg)
                continue
            if tv.kind != slot.kind or type(tv.py) is not slot.pytype:
                raise TraceAbort(f"type-unstable loop ({slot.pytype.__name__} -> "
                                 f"{type(tv.py).__name__})")
            if tv.kind == K_TUPLE:
                raise TraceAbort("virtual tuple carried around the loop")
            jump_args.append(tv.box)
        self._emit_periodic_pause()
        self._complete_snapshots()
        inputargs = signature_args(self.signature)
        label = Op("label", inputargs)
        ops = [label] + self.ops + [Op("jump", jump_args)]
        trace = Trace(list(inputargs), ops, keepalive=self.keepalive)
        header_locals = {s.index: TValue(s.kind, s.arg, None) for s in self.signature
                         if s.where == "local" and s.kind != K_REF}
        header_stack = []
        for s in self.signature:
            if s.where == "stack":
                tv = TValue(K_NULL, CONST_NULL, cp.NULL) if s.kind == K_NULL else \
                    TValue(K_REF, s.arg, None)
                tv.frame_slot = s.index
                header_stack.append(tv)
        trace.header_snapshot = Snapshot(self.start, header_locals, header_stack,
                                         self.frame_depth)
        return TraceResult(trace, "loop", self.code, self.start, self.signature,
                           self.assumptions, frame_depth=self.frame_depth)

    def _emit_periodic_pause(self) -> None:
        """Every PAUSE_EVERY iterations (counted across all loops) compiled code
        returns to CPython at the loop header, so that signal handlers
        (Ctrl-C), thread switches and other pending work run as they would in
        the interpreter; the next back-jump enters the loop again."""
        cell = const_int(PAUSE_COUNTER.address)
        left = self.emit("raw_load_i", [cell], 0)
        left = self.emit("int_sub", [left, const_int(1)])
        self.emit("raw_store_i", [cell, left], 0)
        guard = self.emit("guard_true", [self.emit("int_gt", [left, const_int(0)])])
        guard.exit.periodic = True

    def _complete_snapshots(self) -> None:
        """Unboxed inputs live in registers, not in the frame: every exit must
        write them back, including exits before the trace first touched them
        (when entered from a bridge, the frame may hold stale values)."""
        for g in self.guards:
            snap = g.snapshot
            for slot in self.signature:
                if (slot.where == "local" and slot.kind != K_REF
                        and slot.index not in snap.locals):
                    snap.locals[slot.index] = TValue(slot.kind, slot.arg, None)

    def sync_frame_for(self, keep_locals: set[int]) -> None:
        """Before leaving compiled code at a header: put unboxed locals that the
        target does not take as inputs into the frame.

        A loop trace's unboxed inputs count as written: it may be entered
        from another trace that passed them in registers without storing them
        (see _complete_snapshots)."""
        dirty = set(self.written)
        if self.mode == "loop":
            dirty |= {slot.index for slot in self.signature
                      if slot.where == "local" and slot.kind != K_REF}
        for idx in sorted(dirty):
            tv = self.locals[idx]
            if idx in keep_locals or tv is _LAZY or tv.kind == K_REF:
                continue
            if tv.kind == K_NULL:
                boxed, owned = CONST_NULL, True
            elif tv.kind == K_TUPLE:
                boxed, owned = self._materialize(tv)
            else:
                boxed, owned = self.box(tv)
            fp = self.frame_ptr()
            off = self.local_offset(idx)
            old = self.emit("raw_load_r", [fp], off)
            if not owned:
                self.emit("incref", [boxed])
            self.emit("raw_store_r", [fp, boxed], off)
            self.emit("call_v", [old], helpers.xdecref())

    def _materialize(self, tv: TValue) -> tuple[Value, bool]:
        raise TraceAbort("virtual tuple escapes into the frame")

    def sync_stack(self, depth: int) -> None:
        fp = self.frame_ptr()
        for k in range(max(depth, self.frame_depth)):
            if k < depth:
                tv = self.stack[k]
                if tv.frame_slot == k:
                    continue
                if tv.kind == K_NULL:
                    boxed, owned = CONST_NULL, True  # nothing to incref
                    tv = self.stack[k] = TValue(K_NULL, CONST_NULL, cp.NULL)
                else:
                    boxed, owned = self.box(tv)
                off = self.stack_offset(k)
                if k < self.frame_depth:
                    old = self.emit("raw_load_r", [fp], off)
                if not owned:
                    self.emit("incref", [boxed])
                self.emit("raw_store_r", [fp, boxed], off)
                if k < self.frame_depth:
                    self.emit("call_v", [old], helpers.xdecref())
                tv.owned = False
                tv.frame_slot = k
            else:
                off = self.stack_offset(k)
                old = self.emit("raw_load_r", [fp], off)
                self.emit("raw_store_r", [fp, CONST_NULL], off)
                self.emit("call_v", [old], helpers.xdecref())

    def _jump_to(self, target: Any) -> TraceResult:
        sig: list[InSlot] = target.signature
        for slot in sig:
            if slot.where == "local":
                self.read_local(slot.index)  # forces a frame read + guard if lazy
        keep = {s.index for s in sig if s.where == "local" and s.kind != K_REF}
        args: list[Value] = []
        for slot in sig:
            if slot.where == "local":
                tv = self.locals[slot.index]
                if tv.kind != slot.kind or type(tv.py) is not slot.pytype:
                    return self._finish(
                        f"types differ from the compiled loop (local {slot.index}: "
                        f"{type(tv.py).__name__} {tv.kind}, compiled for "
                        f"{slot.pytype.__name__} {slot.kind})")
                args.append(tv.box)
        self.sync_frame_for(keep)
        self.sync_stack(len(self.stack))
        stack_args = [tv.box for tv in self.stack]
        local_args = iter(args)
        full = [stack_args[slot.index] if slot.where == "stack" else next(local_args)
                for slot in sig if slot.kind != K_NULL]
        self.ops.append(Op("jump", full, descr=target.trace))
        if self.mode == "loop":
            self._complete_snapshots()
        inputargs = self.inputargs if self.mode == "bridge" else signature_args(self.signature)
        trace = Trace(list(inputargs), self.ops, keepalive=self.keepalive)
        res = TraceResult(trace, "header" if self.mode == "loop" else "bridge", self.code,
                          self.start, self.signature, self.assumptions, target=target,
                          frame_depth=self.frame_depth)
        return res

    def _finish(self, why: str) -> TraceResult:
        if self.mode == "loop":
            raise TraceAbort(why)
        self.emit("finish", [])
        self.finish_reason = why
        trace = Trace(list(self.inputargs), self.ops, keepalive=self.keepalive)
        return TraceResult(trace, "bridge", self.code, self.start, self.signature,
                           self.assumptions, frame_depth=self.frame_depth)

    # -- state for CPython when tracing stops --------------------------------

    def concrete_state(self) -> tuple[int, dict[int, Any], list[Any]]:
        """Offset, locals to write and stack, as Python objects, for resuming
        CPython at the instruction that is about to be traced."""
        loc = {i: v for i, v in enumerate(self.locals) if v is not _LAZY}
        if self.call_snapshot is not None:
            offset, _, stack = self.call_snapshot
        else:
            offset = self.pc
            stack = self.stack
        return offset, {i: concrete(v) for i, v in loc.items()}, [concrete(v) for v in stack]

    # ========================================================================
    # bytecode handlers: each returns the next offset or None (fall through)

    def op_RESUME(self, ins: Any) -> None:
        pass

    op_NOP = op_RESUME
    op_EXTENDED_ARG = op_RESUME

    def op_CACHE(self, ins: Any) -> None:
        pass

    def op_LOAD_FAST(self, ins: Any) -> None:
        self.push(self.read_local(ins.arg))

    op_LOAD_FAST_CHECK = op_LOAD_FAST

    def op_LOAD_FAST_LOAD_FAST(self, ins: Any) -> None:
        # read both before pushing: a guard emitted by the second read must
        # see the stack as it was before this instruction, which it redoes
        first = self.read_local(ins.arg >> 4)
        second = self.read_local(ins.arg & 15)
        self.push(first)
        self.push(second)

    def op_LOAD_FAST_AND_CLEAR(self, ins: Any) -> None:
        # 3.12/3.13 inlined comprehensions save the loop variable this way
        if self.inline:
            raise TraceAbort("comprehension inside an inlined function")
        self.push(self.read_local(ins.arg, allow_null=True))
        self.write_local(ins.arg, TValue(K_NULL, CONST_NULL, cp.NULL))

    def op_BUILD_LIST(self, ins: Any) -> None:
        n = ins.arg
        st = self.inline[-1].stack if self.inline else self.stack
        items = st[len(st) - n:] if n else []
        if any(i.kind in (K_TUPLE, K_NULL) for i in items):
            raise TraceAbort("virtual value in a list display")
        r = self.emit("call_r", [const_int(n)], helpers.new_list())
        for k, item in enumerate(items):  # PyList_New leaves the n slots NULL
            boxed, owned = self.box(item)
            if not owned:
                self.emit("incref", [boxed])
            self.emit("setlistitem_r", [r, const_int(k), boxed], cp.LIST_ITEMS)
            item.owned = False  # the list holds it now
        del st[len(st) - n:]
        self.push(TValue(K_REF, r, [i.py for i in items], owned=True))

    def op_STORE_FAST(self, ins: Any) -> None:
        self.write_local(ins.arg, self.pop())

    def op_STORE_FAST_STORE_FAST(self, ins: Any) -> None:
        self.write_local(ins.arg >> 4, self.pop())
        self.write_local(ins.arg & 15, self.pop())

    def op_STORE_FAST_LOAD_FAST(self, ins: Any) -> None:
        if ins.arg >> 4 != ins.arg & 15:
            self.read_local(ins.arg & 15)  # any guard it needs, before the pop
        self.write_local(ins.arg >> 4, self.pop())
        self.push(self.read_local(ins.arg & 15))

    def op_LOAD_CONST(self, ins: Any) -> None:
        self.push(const_tvalue(ins.argval))

    def op_RETURN_CONST(self, ins: Any) -> Any:
        return self._return(const_tvalue(ins.argval))

    def op_RETURN_VALUE(self, ins: Any) -> Any:
        if not self.inline:
            return self._return(None)
        return self._return(self.pop())

    def _return(self, tv: TValue | None) -> Any:
        if not self.inline:
            self.done = self._finish("return from the traced function")
            return None
        frame = self.inline.pop()
        for v in frame.stack:
            self.drop(v)
        if not self.inline:
            self.call_snapshot = None
            self.pc = frame.return_to
        self.push(tv)
        return frame.return_to

    def op_POP_TOP(self, ins: Any) -> None:
        self.drop(self.pop())

    def op_PUSH_NULL(self, ins: Any) -> None:
        self.push(NULL_T)

    def op_COPY(self, ins: Any) -> None:
        tv = self.peek(ins.arg)
        if tv.kind == K_REF and tv.owned:
            raise TraceAbort("COPY of an owned reference")
        self.push(tv)

    def op_SWAP(self, ins: Any) -> None:
        st = self.inline[-1].stack if self.inline else self.stack
        st[-1], st[-ins.arg] = st[-ins.arg], st[-1]

    # -- globals and attributes ----------------------------------------------

    def _func_globals(self) -> dict:
        if self.inline:
            return self.inline[-1].func.__globals__
        return self.frame.f_globals

    def assume(self, namespace: dict, key: str) -> Any:
        ident = (id(namespace), key)
        if ident in self._assumed:
            return self._assumed[ident].value
        value = namespace.get(key, ABSENT)
        if value is ABSENT:
            return ABSENT
        a = GlobalAssumption(namespace, key, value)
        self._assumed[ident] = a
        self.assumptions.append(a)
        return value

    def op_LOAD_GLOBAL(self, ins: Any) -> None:
        name = self._global_name(ins)
        g = self._func_globals()
        value = self.assume(g, name)
        if value is ABSENT:
            builtins = self.frame.f_builtins if not self.inline else g.get("__builtins__")
            if isinstance(builtins, types.ModuleType):
                builtins = builtins.__dict__
            if builtins is None:
                raise TraceAbort("no builtins")
            self.assume_absent(g, name)
            value = self.assume(builtins, name)
            if value is ABSENT:
                raise TraceAbort(f"global {name!r} not found")
        tv = const_tvalue(value)
        self.keepalive.append(value)
        if ins.arg & 1 and cp.PY312:
            self.push(NULL_T)
        self.push(tv)
        if ins.arg & 1 and not cp.PY312:
            self.push(NULL_T)

    def assume_absent(self, namespace: dict, key: str) -> None:
        ident = (id(namespace), key)
        if ident not in self._assumed:
            a = GlobalAssumption(namespace, key, ABSENT)
            self._assumed[ident] = a
            self.assumptions.append(a)

    def _global_name(self, ins: Any) -> str:
        code = self.inline[-1].code if self.inline else self.code
        return code.co_names[ins.arg >> 1]

    def op_LOAD_ATTR(self, ins: Any) -> None:
        code = self.inline[-1].code if self.inline else self.code
        name = code.co_names[ins.arg >> 1]
        owner = self.pop()
        if owner.kind != K_REF or not isinstance(owner.box, Const) or \
                type(owner.py) is not types.ModuleType:
            raise TraceAbort("attribute access (only module attributes are traced)")
        value = self.assume(owner.py.__dict__, name)
        if value is ABSENT:
            raise TraceAbort("missing module attribute")
        self.keepalive.append(value)
        tv = const_tvalue(value)
        if ins.arg & 1:
            # method-style load on a module: [NULL, attr] (3.12) / [attr, NULL] (3.13)
            if cp.PY312:
                self.push(NULL_T)
                self.push(tv)
            else:
                self.push(tv)
                self.push(NULL_T)
        else:
            self.push(tv)

    # -- arithmetic ----------------------------------------------------------

    def op_BINARY_OP(self, ins: Any) -> None:
        sym = BINARY_OPS.get(ins.arg - 13 if ins.arg >= 13 else ins.arg)  # 13+: in-place
        if sym is None:
            raise TraceAbort(f"binary operator {ins.arg}")
        b = self.peek(1)
        a = self.peek(2)
        if sym == "*" and ins.arg < 13 and a.kind == K_REF and type(a.py) is list \
                and b.kind in (K_INT, K_BOOL):
            res = self.repeat_list(a, b)
        else:
            res = self.binary(sym, a, b)
        self.pop()
        self.pop()
        self.drop(a)
        self.push(res)

    def repeat_list(self, a: TValue, b: TValue) -> TValue:
        """``list * int`` (e.g. ``[0.0] * n``): a new list."""
        r = self.emit("call_r", [a.box, b.box], helpers.sequence_repeat())
        self.emit("guard_nonnull", [r])  # MemoryError: CPython redoes it and raises
        return TValue(K_REF, r, a.py * b.py, owned=True)

    def binary(self, sym: str, a: TValue, b: TValue) -> TValue:
        ka, kb = a.kind, b.kind
        if ka not in (K_INT, K_BOOL, K_FLOAT) or kb not in (K_INT, K_BOOL, K_FLOAT):
            raise TraceAbort(f"{sym} on {type(a.py).__name__} and {type(b.py).__name__}")
        try:
            py = _PY_BINOP[sym](a.py, b.py)
        except Exception as e:
            raise TraceAbort(f"{sym} raises {type(e).__name__}") from None
        if K_FLOAT in (ka, kb):
            if type(py) is not float:
                raise TraceAbort("float operation with a non-float result")
            return TValue(K_FLOAT, self.float_binary(sym, self.as_float(a), self.as_float(b),
                                                     b), py)
        if ka == K_BOOL and kb == K_BOOL and sym in ("&", "|", "^"):
            name = {"&": "int_and", "|": "int_or", "^": "int_xor"}[sym]
            return TValue(K_BOOL, self.fold(name, a.box, b.box), py)
        if type(py) is int and not fits_int64(py):
            raise TraceAbort("integer result beyond 64 bits")
        return self.int_binary(sym, a, b, py)

    def as_float(self, tv: TValue) -> Value:
        if tv.kind == K_FLOAT:
            return tv.box
        if isinstance(tv.box, Const):
            return const_float(float(tv.box.value))
        return self.emit("cast_int_to_float", [tv.box])

    def fold(self, name: str, *args: Value) -> Value:
        """Emit a pure op, folding it when all arguments are constants."""
        if all(isinstance(a, Const) for a in args):
            from tracejit.opt.fold import evaluate

            val = evaluate(name, [a.value for a in args])
            if val is not None:
                return Const(Op(name, args).type, val)
        return self.emit(name, list(args))

    def float_binary(self, sym: str, x: Value, y: Value, b: TValue) -> Value:
        if sym in ("/", "//", "%"):
            if not (isinstance(y, Const) and y.value != 0.0):
                self.guard_true(self.emit("float_ne", [y, const_float(0.0)]))
        if sym == "**":
            if isinstance(y, Const) and y.value == 2.0:
                return self.fold("float_mul", x, x)
            r = self.emit("call_f", [x, y], helpers.libm("pow"))
            self.guard_true(self.emit("float_gt", [x, const_float(0.0)]))
            self._guard_finite(r)
            return r
        name = {"+": "float_add", "-": "float_sub", "*": "float_mul", "/": "float_truediv",
                "//": "float_floordiv", "%": "float_mod"}.get(sym)
        if name is None:
            raise TraceAbort(f"float {sym}")
        return self.fold(name, x, y)

    def _guard_finite(self, r: Value) -> None:
        absr = self.emit("float_abs", [r])
        self.guard_true(self.emit("float_lt", [absr, const_float(math.inf)]))

    def int_binary(self, sym: str, a: TValue, b: TValue, py: Any) -> TValue:
        x, y = a.box, b.box
        if sym in ("+", "-", "*"):
            name = {"+": "int_add_ovf", "-": "int_sub_ovf", "*": "int_mul_ovf"}[sym]
            if isinstance(x, Const) and isinstance(y, Const):
                return TValue(K_INT, const_int(py), py)
            return TValue(K_INT, self.emit(name, [x, y]), py)
        if sym in ("&", "|", "^"):
            name = {"&": "int_and", "|": "int_or", "^": "int_xor"}[sym]
            return TValue(K_INT, self.fold(name, x, y), py)
        if sym in ("//", "%"):
            self._guard_nonzero(y)
            if sym == "//" and not (isinstance(y, Const) and y.value != -1):
                self.guard_true(self.fold("int_ne", x, const_int(-(1 << 63))))
            name = "int_floordiv" if sym == "//" else "int_mod"
            return TValue(K_INT, self.fold(name, x, y), py)
        if sym == "/":
            self._guard_nonzero(y)
            self._guard_exact_float(x)
            self._guard_exact_float(y)
            fx = self.as_float(a)
            fy = self.as_float(b)
            return TValue(K_FLOAT, self.fold("float_truediv", fx, fy), py)
        if sym == "<<":
            self._guard_shift(y)
            return TValue(K_INT, self.emit("int_lshift_ovf", [x, y]), py)
        if sym == ">>":
            if b.py < 0:
                raise TraceAbort("negative shift")
            self.guard_true(self.fold("int_ge", y, const_int(0)))
            if b.py >= 63:
                self.guard_true(self.fold("int_ge", y, const_int(63)))
                return TValue(K_INT, self.fold("int_rshift", x, const_int(63)), py)
            self.guard_true(self.fold("int_lt", y, const_int(63)))
            return TValue(K_INT, self.fold("int_rshift", x, y), py)
        if sym == "**":
            if not isinstance(y, Const) or not 0 <= y.value <= 64:
                raise TraceAbort("int ** with a non-constant or large exponent")
            return TValue(K_INT, self._int_pow(x, y.value), py)
        raise TraceAbort(f"int {sym}")

    def _int_pow(self, x: Value, n: int) -> Value:
        result: Value = const_int(1)
        base = x
        first = True
        while n:
            if n & 1:
                result = base if first else self.emit("int_mul_ovf", [result, base])
                first = False
            n >>= 1
            if n:
                base = self.emit("int_mul_ovf", [base, base])
        return result

    def _guard_nonzero(self, y: Value) -> None:
        if isinstance(y, Const):
            if y.value == 0:
                raise TraceAbort("division by constant zero")
            return
        self.guard_true(self.emit("int_ne", [y, const_int(0)]))

    def _guard_exact_float(self, x: Value) -> None:
        if isinstance(x, Const):
            if abs(x.value) > TWO53:
                raise TraceAbort("int too large for exact float conversion")
            return
        self.guard_true(self.emit("int_le", [x, const_int(TWO53)]))
        self.guard_true(self.emit("int_ge", [x, const_int(-TWO53)]))

    def _guard_shift(self, y: Value) -> None:
        if isinstance(y, Const):
            if not 0 <= y.value < 64:
                raise TraceAbort("shift count out of range")
            return
        self.guard_true(self.emit("int_ge", [y, const_int(0)]))
        self.guard_true(self.emit("int_lt", [y, const_int(64)]))

    def op_UNARY_NEGATIVE(self, ins: Any) -> None:
        a = self.peek()
        if a.kind == K_FLOAT:
            res = TValue(K_FLOAT, self.fold("float_neg", a.box), -a.py)
        elif a.kind in (K_INT, K_BOOL):
            if not fits_int64(-a.py):
                raise TraceAbort("negation beyond 64 bits")
            if isinstance(a.box, Const):
                res = TValue(K_INT, const_int(-a.py), -a.py)
            else:
                res = TValue(K_INT, self.emit("int_sub_ovf", [const_int(0), a.box]), -a.py)
        else:
            raise TraceAbort("unary minus on an object")
        self.pop()
        self.push(res)

    def op_UNARY_INVERT(self, ins: Any) -> None:
        a = self.peek()
        if a.kind not in (K_INT, K_BOOL):
            raise TraceAbort("~ on a non-int")
        self.pop()
        self.push(TValue(K_INT, self.fold("int_invert", a.box), ~a.py))

    def op_UNARY_NOT(self, ins: Any) -> None:
        a = self.peek()
        b = self.truth(a)
        self.pop()
        self.push(TValue(K_BOOL, self.fold("int_xor", b.box, const_int(1)), not b.py))

    def op_TO_BOOL(self, ins: Any) -> None:
        a = self.peek()
        b = self.truth(a)
        self.pop()
        self.push(b)

    def truth(self, a: TValue) -> TValue:
        if a.kind == K_BOOL:
            return a
        if a.kind == K_INT:
            return TValue(K_BOOL, self.fold("int_ne", a.box, const_int(0)), bool(a.py))
        if a.kind == K_FLOAT:
            return TValue(K_BOOL, self.fold("float_ne", a.box, const_float(0.0)), bool(a.py))
        if a.kind == K_TUPLE:
            return TValue(K_BOOL, const_int(int(bool(a.items))), bool(a.items))
        if a.kind == K_REF:
            if a.py is None:
                return TValue(K_BOOL, const_int(0), False)
            if type(a.py) in (list, tuple):
                n = self.emit("getfield_i", [a.box], cp.VAR_SIZE)
                return TValue(K_BOOL, self.emit("int_ne", [n, const_int(0)]), bool(a.py))
        raise TraceAbort(f"truth value of {type(a.py).__name__}")

    def op_COMPARE_OP(self, ins: Any) -> None:
        sym = _CMP[ins.arg >> (4 if cp.PY312 else 5)]
        b = self.peek(1)
        a = self.peek(2)
        res = self.compare(sym, a, b)
        self.pop()
        self.pop()
        self.push(res)

    def compare(self, sym: str, a: TValue, b: TValue) -> TValue:
        num = (K_INT, K_BOOL, K_FLOAT)
        if a.kind not in num or b.kind not in num:
            if sym in ("==", "!=") and (a.py is None or b.py is None) and \
                    a.kind != K_TUPLE and b.kind != K_TUPLE:
                # comparing with None: decided by the (guarded) types
                if a.kind == K_REF and b.kind == K_REF and a.py is None and b.py is None:
                    v = sym == "=="
                elif a.kind in num or b.kind in num:
                    v = sym == "!="
                else:
                    raise TraceAbort("comparison of objects")
                return TValue(K_BOOL, const_int(int(v)), v)
            raise TraceAbort(f"comparison of {type(a.py).__name__} and {type(b.py).__name__}")
        py = _PY_CMP[sym](a.py, b.py)
        if K_FLOAT in (a.kind, b.kind):
            if a.kind != K_FLOAT:
                self._guard_exact_float(a.box)
            if b.kind != K_FLOAT:
                self._guard_exact_float(b.box)
            r = self.fold("float_" + _CMP_SUFFIX[sym], self.as_float(a), self.as_float(b))
        else:
            r = self.fold("int_" + _CMP_SUFFIX[sym], a.box, b.box)
        return TValue(K_BOOL, r, py)

    def op_IS_OP(self, ins: Any) -> None:
        b = self.peek(1)
        a = self.peek(2)
        if a.kind == K_REF and b.kind == K_REF:
            py = (a.py is b.py) != bool(ins.arg)
            r = self.fold("ptr_eq", a.box, b.box) if not (
                isinstance(a.box, Const) and isinstance(b.box, Const)) else \
                const_int(int(a.py is b.py))
            if ins.arg:
                r = self.fold("int_xor", r, const_int(1))
        elif (a.kind == K_REF and a.py is None) or (b.kind == K_REF and b.py is None):
            py = (a.py is b.py) != bool(ins.arg)
            r = const_int(int(py))
        else:
            raise TraceAbort("`is` on numbers")
        self.pop()
        self.pop()
        self.push(TValue(K_BOOL, r, py))

    # -- jumps ---------------------------------------------------------------

    def op_JUMP_FORWARD(self, ins: Any) -> int:
        return ins.argval

    op_JUMP_BACKWARD = op_JUMP_FORWARD
    op_JUMP_BACKWARD_NO_INTERRUPT = op_JUMP_FORWARD

    def _cond_jump(self, ins: Any, jump_if: bool) -> int | None:
        tv = self.peek()
        b = self.truth(tv)
        taken = bool(b.py) == jump_if
        self.guard_true(b.box, bool(b.py))
        self.pop()
        return ins.argval if taken else None

    def op_POP_JUMP_IF_FALSE(self, ins: Any) -> int | None:
        return self._cond_jump(ins, False)

    def op_POP_JUMP_IF_TRUE(self, ins: Any) -> int | None:
        return self._cond_jump(ins, True)

    def op_POP_JUMP_IF_NONE(self, ins: Any) -> int | None:
        # every traced value has a guarded class, so None-ness is known
        tv = self.pop()
        return ins.argval if tv.py is None else None

    def op_POP_JUMP_IF_NOT_NONE(self, ins: Any) -> int | None:
        tv = self.pop()
        return ins.argval if tv.py is not None else None

    # -- iteration -----------------------------------------------------------

    def op_GET_ITER(self, ins: Any) -> None:
        tv = self.peek()
        if tv.kind == K_TUPLE:
            raise TraceAbort("iterating over a virtual tuple")
        if tv.kind != K_REF or type(tv.py) not in (list, tuple, range, enumerate,
                                                  cp.RANGE_ITER_TYPE):
            raise TraceAbort("iteration over an unsupported object")
        obj = tv.py
        if type(obj) is range:
            it = iter(obj)
            if type(it) is not cp.RANGE_ITER_TYPE:
                raise TraceAbort("range beyond machine ints")
            if tv.items is not None:  # virtual range(start, stop, step)
                r = self._new_range_iter(*tv.items)
            else:
                r = self.emit("call_r", [tv.box], helpers.get_iter())
        else:
            it = iter(obj)
            r = self.emit("call_r", [tv.box], helpers.get_iter())
        self.pop()
        self.drop(tv)
        self.push(TValue(K_REF, r, it, owned=True))

    def _new_range_iter(self, start: TValue, stop: TValue, step: TValue) -> Value:
        """iter(range(start, stop, step)) built in the trace: the length is
        computed with int ops and the iterator allocated and filled in."""
        if not isinstance(step.box, Const):
            return self.emit("call_r", [start.box, stop.box, step.box],
                             helpers.new_range_iter())
        k = step.box.value
        lo, hi = (start.box, stop.box) if k > 0 else (stop.box, start.box)
        span = self.emit("int_sub_ovf", [hi, lo])  # guards: CPython redoes GET_ITER
        rounded = self.emit("int_add_ovf", [span, const_int(abs(k) - 1)])
        count = self.emit("int_floordiv", [rounded, const_int(abs(k))])
        nonempty = self.emit("int_lt", [lo, hi])
        length = self.emit("int_mul", [count, nonempty])
        r = self.emit("call_r", [const_int(id(cp.RANGE_ITER_TYPE))], helpers.new_object())
        self.emit("setfield_i", [r, start.box], cp.RANGEITER_START)
        self.emit("setfield_i", [r, step.box], cp.RANGEITER_STEP)
        self.emit("setfield_i", [r, length], cp.RANGEITER_LEN)
        return r

    def op_FOR_ITER(self, ins: Any) -> int | None:
        tv = self.peek()
        it = tv.py
        t = type(it)
        if tv.kind != K_REF:
            raise TraceAbort("FOR_ITER on a virtual")
        if t is cp.RANGE_ITER_TYPE:
            length = it.__length_hint__()
            if length <= 0:
                return self._exhausted(ins, self.emit("getfield_i", [tv.box], cp.RANGEITER_LEN))
            n = self.emit("getfield_i", [tv.box], cp.RANGEITER_LEN)
            self.guard_true(self.emit("int_gt", [n, const_int(0)]))
            start = self.emit("getfield_i", [tv.box], cp.RANGEITER_START)
            step = self.emit("getfield_i", [tv.box], cp.RANGEITER_STEP)
            value = next(it)
            self.emit("setfield_i", [tv.box, self.emit("int_add", [start, step])],
                      cp.RANGEITER_START)
            self.emit("setfield_i", [tv.box, self.emit("int_sub", [n, const_int(1)])],
                      cp.RANGEITER_LEN)
            self.push(TValue(K_INT, start, value))
            return None
        if t in seq_iter_types():
            item = self._seq_iter_next(tv, ins)
            if item is None:
                return self._after_loop(ins)
            self.push(item)
            return None
        if t is enumerate:
            return self._enumerate_next(tv, ins)
        raise TraceAbort(f"iteration over {t.__name__}")

    def _seq_iter_next(self, tv: TValue, ins: Any, then: Callable | None = None
                       ) -> TValue | None:
        """Next item of a list/tuple iterator; all guards come before stores."""
        it = tv.py
        seqtype = seq_iter_types()[type(it)]
        seq = self.emit("getfield_r", [tv.box], cp.SEQITER_SEQ)
        concrete_seq = _seq_of(it)
        if concrete_seq is None:
            raise TraceAbort("exhausted iterator")
        self.emit("guard_nonnull", [seq])
        idx = self.emit("getfield_i", [tv.box], cp.SEQITER_INDEX)
        size = self.emit("getfield_i", [seq], cp.VAR_SIZE)
        in_range = self.emit("int_lt", [idx, size])
        pos = _seq_index(it)
        if pos >= len(concrete_seq):
            self.guard_true(in_range, False)
            # CPython drops the sequence of an exhausted iterator
            self.emit("setfield_r", [tv.box, CONST_NULL], cp.SEQITER_SEQ)
            self.emit("decref", [seq])
            next(it, None)
            return None
        self.guard_true(in_range)
        obj = concrete_seq[pos]
        if seqtype is list:
            raw = self.emit("getlistitem_r", [seq, idx], cp.LIST_ITEMS)
        else:
            raw = self.emit("getarrayitem_r", [seq, idx], cp.TUPLE_ITEMS)
        item = self.unbox(raw, obj)
        if then is not None:
            then()
        self.emit("setfield_i", [tv.box, self.emit("int_add", [idx, const_int(1)])],
                  cp.SEQITER_INDEX)
        got = next(it)
        assert got is obj
        return item

    def _exhausted(self, ins: Any, n: Value) -> int:
        self.guard_true(self.emit("int_gt", [n, const_int(0)]), False)
        next(self.peek().py, None)
        return self._after_loop(ins)

    def _after_loop(self, ins: Any) -> int:
        if self.mode == "loop" and not self.inline and ins.offset == self.start:
            raise TraceAbort("loop ended while tracing it")
        if self.inline:
            raise TraceAbort("loop inside an inlined function")
        tv = self.pop()
        self.drop(tv)
        code = self.code
        target = ins.argval
        idx = self.index_of[target] + (1 if cp.PY312 else 2)
        return self.instrs[idx].offset if code is self.code else target

    def _enumerate_next(self, tv: TValue, ins: Any) -> int | None:
        en = tv.py
        inner_it = _enum_iter(en)
        if type(inner_it) not in seq_iter_types():
            raise TraceAbort("enumerate over an unsupported iterator")
        sit = self.emit("getfield_r", [tv.box], cp.ENUM_ITER)
        self.emit("guard_class", [sit, const_int(id(type(inner_it)))])
        inner = TValue(K_REF, sit, inner_it)
        index_py = _enum_index(en)
        idx = self.emit("getfield_i", [tv.box], cp.ENUM_INDEX)

        def bump() -> None:
            self.emit("setfield_i", [tv.box, self.emit("int_add", [idx, const_int(1)])],
                      cp.ENUM_INDEX)

        item = self._seq_iter_next(inner, ins, then=bump)
        if item is None:
            next(en, None)
            return self._after_loop(ins)
        # the inner iterator already advanced; advance the enumerate counter
        _enum_set_index(en, index_py + 1)
        pair = (index_py, item.py)
        self.push(TValue(K_TUPLE, None, pair, [TValue(K_INT, idx, index_py), item]))
        return None

    def op_END_FOR(self, ins: Any) -> None:
        # reached only by falling through (3.12: pops two; 3.13: pops one)
        self.drop(self.pop())
        if cp.PY312:
            self.drop(self.pop())

    def op_UNPACK_SEQUENCE(self, ins: Any) -> None:
        tv = self.peek()
        n = ins.arg
        if tv.kind == K_TUPLE:
            if len(tv.items) != n:
                raise TraceAbort("unpacking the wrong number of values")
            self.pop()
            for item in reversed(tv.items):
                self.push(item)
            return
        if tv.kind == K_REF and type(tv.py) in (list, tuple):
            if len(tv.py) != n:
                raise TraceAbort("unpacking the wrong number of values")
            size = self.emit("getfield_i", [tv.box], cp.VAR_SIZE)
            self.emit("guard_value_i", [size, const_int(n)])
            items = []
            for k in range(n):
                if type(tv.py) is list:
                    raw = self.emit("getlistitem_r", [tv.box, const_int(k)], cp.LIST_ITEMS)
                else:
                    raw = self.emit("getarrayitem_r", [tv.box, const_int(k)], cp.TUPLE_ITEMS)
                items.append(self.unbox(raw, tv.py[k]))
            self.pop()
            self.drop(tv)
            for item in reversed(items):
                self.push(item)
            return
        raise TraceAbort("unpacking an unsupported object")

    def op_BUILD_TUPLE(self, ins: Any) -> None:
        n = ins.arg
        st = self.inline[-1].stack if self.inline else self.stack
        items = st[len(st) - n:] if n else []
        if any(i.kind in (K_TUPLE, K_NULL) or (i.kind == K_REF and i.owned) for i in items):
            raise TraceAbort("nested or owned values in a tuple")
        del st[len(st) - n:]
        self.push(TValue(K_TUPLE, None, tuple(i.py for i in items), list(items)))

    # -- subscripts ----------------------------------------------------------

    def _index(self, seq: TValue, idx: TValue) -> Value:
        """Guard that ``idx`` is a valid index of ``seq``; return it non-negative."""
        if idx.kind not in (K_INT, K_BOOL):
            raise TraceAbort("non-integer index")
        n = len(seq.py)
        i = idx.py
        if not -n <= i < n:
            raise TraceAbort("index out of range")
        size = self.emit("getfield_i", [seq.box], cp.VAR_SIZE)
        if isinstance(idx.box, Const) and idx.py >= 0:
            self.guard_true(self.emit("int_lt", [idx.box, size]))
            return idx.box
        if i >= 0:
            self.guard_true(self.fold("int_ge", idx.box, const_int(0)))
            self.guard_true(self.emit("int_lt", [idx.box, size]))
            return idx.box
        self.guard_true(self.fold("int_lt", idx.box, const_int(0)))
        pos = self.emit("int_add", [idx.box, size])
        self.guard_true(self.emit("int_ge", [pos, const_int(0)]))
        return pos

    def op_BINARY_SUBSCR(self, ins: Any) -> None:
        idx = self.peek(1)
        seq = self.peek(2)
        if seq.kind == K_TUPLE and idx.kind in (K_INT, K_BOOL) and isinstance(idx.box, Const):
            try:
                res = seq.items[idx.py]
            except IndexError:
                raise TraceAbort("index out of range") from None
        elif seq.kind == K_REF and type(seq.py) in (list, tuple):
            pos = self._index(seq, idx)
            obj = seq.py[idx.py]
            if type(seq.py) is list:
                raw = self.emit("getlistitem_r", [seq.box, pos], cp.LIST_ITEMS)
            else:
                raw = self.emit("getarrayitem_r", [seq.box, pos], cp.TUPLE_ITEMS)
            res = self.unbox(raw, obj)
        else:
            raise TraceAbort(f"subscript of {type(seq.py).__name__}")
        self.pop()
        self.pop()
        self.drop(seq)
        self.push(res)

    def op_STORE_SUBSCR(self, ins: Any) -> None:
        idx = self.peek(1)
        seq = self.peek(2)
        value = self.peek(3)
        if seq.kind != K_REF or type(seq.py) is not list:
            raise TraceAbort("item assignment to a non-list")
        if self.inline:
            raise TraceAbort("side effect inside an inlined function")
        pos = self._index(seq, idx)
        if value.kind == K_TUPLE:
            raise TraceAbort("storing a virtual tuple")
        boxed, owned = self.box(value)
        seq.py[idx.py] = value.py
        if not owned:
            self.emit("incref", [boxed])
        old = self.emit("getlistitem_r", [seq.box, pos], cp.LIST_ITEMS)
        self.emit("setlistitem_r", [seq.box, pos, boxed], cp.LIST_ITEMS)
        self.emit("decref", [old])
        self.pop()
        self.pop()
        self.pop()
        self.drop(seq)

    def op_LIST_APPEND(self, ins: Any) -> None:
        value = self.peek(1)
        lst = self.peek(ins.arg + 1)
        if lst.kind != K_REF or type(lst.py) is not list or self.inline:
            raise TraceAbort("LIST_APPEND to a non-list")
        if value.kind in (K_TUPLE, K_NULL) or value.box is None:
            raise TraceAbort("appending a virtual object")
        boxed, owned = self.box(value)
        self.emit("call_i", [lst.box, boxed], helpers.list_append())
        if owned:
            self.emit("decref", [boxed])
        lst.py.append(value.py)
        self.pop()

    # -- calls ---------------------------------------------------------------

    _kwnames: tuple = ()

    def op_KW_NAMES(self, ins: Any) -> Any:
        # 3.12: KW_NAMES leaves the names in a C variable of the eval loop that
        # the next CALL consumes, so the pair is one instruction for us: every
        # guard and abort inside the call resumes CPython at the KW_NAMES
        code = self.inline[-1].code if self.inline else self.code
        self._kwnames = ins.argval if isinstance(ins.argval, tuple) else \
            code.co_consts[ins.arg]
        call = self._instr(code, self._next_offset(code, ins.offset))
        if call.opname != "CALL":
            raise TraceAbort("KW_NAMES not followed by CALL")
        nxt = self.op_CALL(call)
        return self._next_offset(code, call.offset) if nxt is None else nxt

    def op_CALL_KW(self, ins: Any) -> Any:
        # 3.13: the names tuple stays on the stack until the call is made, so
        # that guards inside the call resume CPython at this CALL_KW
        names = self.peek()
        if names.kind != K_TUPLE:
            raise TraceAbort("CALL_KW without constant names")
        self._kwnames = names.py
        return self.op_CALL(ins, names_on_stack=1)

    def op_CALL(self, ins: Any, names_on_stack: int = 0) -> Any:
        n = ins.arg
        kwnames = self._kwnames
        self._kwnames = ()
        st = self.inline[-1].stack if self.inline else self.stack
        top = len(st) - names_on_stack
        args = st[top - n:top]
        first, second = st[top - n - 2], st[top - n - 1]
        if cp.PY312:
            if first.kind == K_NULL:
                func = second
            else:
                func, args = first, [second] + args
        else:
            if second.kind == K_NULL:
                func = first
            else:
                func, args = first, [second] + args
        if func.kind != K_REF or not isinstance(func.box, Const):
            raise TraceAbort("call of a non-constant callable")
        nkw = len(kwnames)
        pos_args = args[:len(args) - nkw]
        kw_args = dict(zip(kwnames, args[len(args) - nkw:]))
        f = func.py
        if isinstance(f, types.FunctionType):
            code = self.inline[-1].code if self.inline else self.code
            return self._inline_call(f, pos_args, kw_args, n + names_on_stack,
                                     self._next_offset(code, ins.offset))
        res = self.call_builtin(f, pos_args, kw_args)
        del st[top - n - 2:]
        self.push(res)
        return None

    def call_builtin(self, f: Any, args: list[TValue], kw: dict) -> TValue:
        if kw:
            raise TraceAbort(f"keyword arguments to {getattr(f, '__name__', f)}")
        if f is len and len(args) == 1:
            a = args[0]
            if a.kind == K_TUPLE:
                return const_tvalue(len(a.items))
            if a.kind == K_REF and type(a.py) in (list, tuple):
                return TValue(K_INT, self.emit("getfield_i", [a.box], cp.VAR_SIZE), len(a.py))
        elif f is abs and len(args) == 1:
            return self.call_abs(args[0])
        elif f is list and len(args) == 1 and args[0].kind == K_REF \
                and type(args[0].py) in (list, tuple):
            r = self.emit("call_r", [args[0].box], helpers.sequence_list())
            return TValue(K_REF, r, list(args[0].py), owned=True)
        elif f in (min, max) and len(args) == 2:
            return self.call_minmax(f, args[0], args[1])
        elif f is float and len(args) == 1 and args[0].kind in (K_INT, K_BOOL, K_FLOAT):
            return TValue(K_FLOAT, self.as_float(args[0]), float(args[0].py))
        elif f is int and len(args) == 1 and args[0].kind in (K_INT, K_BOOL, K_FLOAT):
            return self.call_int(args[0])
        elif f is range and 1 <= len(args) <= 3 and all(a.kind in (K_INT, K_BOOL)
                                                         for a in args):
            py = range(*[a.py for a in args])
            vals = list(args)
            if len(vals) == 1:
                vals = [const_tvalue(0), vals[0], const_tvalue(1)]
            elif len(vals) == 2:
                vals = vals + [const_tvalue(1)]
            if vals[2].py == 0 or not isinstance(vals[2].box, Const):
                raise TraceAbort("range with a variable or zero step")
            return TValue(K_REF, None, py, items=vals)
        elif isinstance(f, types.BuiltinFunctionType) and getattr(f, "__module__", "") == "math":
            return self.call_math(f, args)
        raise TraceAbort(f"call to {getattr(f, '__qualname__', type(f).__name__)}")

    def call_abs(self, a: TValue) -> TValue:
        if a.kind == K_FLOAT:
            return TValue(K_FLOAT, self.fold("float_abs", a.box), abs(a.py))
        if a.kind in (K_INT, K_BOOL):
            if isinstance(a.box, Const):
                return const_tvalue(abs(a.py))
            self.guard_true(self.emit("int_ne", [a.box, const_int(-(1 << 63))]))
            m = self.emit("int_rshift", [a.box, const_int(63)])
            r = self.emit("int_sub", [self.emit("int_xor", [a.box, m]), m])
            return TValue(K_INT, r, abs(a.py))
        raise TraceAbort("abs of an object")

    def call_minmax(self, f: Any, a: TValue, b: TValue) -> TValue:
        if a.kind == K_FLOAT and b.kind == K_FLOAT:
            # min(a, b) is b if b < a else a (max: b if b > a else a)
            cmp = "float_lt" if f is min else "float_gt"
            c = self.emit(cmp, [b.box, a.box])
        elif a.kind in (K_INT, K_BOOL) and b.kind in (K_INT, K_BOOL):
            if a.kind != b.kind:
                raise TraceAbort("min/max of a bool and an int")
            cmp = "int_lt" if f is min else "int_gt"
            c = self.emit(cmp, [b.box, a.box])
        else:
            raise TraceAbort("min/max of mixed or non-numbers")
        took_b = bool(_PY_CMP["<" if f is min else ">"](b.py, a.py))
        self.guard_true(c, took_b)
        return b if took_b else a

    def call_int(self, a: TValue) -> TValue:
        if a.kind in (K_INT, K_BOOL):
            return TValue(K_INT, a.box, int(a.py))
        x = a.py
        if not math.isfinite(x) or not -2.0**63 < x < 2.0**63:
            raise TraceAbort("int() of a huge float")
        self.guard_true(self.emit("float_lt", [a.box, const_float(2.0**63)]))
        self.guard_true(self.emit("float_gt", [a.box, const_float(-2.0**63)]))
        return TValue(K_INT, self.emit("cast_float_to_int", [a.box]), int(x))

    def call_math(self, f: Any, args: list[TValue]) -> TValue:
        name = f.__name__
        if any(a.kind not in (K_INT, K_BOOL, K_FLOAT) for a in args):
            raise TraceAbort(f"math.{name} on a non-number")
        try:
            py = f(*[a.py for a in args])
        except Exception as e:
            raise TraceAbort(f"math.{name} raises {type(e).__name__}") from None
        if name in helpers.MATH_TO_INT and len(args) == 1:
            a = args[0]
            if a.kind != K_FLOAT:
                return TValue(K_INT, a.box, int(a.py))
            r = self.emit("call_f", [a.box], helpers.libm(name))
            return self.call_int(TValue(K_FLOAT, r, float(py)))
        if name not in helpers.MATH_FUNCTIONS:
            raise TraceAbort(f"math.{name} is not traced")
        xs = [self.as_float(a) for a in args]
        for x in xs:
            self._guard_finite(x)
        if name == "atan2":
            self.guard_true(self.emit("float_ne", [xs[0], const_float(0.0)]))
            self.guard_true(self.emit("float_ne", [xs[1], const_float(0.0)]))
        r = self.emit("call_f", xs, helpers.libm(name))
        # CPython raises where libm gives nan or inf from finite input
        self.guard_true(self.emit("float_eq", [r, r]))
        self._guard_finite(r)
        return TValue(K_FLOAT, r, py)

    def _inline_call(self, f: types.FunctionType, args: list[TValue], kw: dict,
                     n: int, return_to: int) -> int:
        code = f.__code__
        if len(self.inline) >= self.inline_depth:
            raise TraceAbort("inlining too deep (recursion)")
        why = inline_refusal(code)
        if why:
            raise TraceAbort(f"cannot inline {f.__qualname__}: {why}")
        nparams = code.co_argcount + code.co_kwonlyargcount
        names = code.co_varnames[:nparams]
        if len(args) > code.co_argcount:
            raise TraceAbort("too many positional arguments")
        bound: list[Any] = [None] * cp.nlocalsplus(code)
        for i, a in enumerate(args):
            bound[i] = a
        for k, v in kw.items():
            if k not in names or (names.index(k) < code.co_posonlyargcount):
                raise TraceAbort("bad keyword argument")
            i = names.index(k)
            if bound[i] is not None:
                raise TraceAbort("duplicate argument")
            bound[i] = v
        defaults = f.__defaults__ or ()
        first_default = code.co_argcount - len(defaults)
        for i in range(nparams):
            if bound[i] is None:
                if i < code.co_argcount and i >= first_default:
                    bound[i] = const_tvalue(defaults[i - first_default])
                    self.keepalive.append(defaults[i - first_default])
                elif i >= code.co_argcount and f.__kwdefaults__ and names[i] in f.__kwdefaults__:
                    bound[i] = const_tvalue(f.__kwdefaults__[names[i]])
                    self.keepalive.append(f.__kwdefaults__[names[i]])
                else:
                    raise TraceAbort("missing argument")
        for a in bound:
            if a is not None and a.kind == K_REF and a.owned:
                raise TraceAbort("owned reference passed to an inlined call")
        if not self.inline:
            pc = self.pc
            loc = {i: v for i, v in enumerate(self.locals)
                   if v is not _LAZY and i in self.written and v.kind != K_REF}
            self.call_snapshot = (pc, loc, list(self.stack))
            st = self.stack
        else:
            st = self.inline[-1].stack
        del st[len(st) - n - 2:]
        self.keepalive.append(f)
        self.inline.append(InlineFrame(code, bound, [], 0, f, return_to))
        return 0

    # everything else aborts through the missing handler



_CO_REFUSED_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200
_NOT_INLINABLE = {"STORE_SUBSCR", "STORE_GLOBAL", "STORE_ATTR", "JUMP_BACKWARD",
                  "JUMP_BACKWARD_NO_INTERRUPT", "FOR_ITER", "GET_ITER"}
_refusals: dict[int, tuple[Any, str]] = {}


def inline_refusal(code: types.CodeType) -> str:
    """Why calls to ``code`` cannot be inlined ("" if they can).

    Inlined functions must be free of side effects and loops, so that a guard
    failing inside them can resume CPython before the call.
    """
    hit = _refusals.get(id(code))
    if hit is not None and hit[0] is code:
        return hit[1]
    why = ""
    if code.co_flags & _CO_REFUSED_FLAGS:
        why = "generator, coroutine or *args/**kwargs"
    elif code.co_cellvars or code.co_freevars:
        why = "closure"
    else:
        for ins in cp.instructions(code):
            if ins.opname in _NOT_INLINABLE:
                why = f"contains {ins.opname}"
                break
            if not hasattr(Tracer, "op_" + ins.opname):
                why = f"unsupported bytecode {ins.opname}"
                break
    _refusals[id(code)] = (code, why)
    return why


_INDEX_CACHE: dict[int, tuple[Any, list, dict[int, int]]] = {}


def _code_index(code: types.CodeType) -> tuple[list, dict[int, int]]:
    hit = _INDEX_CACHE.get(id(code))
    if hit is None or hit[0] is not code:
        ins = cp.instructions(code)
        hit = (code, ins, {i.offset: n for n, i in enumerate(ins)})
        _INDEX_CACHE[id(code)] = hit
    return hit[1], hit[2]


def _frozen(tv: TValue) -> TValue:
    """A copy for snapshots: later ownership changes must not leak into them."""
    if tv.kind != K_REF:
        return tv
    c = TValue(tv.kind, tv.box, tv.py, tv.items, tv.owned)
    c.frame_slot = tv.frame_slot
    return c


def concrete(tv: TValue) -> Any:
    if tv.kind == K_TUPLE:
        return tuple(concrete(i) for i in tv.items)
    if tv.kind == K_REF and tv.items is not None and type(tv.py) is range:
        return tv.py
    return tv.py


def signature_args(signature: list[InSlot]) -> list[InputArg]:
    """The trace inputs of a signature (NULL stack slots carry no value)."""
    return [s.arg for s in signature if s.kind != K_NULL]


def _seq_of(it: Any) -> Any:
    import ctypes

    addr = ctypes.c_void_p.from_address(id(it) + cp.SEQITER_SEQ).value
    return None if not addr else ctypes.cast(addr, ctypes.py_object).value


def _seq_index(it: Any) -> int:
    import ctypes

    return ctypes.c_ssize_t.from_address(id(it) + cp.SEQITER_INDEX).value


def _enum_iter(en: Any) -> Any:
    import ctypes

    addr = ctypes.c_void_p.from_address(id(en) + cp.ENUM_ITER).value
    return ctypes.cast(addr, ctypes.py_object).value


def _enum_index(en: Any) -> int:
    import ctypes

    return ctypes.c_ssize_t.from_address(id(en) + cp.ENUM_INDEX).value


def _enum_set_index(en: Any, value: int) -> None:
    import ctypes

    ctypes.c_ssize_t.from_address(id(en) + cp.ENUM_INDEX).value = value

