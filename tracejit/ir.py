"""The trace IR: one table of operations, SSA values, and a parseable text form.

A trace is a straight line of operations.  Every operation *is* its own result
value (as in PyPy), typed ``i`` (int64, also raw addresses and 0/1 booleans),
``f`` (float64) or ``r`` (a ``PyObject*``); ``v`` means no result.  Guards may
leave the trace: each carries an :class:`ExitDescr` naming the exit and the
values (``fail_args``) that are written to the exit buffer when it fails.

``OPS`` below is the single definition of the operation set: the tracer, the
optimizer passes, the reference interpreter and every backend read it.  Each
entry says what the operation does besides computing its result (its
:class:`Effect`, the heap it reads or writes, whether it may exit) and, when
its result follows from its arguments alone, how to compute it
(``evaluate``): constant folding and the reference backend both use that one
function.  Calls describe their effects in their :class:`CallDescr`.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

INT, FLOAT, REF, VOID = "i", "f", "r", "v"


class Effect(enum.Enum):
    """What an operation does besides computing its result.

    The optimizer passes decide by this (and by :attr:`OpDef.heap`,
    :attr:`OpDef.guard` and a call's :class:`CallDescr`), never by op names.
    """

    PURE = "pure"  # the result depends only on the arguments; nothing else happens
    LOAD = "load"  # reads memory of ``heap``: a later store or call may change the result
    STORE = "store"  # writes memory of ``heap``
    ALLOC = "alloc"  # makes a new object (no op does yet: allocation is a call)
    CALL = "call"  # calls a C function; its CallDescr says what the call does
    GUARD = "guard"  # checks a condition and exits the trace when it does not hold
    CONTROL = "control"  # label, jump, finish: the shape of the trace


# The heaps that loads and stores touch (``OpDef.heap``).  Within "field" and
# "raw" memory (base + offset, one address space) a FieldOffset's tag names
# the field: differently named fields never overlap, and a plain int offset
# may overlap anything at that offset.  Item heaps are written only by item
# stores and calls, and an array item also by an unnamed field store past the
# array's start (filling a fresh tuple).  No load reads a reference count.
HEAP_FIELD = "field"  # (char*)ref + offset: a field of an object
HEAP_RAW = "raw"  # int address + offset: frames, counters, tables (may be fields too)
HEAP_LISTITEM = "listitem"  # items of a list's item array (reached through a field)
HEAP_ARRAYITEM = "arrayitem"  # inline items of a variable-size object (tuple items)
HEAP_REFCOUNT = "refcount"  # reference counts: incref and decref
HEAP_INT = "int"  # the value of an int object: never changes, nothing writes it
IMMUTABLE_HEAPS = frozenset({HEAP_INT})


@dataclass(frozen=True)
class OpDef:
    """Static description of one IR operation.

    ``evaluate`` (None when the result is not a function of the arguments
    alone) computes the op on machine-level values: wrapping int64 ints,
    IEEE doubles, references as addresses (0 is NULL).  It returns the
    result; a guard returns None when it would exit (a guard without a
    result returns True when it holds); arguments outside the op's domain
    (a zero divisor, a shift count outside 0..63) raise ``ArithmeticError``
    or ``ValueError``.
    """

    name: str
    args: str  # one type letter per argument; "*" = any number of any type
    result: str  # "i", "f", "r" or "v"
    effect: Effect
    heap: str | None = None  # for loads and stores: the memory they touch
    guard: bool = False  # may exit the trace
    releases: bool = False  # may free objects / run arbitrary code (decref, calls)
    descr: str | None = None  # kind of descriptor the op needs
    evaluate: Callable[..., Any] | None = None
    doc: str = ""

    @property
    def pure(self) -> bool:
        """No side effects; the result depends only on the arguments (an
        overflow-checking op is pure and also a guard)."""
        return self.effect is Effect.PURE


# -- evaluation on machine-level values (shared by folding and the reference
# backend; the conformance suite keeps an oracle of its own)

_MASK64 = (1 << 64) - 1


def _wrap(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _fits(v: int) -> bool:
    return -(1 << 63) <= v < (1 << 63)


def _shift_count(b: int) -> int:
    if not 0 <= b < 64:
        raise ValueError(f"shift count {b} outside 0..63")
    return b


def _checked(v: int) -> int | None:
    return v if _fits(v) else None


def _lshift_ovf(a: int, b: int) -> int | None:
    r = _wrap(a << _shift_count(b))
    return r if r >> b == a else None


def _float_truediv(a: float, b: float) -> float:
    if b != 0.0:
        return a / b
    if math.isnan(a) or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _cast_float_to_int(a: float) -> int:
    r = int(a)  # nan: ValueError, inf: OverflowError
    if not _fits(r):
        raise OverflowError(f"{a!r} does not fit in int64")
    return r


def _holds(ok: bool) -> bool | None:
    return True if ok else None


def _defs() -> dict[str, OpDef]:
    table: list[OpDef] = []

    def op(name: str, args: str, result: str, doc: str, effect: Effect, **kw: Any) -> None:
        table.append(OpDef(name, args, result, effect, doc=doc, **kw))

    pure = Effect.PURE

    # -- integers (int64, two's complement; ``_ovf`` variants exit on overflow)
    for name, doc, fn in [
        ("int_add", "a + b, wrapping", lambda a, b: _wrap(a + b)),
        ("int_sub", "a - b, wrapping", lambda a, b: _wrap(a - b)),
        ("int_mul", "a * b, wrapping", lambda a, b: _wrap(a * b)),
        ("int_and", "a & b", lambda a, b: a & b),
        ("int_or", "a | b", lambda a, b: a | b),
        ("int_xor", "a ^ b", lambda a, b: a ^ b),
        ("int_lshift", "a << b, 0 <= b < 64, wrapping", lambda a, b: _wrap(a << _shift_count(b))),
        ("int_rshift", "a >> b arithmetic, 0 <= b < 64", lambda a, b: a >> _shift_count(b)),
        ("int_floordiv", "Python a // b; b != 0 and not (a == MIN and b == -1)",
         lambda a, b: _wrap(a // b)),
        ("int_mod", "Python a % b (sign of b); b != 0", lambda a, b: a % b),
        ("int_lt", "a < b -> 0/1", lambda a, b: int(a < b)),
        ("int_le", "a <= b -> 0/1", lambda a, b: int(a <= b)),
        ("int_eq", "a == b -> 0/1", lambda a, b: int(a == b)),
        ("int_ne", "a != b -> 0/1", lambda a, b: int(a != b)),
        ("int_gt", "a > b -> 0/1", lambda a, b: int(a > b)),
        ("int_ge", "a >= b -> 0/1", lambda a, b: int(a >= b)),
    ]:
        op(name, "ii", INT, doc, pure, evaluate=fn)
    op("int_neg", "i", INT, "-a, wrapping", pure, evaluate=lambda a: _wrap(-a))
    op("int_invert", "i", INT, "~a", pure, evaluate=lambda a: ~a)
    # pure, and guards: the result is a function of the arguments, or an exit
    for name, doc, fn in [
        ("int_add_ovf", "a + b; exits if the result does not fit in int64",
         lambda a, b: _checked(a + b)),
        ("int_sub_ovf", "a - b; exits on int64 overflow", lambda a, b: _checked(a - b)),
        ("int_mul_ovf", "a * b; exits on int64 overflow", lambda a, b: _checked(a * b)),
        ("int_lshift_ovf", "a << b with 0 <= b < 64; exits unless (a << b) >> b == a",
         _lshift_ovf),
    ]:
        op(name, "ii", INT, doc, pure, guard=True, evaluate=fn)

    # -- floats (IEEE double)
    for name, doc, fn in [
        ("float_add", "a + b", lambda a, b: a + b),
        ("float_sub", "a - b", lambda a, b: a - b),
        ("float_mul", "a * b", lambda a, b: a * b),
        ("float_truediv", "a / b (IEEE; b == 0 gives inf/nan)", _float_truediv),
        ("float_floordiv", "Python a // b for floats; b != 0", lambda a, b: a // b),
        ("float_mod", "Python a % b for floats (sign of b); b != 0", lambda a, b: a % b),
    ]:
        op(name, "ff", FLOAT, doc, pure, evaluate=fn)
    for name, doc, fn in [
        ("float_lt", "a < b -> 0/1", lambda a, b: int(a < b)),
        ("float_le", "a <= b -> 0/1", lambda a, b: int(a <= b)),
        ("float_eq", "a == b -> 0/1", lambda a, b: int(a == b)),
        ("float_ne", "a != b -> 0/1 (true for nan)", lambda a, b: int(a != b)),
        ("float_gt", "a > b -> 0/1", lambda a, b: int(a > b)),
        ("float_ge", "a >= b -> 0/1", lambda a, b: int(a >= b)),
    ]:
        op(name, "ff", INT, doc, pure, evaluate=fn)
    op("float_neg", "f", FLOAT, "-a", pure, evaluate=lambda a: -a)
    op("float_abs", "f", FLOAT, "|a|", pure, evaluate=lambda a: abs(a))
    op("cast_int_to_float", "i", FLOAT, "(double)a, round to nearest", pure,
       evaluate=lambda a: float(a))
    op("cast_float_to_int", "f", INT, "truncate toward 0; caller ensures it fits", pure,
       evaluate=_cast_float_to_int)

    # -- references and memory (no reference counting implied)
    op("ptr_eq", "rr", INT, "a == b (identity) -> 0/1", pure, evaluate=lambda a, b: int(a == b))
    op("ptr_ne", "rr", INT, "a != b (identity) -> 0/1", pure, evaluate=lambda a, b: int(a != b))
    op("ref_address", "r", INT, "the address a reference holds, as an int (no reference "
       "taken: for pointer arithmetic into an object the trace keeps alive)", pure,
       evaluate=lambda a: a)

    def mem(name: str, args: str, result: str, doc: str, heap: str) -> None:
        effect = Effect.STORE if result == VOID else Effect.LOAD
        op(name, args, result, doc, effect, heap=heap, descr="offset")

    mem("getfield_i", "r", INT, "int64 at (char*)a + offset", HEAP_FIELD)
    mem("getfield_f", "r", FLOAT, "double at (char*)a + offset", HEAP_FIELD)
    mem("getfield_r", "r", REF, "PyObject* at (char*)a + offset (borrowed)", HEAP_FIELD)
    mem("setfield_i", "ri", VOID, "store int64 at (char*)a + offset", HEAP_FIELD)
    mem("setfield_r", "rr", VOID, "store PyObject* at (char*)a + offset", HEAP_FIELD)
    mem("raw_load_i", "i", INT, "int64 at address a + offset", HEAP_RAW)
    mem("raw_load_r", "i", REF, "PyObject* at address a + offset (borrowed)", HEAP_RAW)
    mem("raw_store_i", "ii", VOID, "store int64 at address a + offset", HEAP_RAW)
    mem("raw_store_r", "ir", VOID, "store PyObject* at address a + offset", HEAP_RAW)
    mem("getarrayitem_r", "ri", REF,
        "PyObject* at (char*)a + offset + 8*i, inline array (tuple items)", HEAP_ARRAYITEM)
    mem("getlistitem_r", "ri", REF,
        "((PyObject**)*(char*)a + offset))[i]: item i of a list (borrowed)", HEAP_LISTITEM)
    mem("setlistitem_r", "rir", VOID,
        "((PyObject**)*((char*)a + offset))[i] = v; no refcounting", HEAP_LISTITEM)
    op("get_frame", "", INT, "the frame address the compiled code was entered with", pure)
    op("incref", "r", VOID, "Py_INCREF(a)", Effect.STORE, heap=HEAP_REFCOUNT)
    op("decref", "r", VOID, "Py_DECREF(a); may free objects", Effect.STORE,
       heap=HEAP_REFCOUNT, releases=True)

    # -- Python integer unboxing (boxing goes through call_r with a C helper)
    op(
        "unbox_int", "r", INT,
        "value of the exact int a; exits if it does not fit in int64",
        Effect.LOAD, heap=HEAP_INT, guard=True, descr="long_layout",
    )

    # -- calls to C functions by address
    for name, doc in [
        ("call_i", "call a C function returning int64"),
        ("call_f", "call a C function returning double"),
        ("call_r", "call a C function returning a new reference"),
        ("call_v", "call a C function returning nothing"),
    ]:
        op(name, "*", name[-1], doc, Effect.CALL, descr="call")

    # -- guards: exit the trace when the condition does not hold
    for name, args, doc, fn in [
        ("guard_true", "i", "exit unless a != 0", lambda a: _holds(a != 0)),
        ("guard_false", "i", "exit unless a == 0", lambda a: _holds(a == 0)),
        ("guard_value_i", "ii", "exit unless a == b", lambda a, b: _holds(a == b)),
        ("guard_value_r", "rr", "exit unless a is b", lambda a, b: _holds(a == b)),
        # reads the object's type pointer, which the trace takes as fixed
        ("guard_class", "ri", "exit unless Py_TYPE(a) == (PyTypeObject*)b", None),
        ("guard_nonnull", "r", "exit if a is NULL", lambda a: _holds(a != 0)),
    ]:
        op(name, args, VOID, doc, Effect.GUARD, guard=True, evaluate=fn)

    # -- control
    op("label", "*", VOID, "start of the loop body; its arguments are the loop-carried values",
       Effect.CONTROL)
    op(
        "jump", "*", VOID,
        "to this trace's label, or (descr set) to the start of another compiled trace",
        Effect.CONTROL, descr="target",
    )
    op("finish", "*", VOID, "leave the trace unconditionally through its exit",
       Effect.CONTROL, guard=True)
    return {d.name: d for d in table}


OPS: dict[str, OpDef] = _defs()


# ---------------------------------------------------------------------------
# values


class Value:
    """Anything that can be an operand: an input argument, a constant, an op."""

    type: str = VOID
    __slots__ = ()

    def is_const(self) -> bool:
        return False


class InputArg(Value):
    """A value entering the trace from the exit buffer."""

    __slots__ = ("type",)

    def __init__(self, type: str) -> None:
        self.type = type


class Const(Value):
    __slots__ = ("type", "value")

    def __init__(self, type: str, value: Any) -> None:
        self.type = type
        self.value = value

    def is_const(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Const) or other.type != self.type:
            return False
        if self.type == FLOAT:
            return float_bits(self.value) == float_bits(other.value)
        if self.type == REF:
            return self.value is other.value
        return self.value == other.value

    def __hash__(self) -> int:
        if self.type == FLOAT:
            return hash(("f", float_bits(self.value)))
        if self.type == REF:
            return hash(("r", id(self.value)))
        return hash((self.type, self.value))

    def raw(self) -> int:
        """The 64-bit machine representation of the constant."""
        if self.type == FLOAT:
            return float_bits(self.value)
        if self.type == REF:
            return 0 if self.is_null() else id(self.value)
        return self.value

    def is_null(self) -> bool:
        return self.type == REF and isinstance(self.value, _Null)


class _Null:
    def __repr__(self) -> str:
        return "NULL"


NULL_VALUE = _Null()


def const_int(v: int) -> Const:
    return Const(INT, v)


def const_float(v: float) -> Const:
    return Const(FLOAT, v)


def const_ref(obj: object) -> Const:
    return Const(REF, obj)


CONST_NULL = Const(REF, NULL_VALUE)


def float_bits(x: float) -> int:
    return struct.unpack("<q", struct.pack("<d", x))[0]


def bits_float(b: int) -> float:
    return struct.unpack("<d", struct.pack("<q", b))[0]


INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def fits_int64(v: int) -> bool:
    return INT64_MIN <= v <= INT64_MAX


# ---------------------------------------------------------------------------
# descriptors


class FieldOffset(int):
    """A field offset (an ``int``) that also names the field, e.g. "list.size".

    Backends may use the name for alias analysis: fields with different names
    never overlap.  Plain ints are fine too (no name: may alias anything at
    that offset).
    """

    tag: str

    def __new__(cls, offset: int, tag: str) -> FieldOffset:
        self = super().__new__(cls, offset)
        self.tag = tag
        return self

    def __repr__(self) -> str:
        return str(int(self))


class Writes(enum.Enum):
    """The memory a called function may write (``CallDescr.writes``)."""

    NOTHING = "nothing"  # no memory a trace loads (reference counts and its new object aside)
    ARGS = "args"  # fields and items of the objects passed to it
    ANYTHING = "anything"


@dataclass(eq=False)
class CallDescr:
    """A C function called by address, and what calling it does (like PyPy's
    ``EffectInfo``).

    ``argtypes``/``restype`` use the IR type letters.  ``pyimpl`` gives the
    reference interpreter the same semantics on machine-level values.

    * ``releases``: may free objects or run arbitrary Python code (so it may
      also write anything);
    * ``pure``: the result depends only on the arguments and nothing else
      happens (libm): it may be computed once, earlier, or not at all;
    * ``can_raise``: may fail with a Python exception set, returning an
      error value (NULL, -1) that the trace must check;
    * ``writes``: the memory it may change (:class:`Writes`);
    * ``allocates``: returns a new reference to an object made for the call
      (or to a shared immutable one: a small int, the empty tuple);
    * ``calls_program``: calls a callable of the program (a residual call).
      Besides writing anything, it may change the class of any object, so
      class guards before it say nothing about the objects after it.

    Left out, ``can_raise`` and ``writes`` take the conservative answer
    (raises, writes anything) unless the call is pure.
    """

    name: str
    address: int
    argtypes: str
    restype: str
    releases: bool = False
    pure: bool = False
    pyimpl: Any = None
    can_raise: bool | None = None
    writes: Writes | None = None
    allocates: bool = False
    calls_program: bool = False

    def __post_init__(self) -> None:
        if self.can_raise is None:
            self.can_raise = not self.pure
        if self.writes is None:
            self.writes = Writes.NOTHING if self.pure else Writes.ANYTHING
        if self.pure and (self.releases or self.allocates or self.writes is not Writes.NOTHING):
            raise ValueError(f"{self.name}: a pure call frees, allocates and writes nothing")
        if self.calls_program and not self.releases:
            raise ValueError(f"{self.name}: a call of program code may run anything")
        if self.releases and self.writes is not Writes.ANYTHING:
            raise ValueError(f"{self.name}: a call that runs arbitrary code may write anything")

    def __repr__(self) -> str:
        return f"<call {self.name}>"


@dataclass(eq=False)
class LongLayout:
    """Where a compact int keeps its tag and first digit (for ``unbox_int``)."""

    tag_offset: int
    digit_offset: int
    non_size_bits: int
    slow_helper: int  # address of PyLong_AsLongAndOverflow

    def __repr__(self) -> str:
        return "<long>"


@dataclass(eq=False)
class ExitDescr:
    """One way out of a trace: all a backend needs to know of it.

    ``number`` is what the compiled code returns; ``slot_address`` is an int64
    cell: when it holds a non-zero code address the exit jumps there (a bridge)
    instead of returning.  ``fail_types`` are the types of the guard's
    ``fail_args`` as written to the exit buffer.  What the exit means (how to
    resume, how often it failed) is the runtime's, keyed by ``number``.
    """

    number: int = -1
    slot_address: int = 0
    fail_types: str = ""

    def __repr__(self) -> str:
        return f"<exit {self.number}>"


# ---------------------------------------------------------------------------
# operations and traces


class Op(Value):
    """One operation; also the SSA value it produces."""

    __slots__ = ("name", "args", "descr", "exit", "fail_args", "snapshot", "type", "_index",
                 "pos")

    def __init__(self, name: str, args: Iterable[Value] = (), descr: Any = None) -> None:
        d = OPS[name]
        self.name = name
        self.args = list(args)
        self.descr = descr
        self.exit: ExitDescr | None = None
        self.fail_args: list[Value] | None = None
        self.snapshot: Any = None  # tracer's resume snapshot, turned into exit.resume
        self.type = d.result
        self._index = -1
        self.pos: tuple[Any, int] | None = None  # (code, bytecode offset) it was traced at

    @property
    def opdef(self) -> OpDef:
        return OPS[self.name]

    def is_guard(self) -> bool:
        return OPS[self.name].guard

    def __repr__(self) -> str:
        return f"<{self.name}>"


@dataclass(eq=False)
class Trace:
    """A loop, an entry bridge or a bridge.

    ``inputargs`` arrive in the exit buffer; a loop contains one ``label`` and
    ends in ``jump`` to it; other traces end in ``jump`` to another trace or
    in ``finish``.
    """

    inputargs: list[InputArg]
    ops: list[Op]
    name: str = "trace"
    keepalive: list[Any] = field(default_factory=list)
    compiled: Any = None  # the backend's CompiledTrace, once compiled
    tier: int = 0  # which tier compiled it (see tracejit.tiers)
    loop_name: str = ""
    header_snapshot: Any = None  # loops: the interpreter state at the label

    def guards(self) -> list[Op]:
        return [op for op in self.ops if op.is_guard()]

    def check(self) -> None:
        """Verify SSA form and operand types; raise ``ValueError`` on a bad trace."""
        defined: set[int] = {id(a) for a in self.inputargs}
        for pos, op in enumerate(self.ops):
            d = OPS[op.name]
            if d.args != "*":
                if len(op.args) != len(d.args):
                    raise ValueError(f"op {pos} {op.name}: expected {len(d.args)} args")
                for a, t in zip(op.args, d.args):
                    if a.type != t:
                        raise ValueError(f"op {pos} {op.name}: arg type {a.type} != {t}")
            for a in op.args:
                if not a.is_const() and id(a) not in defined:
                    raise ValueError(f"op {pos} {op.name}: use of an undefined value")
            if op.is_guard():
                if op.exit is None or op.fail_args is None:
                    raise ValueError(f"op {pos} {op.name}: guard without exit")
                for a in op.fail_args:
                    if not a.is_const() and id(a) not in defined:
                        raise ValueError(f"op {pos} {op.name}: fail arg undefined")
            if op.type != VOID:
                defined.add(id(op))
        if not self.ops or self.ops[-1].name not in ("jump", "finish"):
            raise ValueError("trace must end in jump or finish")


# ---------------------------------------------------------------------------
# text form


def _fmt_const(c: Const) -> str:
    if c.type == INT:
        return str(c.value)
    if c.type == FLOAT:
        return repr(float(c.value)) if not math.isnan(c.value) else "nan"
    if c.is_null():
        return "NULL"
    return f"ConstPtr({c.value!r:.40})"


def dump(trace: Trace, annotate: Callable[[Op], str] | None = None) -> str:
    """Render a trace as text (see :func:`parse` for the inverse);
    ``annotate(guard)`` may add a comment to each guard (its resume point)."""
    names: dict[int, str] = {}
    counter = [0]

    def name_of(v: Value) -> str:
        if isinstance(v, Const):
            return _fmt_const(v)
        key = id(v)
        if key not in names:
            names[key] = f"{v.type}{counter[0]}"
            counter[0] += 1
        return names[key]

    lines = ["[" + ", ".join(name_of(a) for a in trace.inputargs) + "]"]
    for op in trace.ops:
        args = ", ".join(name_of(a) for a in op.args)
        text = f"{op.name}({args})"
        if op.descr is not None:
            text += f" descr={_fmt_descr(op.descr)}"
        if op.type != VOID:
            text = f"{name_of(op)} = {text}"
        if op.fail_args is not None:
            text += " [" + ", ".join(name_of(a) for a in op.fail_args) + "]"
        if annotate is not None and op.exit is not None:
            note = annotate(op)
            if note:
                text += f"  # {note}"
        lines.append(text)
    return "\n".join(lines) + "\n"


def _fmt_descr(d: Any) -> str:
    if isinstance(d, int):
        return str(d)
    if isinstance(d, CallDescr):
        return d.name
    if isinstance(d, Trace):
        return f"trace:{d.name}"
    return repr(d)


def parse(text: str, namespace: dict[str, Any] | None = None) -> Trace:
    """Parse the text form (without resume comments) back into a trace.

    Descriptors are integers (offsets) or names looked up in ``namespace``
    (call descriptors, jump targets).  Guards get fresh exits.
    """
    namespace = namespace or {}
    env: dict[str, Value] = {}
    lines = [ln.split("#", 1)[0].strip() for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    header = lines[0]
    if not (header.startswith("[") and header.endswith("]")):
        raise ValueError("first line must list the input arguments: [i0, f1, ...]")
    inputargs: list[InputArg] = []
    for tok in _split_args(header[1:-1]):
        a = InputArg(tok[0])
        env[tok] = a
        inputargs.append(a)

    def value(tok: str) -> Value:
        if tok in env:
            return env[tok]
        if tok == "NULL":
            return CONST_NULL
        if tok == "nan":
            return const_float(math.nan)
        if tok in ("inf", "-inf"):
            return const_float(float(tok))
        if tok.startswith("ConstPtr(") and tok.endswith(")"):
            return const_ref(namespace[tok[9:-1]])
        try:
            return const_int(int(tok))
        except ValueError:
            pass
        try:
            return const_float(float(tok))
        except ValueError:
            raise ValueError(f"unknown value {tok!r}") from None

    ops: list[Op] = []
    for ln in lines[1:]:
        result = None
        if "=" in ln.split("(", 1)[0]:
            result, ln = (s.strip() for s in ln.split("=", 1))
        name, rest = ln.split("(", 1)
        name = name.strip()
        if name not in OPS:
            raise ValueError(f"unknown operation {name!r}")
        argtext, rest = _take_parens(rest)
        args = [value(t) for t in _split_args(argtext)]
        descr: Any = None
        fail: list[Value] | None = None
        rest = rest.strip()
        if rest.startswith("descr="):
            dtext = rest[6:].split(" ", 1)[0]
            rest = rest[6 + len(dtext):].strip()
            descr = int(dtext) if dtext.lstrip("-").isdigit() else namespace[dtext]
        if rest.startswith("["):
            fail = [value(t) for t in _split_args(rest[1:rest.index("]")])]
        op = Op(name, args, descr)
        if op.is_guard():
            op.exit = ExitDescr()
            op.fail_args = fail if fail is not None else []
        if result is not None:
            if op.type == VOID:
                raise ValueError(f"{name} has no result")
            env[result] = op
        ops.append(op)
    return Trace(inputargs, ops)


def _take_parens(s: str) -> tuple[str, str]:
    depth = 1
    for i, ch in enumerate(s):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return s[:i], s[i + 1:]
    raise ValueError("unbalanced parentheses")


def _split_args(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out
