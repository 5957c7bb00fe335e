"""Traced values and the interpreter state they describe.

The tracer runs bytecode on :class:`TValue` objects: a concrete Python value
plus the IR value that computes it in the trace.  Snapshots of those values
(:class:`FrameSnapshot`, chained into a :class:`Snapshot`) are what every
guard remembers of the interpreter; the resume module turns them into resume
data.  This module depends only on the IR (and CPython's NULL marker), so
that resume, write-back, the runtime and the tracer can all share it without
importing one another.
"""

from __future__ import annotations

import enum
import types
from dataclasses import dataclass, field
from typing import Any

from tracejit.cpython import NULL
from tracejit.ir import (
    CONST_NULL,
    FLOAT,
    INT,
    REF,
    InputArg,
    Value,
    const_float,
    const_int,
    const_ref,
    fits_int64,
)

# kinds of traced values: int/bool hold an unboxed "i" value, float an "f"
# value, ref a PyObject*, tuple a virtual tuple (items, no object), null C
# NULL, virtual an instance the trace has not built (``virt``, its fields)
K_INT, K_FLOAT, K_BOOL, K_REF, K_TUPLE, K_NULL = "int", "float", "bool", "ref", "tuple", "null"
K_VIRTUAL = "virtual"
IR_TYPE = {K_INT: INT, K_BOOL: INT, K_FLOAT: FLOAT, K_REF: REF}
NUMBER_KINDS = (K_INT, K_BOOL, K_FLOAT)


ABSENT: Any = object()  # a global name that is not bound (assumed to stay unbound)


class TValue:
    """A traced value: concrete value + how the trace computes it.

    ``kind`` int/bool hold an ``i`` value, float an ``f`` value, ref an ``r``
    value (``owned`` if the trace holds a reference to release), tuple is a
    virtual tuple whose ``items`` are TValues, null is C NULL.  A ref with
    ``box`` None and ``items`` set is a virtual ``range(start, stop, step)``.
    ``frame_slot`` is the frame stack slot that already holds this object;
    ``ref`` is the (borrowed) object an unboxed number was read from, so that
    storing it again stores that very object.  A virtual's ``virt`` is its
    :class:`VirtualObject`, shared by every value standing for that object.
    """

    __slots__ = ("kind", "box", "py", "items", "owned", "frame_slot", "ref", "virt")

    def __init__(self, kind: str, box: Value | None, py: Any, items: list | None = None,
                 owned: bool = False) -> None:
        self.kind = kind
        self.box = box
        self.py = py
        self.items = items
        self.owned = owned
        self.frame_slot = -1
        self.ref: Value | None = None
        self.virt: VirtualObject | None = None

    def __repr__(self) -> str:
        return f"TValue({self.kind}, {self.py!r:.30})"

    def is_virtual(self) -> bool:
        """A value the trace never built as an object (tuple, range, instance)."""
        return self.kind in (K_TUPLE, K_VIRTUAL) or (self.kind == K_REF and self.box is None)

    def frozen(self) -> TValue:
        """A copy for snapshots: later ownership changes must not leak into them.
        A number still known to be a particular object (read from a list or
        an attribute, nothing freed since) resumes as that object, as the
        interpreter's stack would hold it: its identity is the program's.
        A virtual instance is frozen with its fields as they are now."""
        if self.kind == K_VIRTUAL:
            return virtual_tvalue(self.virt.frozen(), self.py)
        if self.kind != K_REF:
            if self.ref is not None and self.items is None:
                return TValue(K_REF, self.ref, self.py)
            return self
        c = TValue(self.kind, self.box, self.py, self.items, self.owned)
        c.frame_slot = self.frame_slot
        return c

    def concrete(self) -> Any:
        """The Python object this value stands for.  A virtual tuple is the
        tuple the tracer built when it ran the program: the same object for
        every slot that holds it (a local and the stack), as in CPython."""
        if self.kind == K_TUPLE and type(self.py) is not tuple:
            return tuple(i.concrete() for i in self.items)
        return self.py

    def ir_values(self) -> list[Value]:
        """The non-constant IR values this value (and its items) refer to."""
        if self.kind == K_VIRTUAL:
            return self.virt.leaves()
        if self.items is not None:
            return [v for i in self.items for v in i.ir_values()]
        if self.box is not None and not self.box.is_const():
            return [self.box]
        return []


NULL_T = TValue(K_NULL, CONST_NULL, NULL)


class VirtualObject:
    """An instance of a plain class that the trace has not built: its class
    and its attributes (name -> TValue, in the order they were set, which is
    the order of the real object's dict).  A field holds a number, a
    constant or another virtual, never a reference the trace would have to
    own (storing one builds the object first: see tracer.virtuals).

    Snapshots take :meth:`frozen` copies.  Every store anywhere advances
    ``epoch``, so a frozen copy stays valid for all the slots of one
    snapshot (one object, however many slots refer to it) and no longer.
    """

    epoch = 0  # advanced by every store into any virtual
    __slots__ = ("cls", "fields", "_frozen", "forced", "origin")

    def __init__(self, cls: type, fields: dict[str, TValue] | None = None) -> None:
        self.cls = cls
        self.fields: dict[str, TValue] = fields if fields is not None else {}
        self._frozen: tuple[int, VirtualObject] | None = None
        self.forced: Value | None = None  # the object, once the trace built it
        self.origin: VirtualObject = self  # a frozen copy's live virtual

    def store(self, name: str, tv: TValue) -> None:
        VirtualObject.epoch += 1
        self.fields[name] = tv

    def frozen(self) -> VirtualObject:
        hit = self._frozen
        if hit is not None and hit[0] == VirtualObject.epoch:
            return hit[1]
        copy = VirtualObject(self.cls)
        copy.origin = self
        copy._frozen = (VirtualObject.epoch, copy)
        self._frozen = (VirtualObject.epoch, copy)
        copy.fields = {name: tv.frozen() for name, tv in self.fields.items()}
        return copy

    def leaves(self) -> list[Value]:
        """The non-constant IR values of its fields, nested virtuals' included."""
        out: list[Value] = []
        seen: set[int] = set()
        todo = [self]
        while todo:
            v = todo.pop()
            if id(v) in seen:
                continue
            seen.add(id(v))
            for tv in v.fields.values():
                if tv.kind == K_VIRTUAL:
                    todo.append(tv.virt)
                else:
                    out += tv.ir_values()
        return out


