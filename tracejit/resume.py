"""Resume data and deoptimization: from a failed guard back to a CPython frame.

At compile time each guard's tracer snapshot becomes a :class:`ResumeData`
plus the list of IR values (``fail_args``) the compiled code writes to the
exit buffer.  Every slot of a resumed frame is one of the slot classes below:
a value of the exit buffer, a constant, NULL, or a virtual object (a tuple, a
range) to build.  Each slot knows how to become a Python object
(:meth:`Slot.materialize`, for the interpreter), a traced value (for a bridge
traced from the exit) and IR that builds a reference (for a compiled
write-back stub).  At run time :func:`rebuild` turns the buffer back into
Python objects and :func:`write_back` puts them into the real frame.
"""

from __future__ import annotations

import ctypes
import struct
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.backend import c_function
from tracejit.builder import IRBuilder
from tracejit.helpers import obj_at
from tracejit.ir import CONST_NULL, FLOAT, INT, REF, Const, InputArg, Value, const_int, const_ref
from tracejit.values import (
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_REF,
    K_TUPLE,
    K_VIRTUAL,
    NULL_T,
    FrameSnapshot,
    ResumeMode,
    Snapshot,
    TValue,
    VirtualObject,
    const_tvalue,
    virtual_tvalue,
)


class Slot:
    """How one frame slot is rebuilt at an exit."""

    compilable = True  # a write-back stub can build it

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        """The Python object, from the decoded exit buffer ``values``; buffer
        references the compiled code handed over go to ``owned_out``.
        ``memo``, one per exit, makes each virtual object once."""
        raise NotImplementedError

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        """The traced value a bridge starts with (``obj`` is materialized;
        ``memo``, one per bridge, keeps one virtual one value)."""
        raise NotImplementedError

    def new_reference(self, b: IRBuilder, inputs: list[InputArg]) -> Value:
        """IR building a reference the frame will own."""
        raise NotImplementedError


@dataclass(frozen=True)
class BufferSlot(Slot):
    """Value ``index`` of the exit buffer, of kind int/bool/float/ref."""

    index: int
    kind: str
    owned: bool  # a reference the compiled code hands over
    frame_slot: int

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        v = values[self.index]
        if self.kind == K_INT:
            return int(v)
        if self.kind == K_BOOL:
            return bool(v)
        if self.kind == K_FLOAT:
            return float(v)
        if not v:
            return cp.NULL
        obj = obj_at(v)
        if self.owned:
            owned_out.append(v)
        return obj

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        tv = TValue(self.kind, inputargs[self.index], obj, owned=self.owned)
        tv.frame_slot = self.frame_slot
        return tv

    def new_reference(self, b: IRBuilder, inputs: list[InputArg]) -> Value:
        value = inputs[self.index]
        if self.kind == K_INT:
            return b.emit("call_r", [value], helpers.box_int())
        if self.kind == K_FLOAT:
            return b.emit("call_r", [value], helpers.box_float())
        if self.kind == K_BOOL:
            ref = cp.emit_box_bool(b.emit, value)
        else:
            ref = value
            if self.owned:
                return ref  # the compiled code hands its reference to the frame
        b.emit("call_v", [ref], helpers.xincref())
        return ref


@dataclass(frozen=True)
class ConstSlot(Slot):
    obj: Any

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        return self.obj

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        return const_tvalue(obj)

    def new_reference(self, b: IRBuilder, inputs: list[InputArg]) -> Value:
        b.keepalive.append(self.obj)
        ref = const_ref(self.obj)
        b.emit("call_v", [ref], helpers.xincref())
        return ref


@dataclass(frozen=True)
class NullSlot(Slot):
    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        return cp.NULL

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        return NULL_T

    def new_reference(self, b: IRBuilder, inputs: list[InputArg]) -> Value:
        return CONST_NULL


@dataclass(frozen=True)
class VirtualTupleSlot(Slot):
    """A tuple the trace never built: built from its items at the exit."""

    items: tuple[Slot, ...]

    @property
    def compilable(self) -> bool:  # type: ignore[override]
        return all(i.compilable for i in self.items)

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        return tuple(i.materialize(values, owned_out, memo) for i in self.items)

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        return TValue(K_TUPLE, None, obj,
                      [s.tvalue(o, inputargs, memo) for s, o in zip(self.items, obj)])

    def new_reference(self, b: IRBuilder, inputs: list[InputArg]) -> Value:
        items = [item.new_reference(b, inputs) for item in self.items]
        tup = b.emit("call_r", [const_int(len(items))], helpers.new_tuple())
        for k, item in enumerate(items):  # the tuple takes over each reference
            b.emit("setfield_r", [tup, item], cp.TUPLE_ITEMS + 8 * k)
        return tup


