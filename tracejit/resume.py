"""Resume data and deoptimization: from a failed guard back to a CPython frame.

At compile time each guard's tracer snapshot becomes a :class:`ResumeData`
plus the list of IR values (``fail_args``) the compiled code writes to the
exit buffer.  At run time :func:`rebuild` turns the buffer back into Python
objects (materializing virtual tuples and ranges, boxing unboxed numbers) and
:func:`write_back` puts them into the real frame and moves its instruction
pointer to the guard's bytecode.
"""

from __future__ import annotations

import ctypes
import struct
import types
from dataclasses import dataclass
from typing import Any

from tracejit import cpython as cp
from tracejit.backend import c_function
from tracejit.helpers import obj_at
from tracejit.ir import FLOAT, INT, REF, Const, Value
from tracejit.tracer import K_BOOL, K_FLOAT, K_INT, K_NULL, K_REF, K_TUPLE, Snapshot, TValue

# A slot is a tuple:
#   ("arg", k, kind, owned, frame_slot)  value k of the exit buffer
#   ("const", obj)                        a constant object
#   ("tuple", [slots])                    a virtual tuple
#   ("range", [slots])                    a virtual range(start, stop, step)
#   ("null",)                             C NULL


@dataclass
class ResumeData:
    code: types.CodeType
    offset: int
    locals: list[tuple[int, tuple]]
    stack: list[tuple]
    frame_depth: int

    def __repr__(self) -> str:
        return (f"resume at {self.code.co_name}:{self.offset} "
                f"locals={[i for i, _ in self.locals]} stack={len(self.stack)}")


def build_resume(code: types.CodeType, snap: Snapshot, resolve: Any
                 ) -> tuple[ResumeData, list[Value]]:
    """Turn a snapshot into resume data and its fail_args.

    ``resolve`` maps an IR value to its optimized replacement.
    """
    fail_args: list[Value] = []
    positions: dict[int, int] = {}

    def slot(tv: TValue) -> tuple:
        if tv.kind == K_NULL:
            return ("null",)
        if tv.kind == K_TUPLE:
            return ("tuple", [slot(i) for i in tv.items])
        if tv.kind == K_REF and tv.box is None:
            return ("range", [slot(i) for i in tv.items])
        v = resolve(tv.box)
        if isinstance(v, Const):
            if v.is_null():
                return ("null",)
            return ("const", _const_object(v, tv.kind))
        key = id(v)
        if key not in positions or tv.owned:
            positions[key] = len(fail_args)
            fail_args.append(v)
        return ("arg", positions[key], tv.kind, tv.owned, tv.frame_slot)

    locs = [(idx, slot(tv)) for idx, tv in sorted(snap.locals.items())]
    stack = [slot(tv) for tv in snap.stack]
    return ResumeData(code, snap.offset, locs, stack, snap.frame_depth), fail_args


def _const_object(c: Const, kind: str) -> Any:
    if kind == K_BOOL:
        return bool(c.value)
    if kind == K_INT:
        return int(c.value)
    if kind == K_FLOAT:
        return float(c.value)
    return c.value


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


def materialize(slot: tuple, values: list[Any], owned_out: list[Any]) -> Any:
    tag = slot[0]
    if tag == "arg":
        _, k, kind, owned, _ = slot
        v = values[k]
        if kind == K_INT:
            return int(v)
        if kind == K_BOOL:
            return bool(v)
        if kind == K_FLOAT:
            return float(v)
        if not v:
            return cp.NULL
        obj = obj_at(v)
        if owned:
            owned_out.append(v)
        return obj
    if tag == "const":
        return slot[1]
    if tag == "tuple":
        return tuple(materialize(s, values, owned_out) for s in slot[1])
    if tag == "range":
        return range(*[materialize(s, values, owned_out) for s in slot[1]])
    return cp.NULL


def rebuild(rd: ResumeData, values: list[Any]) -> tuple[dict[int, Any], list[Any], list[int]]:
    """Python objects for the frame; also the addresses whose ownership the
    compiled code handed over (release them once the frame holds them)."""
    owned: list[int] = []
    locs = {idx: materialize(s, values, owned) for idx, s in rd.locals}
    stack = [materialize(s, values, owned) for s in rd.stack]
    return locs, stack, owned


_decref = c_function("Py_DecRef", None, ctypes.c_void_p)


def release(addresses: list[int]) -> None:
    for a in addresses:
        _decref(a)


def write_back(frame: types.FrameType, offset: int, locs: dict[int, Any], stack: list[Any],
               frame_depth: int) -> None:
    cp.write_frame(frame, offset, locs, stack, old_depth=frame_depth)