def virtual_tvalue(virt: VirtualObject, py: Any) -> TValue:
    """A traced value standing for the virtual ``virt`` (concretely ``py``,
    the object the tracer made when it ran the program)."""
    tv = TValue(K_VIRTUAL, None, py)
    tv.virt = virt
    return tv


def null_tvalue(frame_slot: int = -1) -> TValue:
    tv = TValue(K_NULL, CONST_NULL, NULL)
    tv.frame_slot = frame_slot
    return tv


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
    """The traced value of a constant object."""
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
# snapshots: what a guard needs to rebuild the interpreter state


class ResumeMode(enum.Enum):
    """Where in its bytecode a snapshot's frame continues."""

    BEFORE = "before"  # CPython (re)executes the instruction at ``offset``
    # the frame is suspended in the call at ``offset``; an inner frame of the
    # same snapshot continues inside the callee (used by resuming in callees)
    IN_CALL = "in_call"


@dataclass
class FrameSnapshot:
    """One frame's state: before the bytecode at ``offset`` of ``code``.

    ``locals`` maps local index -> TValue for locals the real frame does not
    hold; ``stack`` is the full value stack; ``frame_depth`` is how many stack
    slots the real frame owns at this point (their contents may be stale).
    """

    code: types.CodeType
    offset: int
    locals: dict[int, TValue]
    stack: list[TValue]
    frame_depth: int
    mode: ResumeMode = ResumeMode.BEFORE
    # references the trace owns that the resumed frame does not hold: released
    release: list[TValue] = field(default_factory=list)

    def values(self) -> list[Value]:
        return [v for tv in list(self.locals.values()) + self.stack + self.release
                for v in tv.ir_values()]


@dataclass
class Snapshot:
    """The interpreter state at a guard: frames, outermost first.

    Every frame but the innermost is suspended in a call (``IN_CALL``).
    ``periodic`` marks the loop's regular pause for CPython; ``raising`` an
    exception that a residual call raised (the innermost frame resumes at
    that call with a stack that re-raises it: see tracer.residual).
    """

    frames: list[FrameSnapshot]
    periodic: bool = False
    raising: bool = False  # the innermost frame raises an exception at its CALL
    # the stack entry that is a residual call's result whose class is not
    # guarded yet (-1: none); a bridge guards it first
    unguarded: int = -1

    @property
    def innermost(self) -> FrameSnapshot:
        return self.frames[-1]

    def values(self) -> list[Value]:
        return [v for f in self.frames for v in f.values()]


# ---------------------------------------------------------------------------
# what a trace assumed about its inputs and the world


@dataclass(eq=False)
class InSlot:
    """One input of a trace that starts at a loop header."""

    where: str  # "local" or "stack"
    index: int
    kind: str
    pytype: type
    arg: InputArg | None = None


def signature_args(signature: list[InSlot]) -> list[InputArg]:
    """The trace inputs of a signature (NULL stack slots carry no value)."""
    return [s.arg for s in signature if s.kind != K_NULL]


@dataclass(eq=False)
class GlobalAssumption:
    """The trace assumed ``namespace[key] is value`` (ABSENT: not bound)."""

    namespace: dict
    key: str
    value: Any


@dataclass(eq=False)
class FieldAssumption:
    """The trace assumed the object pointer at ``offset`` in ``obj`` is
    ``value`` (None: NULL), e.g. an inlined function's ``__code__``."""

    obj: Any
    offset: int
    value: Any


@dataclass(eq=False)
class Assumptions:
    """The global/builtin/module-attribute lookups and object fields a trace
    relied on, each once."""

    items: list[GlobalAssumption | FieldAssumption] = field(default_factory=list)
    _seen: dict[tuple[int, Any], Any] = field(default_factory=dict)

    def lookup(self, namespace: dict, key: str) -> Any:
        """``namespace[key]`` (ABSENT if unbound), assumed from now on when bound."""
        hit = self._seen.get((id(namespace), key))
        if hit is not None:
            return hit.value
        value = namespace.get(key, ABSENT)
        if value is not ABSENT:
            self._add(namespace, key, value)
        return value

    def assume_field(self, obj: Any, offset: int, value: Any) -> None:
        if (id(obj), offset) not in self._seen:
            a = FieldAssumption(obj, offset, value)
            self._seen[(id(obj), offset)] = a  # type: ignore[assignment]
            self.items.append(a)  # type: ignore[arg-type]

    def assume_absent(self, namespace: dict, key: str) -> None:
        if (id(namespace), key) not in self._seen:
            self._add(namespace, key, ABSENT)

    def _add(self, namespace: dict, key: str, value: Any) -> None:
        a = GlobalAssumption(namespace, key, value)
        self._seen[(id(namespace), key)] = a
        self.items.append(a)