@dataclass(frozen=True)
class VirtualRangeSlot(Slot):
    """A ``range(start, stop, step)`` the trace never built."""

    items: tuple[Slot, Slot, Slot]
    compilable = False  # write-back stubs do not build ranges

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        return range(*[i.materialize(values, owned_out, memo) for i in self.items])

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        parts = [obj.start, obj.stop, obj.step]
        return TValue(K_REF, None, obj,
                      items=[s.tvalue(o, inputargs, memo) for s, o in zip(self.items, parts)])


class VirtualObjectSlot(Slot):
    """An instance the trace never built (tracer.virtuals): made at the exit
    with its attributes in the order the program set them, once however
    many slots refer to it.  ``fields`` is filled after the slot is made,
    so that an object may refer to itself."""

    compilable = False  # write-back stubs do not build instances

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.fields: list[tuple[str, Slot]] = []

    def __repr__(self) -> str:
        return f"VirtualObjectSlot({self.cls.__qualname__}, {[n for n, _ in self.fields]})"

    def materialize(self, values: list[Any], owned_out: list[int], memo: dict) -> Any:
        obj = memo.get(id(self))
        if obj is None:
            obj = memo[id(self)] = object.__new__(self.cls)
            shadowed = [n for n, _ in self.fields if _data_descriptor(self.cls, n)]
            for name, slot in self.fields:
                value = slot.materialize(values, owned_out, memo)
                if name in shadowed and not _is_slot_member(self.cls, name):
                    # the class gained a descriptor of that name since: the
                    # object CPython built holds the value in its dict
                    obj.__dict__[name] = value
                else:
                    object.__setattr__(obj, name, value)
        return obj

    def tvalue(self, obj: Any, inputargs: list[InputArg], memo: dict) -> TValue:
        tv = memo.get(id(self))
        if tv is None:
            virt = VirtualObject(self.cls)
            tv = memo[id(self)] = virtual_tvalue(virt, obj)
            for name, slot in self.fields:
                virt.fields[name] = slot.tvalue(getattr(obj, name), inputargs, memo)
            return tv
        return virtual_tvalue(tv.virt, obj)


def _data_descriptor(cls: type, name: str) -> bool:
    for base in cls.__mro__:
        if name in base.__dict__:
            kind = type(base.__dict__[name])
            return hasattr(kind, "__set__") or hasattr(kind, "__delete__")
    return False


def _is_slot_member(cls: type, name: str) -> bool:
    return any(type(base.__dict__.get(name)) is types.MemberDescriptorType
               for base in cls.__mro__)


# ---------------------------------------------------------------------------
# resume data


@dataclass
class FrameResume:
    """How to rebuild one frame: its locals and stack, where it continues."""

    code: types.CodeType
    offset: int
    locals: list[tuple[int, Slot]]
    stack: list[Slot]
    frame_depth: int
    mode: ResumeMode = ResumeMode.BEFORE
    release: list[Slot] = field(default_factory=list)  # owned, not written anywhere

    def slots(self) -> list[Slot]:
        return [s for _, s in self.locals] + list(self.stack)


@dataclass
class ResumeData:
    """The frames to rebuild at an exit, outermost first.

    Exits inside inlined calls that did something visible rebuild the
    callees' frames too; ``periodic`` marks the loop's pause for CPython,
    ``raising`` an exit that re-raises a residual call's exception.
    """

    frames: list[FrameResume]
    periodic: bool = False
    raising: bool = False
    unguarded: int = -1  # see Snapshot.unguarded

    @property
    def frame(self) -> FrameResume:
        return self.frames[0]

    @property
    def code(self) -> types.CodeType:
        return self.frames[0].code

    @property
    def offset(self) -> int:
        return self.frames[0].offset

    @property
    def frame_depth(self) -> int:
        return self.frames[0].frame_depth

    def compilable(self) -> bool:
        """Whether a write-back stub can rebuild every slot."""
        return len(self.frames) == 1 and not self.frame.release and \
            all(s.compilable for s in self.frame.slots())

    def __repr__(self) -> str:
        f = self.frames[0]
        return (f"resume at {f.code.co_name}:{f.offset} "
                f"locals={[i for i, _ in f.locals]} stack={len(f.stack)}")


def build_resume(snap: Snapshot, resolve: Callable[[Value], Value]
                 ) -> tuple[ResumeData, list[Value]]:
    """Turn a snapshot into resume data and its fail_args.

    ``resolve`` maps an IR value to its optimized replacement.
    """
    fail_args: list[Value] = []
    positions: dict[int, int] = {}
    made: dict[int, VirtualObjectSlot] = {}

    def slot(tv: TValue) -> Slot:
        if tv.kind == "null":
            return NullSlot()
        if tv.kind == K_VIRTUAL:
            hit = made.get(id(tv.virt))
            if hit is None:
                hit = made[id(tv.virt)] = VirtualObjectSlot(tv.virt.cls)
                hit.fields = [(name, slot(f)) for name, f in tv.virt.fields.items()]
            return hit
        if tv.kind == K_TUPLE:
            return VirtualTupleSlot(tuple(slot(i) for i in tv.items))
        if tv.kind == K_REF and tv.box is None:
            a, b, c = (slot(i) for i in tv.items)
            return VirtualRangeSlot((a, b, c))
        v = resolve(tv.box)
        if isinstance(v, Const):
            if v.is_null():
                return NullSlot()
            return ConstSlot(_const_object(v, tv.kind))
        key = id(v)
        if key not in positions or tv.owned:
            positions[key] = len(fail_args)
            fail_args.append(v)
        return BufferSlot(positions[key], tv.kind, tv.owned, tv.frame_slot)

    def frame(fs: FrameSnapshot) -> FrameResume:
        locs = [(idx, slot(tv)) for idx, tv in sorted(fs.locals.items())]
        return FrameResume(fs.code, fs.offset, locs, [slot(tv) for tv in fs.stack],
                           fs.frame_depth, fs.mode, [slot(tv) for tv in fs.release])

    return ResumeData([frame(f) for f in snap.frames], snap.periodic, snap.raising,
                      snap.unguarded), fail_args


def _const_object(c: Const, kind: str) -> Any:
    if kind == K_BOOL:
        return bool(c.value)
    if kind == K_INT:
        return int(c.value)
    if kind == K_FLOAT:
        return float(c.value)
    return c.value


# ---------------------------------------------------------------------------
# at run time

_BUFFER_VIEWS: dict[int, memoryview] = {}
_DECODERS: dict[str, struct.Struct] = {}
_BUFFER_BYTES = 8 * 4096  # the runtime's exit buffers hold 4096 values


def read_buffer(buf: int, types_: str) -> list[Any]:
    """The exit buffer's first ``len(types_)`` values, decoded by type: ints
    as ints, doubles as floats, references as (unsigned) addresses."""
    view = _BUFFER_VIEWS.get(buf)
    if view is None:
        view = _BUFFER_VIEWS[buf] = memoryview((ctypes.c_char * _BUFFER_BYTES).from_address(buf))
    decoder = _DECODERS.get(types_)
    if decoder is None:
        codes = {INT: "q", FLOAT: "d", REF: "Q"}
        decoder = _DECODERS[types_] = struct.Struct("<" + "".join(codes[t] for t in types_))
    return list(decoder.unpack_from(view))


def rebuild(rd: ResumeData, values: list[Any], memo: dict | None = None
            ) -> tuple[dict[int, Any], list[Any], list[int]]:
    """Python objects for the frame; also the addresses whose ownership the
    compiled code handed over (release them once the frame holds them).
    ``memo``: pass the same one to :func:`rebuild_callees`, so that an
    object the frames share is made once."""
    owned: list[int] = []
    memo = {} if memo is None else memo
    f = rd.frame
    locs = {idx: s.materialize(values, owned, memo) for idx, s in f.locals}
    stack = [s.materialize(values, owned, memo) for s in f.stack]
    for s in f.release:  # owned references nothing holds: released with the rest
        s.materialize(values, owned, memo)
    return locs, stack, owned


def rebuild_callees(rd: ResumeData, values: list[Any], owned: list[int],
                    memo: dict | None = None
                    ) -> list[tuple[types.CodeType, int, dict[int, Any], list[Any]]]:
    """Python objects for the inlined frames an exit resumes inside (none for
    most exits): (code, offset, locals, stack) each, outermost first."""
    out = []
    memo = {} if memo is None else memo
    for f in rd.frames[1:]:
        out.append((f.code, f.offset,
                    {idx: s.materialize(values, owned, memo) for idx, s in f.locals},
                    [s.materialize(values, owned, memo) for s in f.stack]))
        for s in f.release:  # (the calls a frame redoes owned these)
            s.materialize(values, owned, memo)
    return out


def bridge_state(rd: ResumeData, locs: dict[int, Any], stack: list[Any],
                 inputargs: list[InputArg]) -> tuple[dict[int, TValue], list[TValue]]:
    """The traced locals and stack a bridge from this exit starts with."""
    f = rd.frame
    memo: dict = {}
    tv_locals = {idx: slot.tvalue(obj, inputargs, memo)
                 for (idx, slot), obj in zip(f.locals, locs.values())}
    tv_stack = [slot.tvalue(obj, inputargs, memo) for slot, obj in zip(f.stack, stack)]
    return tv_locals, tv_stack


def bridge_releases(rd: ResumeData, inputargs: list[InputArg]) -> list[TValue]:
    """The references an exit releases that no frame holds: a bridge from it
    releases them first."""
    return [TValue(K_REF, inputargs[s.index], None, owned=True)
            for f in rd.frames for s in f.release if isinstance(s, BufferSlot)]


_decref = c_function("Py_DecRef", None, ctypes.c_void_p)


def release(addresses: list[int]) -> None:
    for a in addresses:
        _decref(a)


def write_back(frame: types.FrameType, offset: int, locs: dict[int, Any], stack: list[Any],
               frame_depth: int) -> None:
    cp.write_frame(frame, offset, locs, stack, old_depth=frame_depth)
