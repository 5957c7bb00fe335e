"""The trace IR: one table of operations, SSA values, and a parseable text form.

A trace is a straight line of operations.  Every operation *is* its own result
value (as in PyPy), typed ``i`` (int64, also raw addresses and 0/1 booleans),
``f`` (float64) or ``r`` (a ``PyObject*``); ``v`` means no result.  Guards may
leave the trace: each carries an :class:`ExitDescr` naming the exit and the
values (``fail_args``) that are written to the exit buffer when it fails.

``OPS`` below is the single definition of the operation set: the tracer, the
optimizer passes, the reference interpreter and every backend read it.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

INT, FLOAT, REF, VOID = "i", "f", "r", "v"


@dataclass(frozen=True)
class OpDef:
    """Static description of one IR operation."""

    name: str
    args: str  # one type letter per argument; "*" = any number of any type
    result: str  # "i", "f", "r" or "v"
    pure: bool = False  # no side effects, result depends only on the arguments
    guard: bool = False  # may exit the trace
    releases: bool = False  # may free objects / run arbitrary code (decref, calls)
    descr: str | None = None  # kind of descriptor the op needs
    doc: str = ""


def _defs() -> dict[str, OpDef]:
    table: list[OpDef] = []

    def op(name: str, args: str, result: str, doc: str, **kw: Any) -> None:
        table.append(OpDef(name, args, result, doc=doc, **kw))

    # -- integers (int64, two's complement; ``_ovf`` variants exit on overflow)
    for name, doc in [
        ("int_add", "a + b, wrapping"),
        ("int_sub", "a - b, wrapping"),
        ("int_mul", "a * b, wrapping"),
        ("int_and", "a & b"),
        ("int_or", "a | b"),
        ("int_xor", "a ^ b"),
        ("int_lshift", "a << b, 0 <= b < 64, wrapping"),
        ("int_rshift", "a >> b arithmetic, 0 <= b < 64"),
        ("int_floordiv", "Python a // b; b != 0 and not (a == MIN and b == -1)"),
        ("int_mod", "Python a % b (sign of b); b != 0"),
        ("int_lt", "a < b -> 0/1"),
        ("int_le", "a <= b -> 0/1"),
        ("int_eq", "a == b -> 0/1"),
        ("int_ne", "a != b -> 0/1"),
        ("int_gt", "a > b -> 0/1"),
        ("int_ge", "a >= b -> 0/1"),
    ]:
        op(name, "ii", INT, doc, pure=True)
    op("int_neg", "i", INT, "-a, wrapping", pure=True)
    op("int_invert", "i", INT, "~a", pure=True)
    for name, doc in [
        ("int_add_ovf", "a + b; exits if the result does not fit in int64"),
        ("int_sub_ovf", "a - b; exits on int64 overflow"),
        ("int_mul_ovf", "a * b; exits on int64 overflow"),
        ("int_lshift_ovf", "a << b with 0 <= b < 64; exits unless (a << b) >> b == a"),
    ]:
        op(name, "ii", INT, doc, pure=True, guard=True)

    # -- floats (IEEE double)
    for name, doc in [
        ("float_add", "a + b"),
        ("float_sub", "a - b"),
        ("float_mul", "a * b"),
        ("float_truediv", "a / b (IEEE; b == 0 gives inf/nan)"),
        ("float_floordiv", "Python a // b for floats; b != 0"),
        ("float_mod", "Python a % b for floats (sign of b); b != 0"),
    ]:
        op(name, "ff", FLOAT, doc, pure=True)
    for name, doc in [
        ("float_lt", "a < b -> 0/1"),
        ("float_le", "a <= b -> 0/1"),
        ("float_eq", "a == b -> 0/1"),
        ("float_ne", "a != b -> 0/1 (true for nan)"),
        ("float_gt", "a > b -> 0/1"),
        ("float_ge", "a >= b -> 0/1"),
    ]:
        op(name, "ff", INT, doc, pure=True)
    op("float_neg", "f", FLOAT, "-a", pure=True)
    op("float_abs", "f", FLOAT, "|a|", pure=True)
    op("cast_int_to_float", "i", FLOAT, "(double)a, round to nearest", pure=True)
    op("cast_float_to_int", "f", INT, "truncate toward 0; caller ensures it fits", pure=True)

    # -- references and memory (no reference counting implied)
    op("ptr_eq", "rr", INT, "a == b (identity) -> 0/1", pure=True)
    op("ptr_ne", "rr", INT, "a != b (identity) -> 0/1", pure=True)
    op("getfield_i", "r", INT, "int64 at (char*)a + offset", descr="offset")
    op("getfield_f", "r", FLOAT, "double at (char*)a + offset", descr="offset")
    op("getfield_r", "r", REF, "PyObject* at (char*)a + offset (borrowed)", descr="offset")
    op("setfield_i", "ri", VOID, "store int64 at (char*)a + offset", descr="offset")
    op("setfield_r", "rr", VOID, "store PyObject* at (char*)a + offset", descr="offset")
    op("raw_load_i", "i", INT, "int64 at address a + offset", descr="offset")
    op("raw_load_r", "i", REF, "PyObject* at address a + offset (borrowed)", descr="offset")
    op("raw_store_i", "ii", VOID, "store int64 at address a + offset", descr="offset")
    op("raw_store_r", "ir", VOID, "store PyObject* at address a + offset", descr="offset")
    op(
        "getarrayitem_r", "ri", REF,
        "PyObject* at (char*)a + offset + 8*i, inline array (tuple items)", descr="offset",
    )
    op(
        "getlistitem_r", "ri", REF,
        "((PyObject**)*(char*)a + offset))[i]: item i of a list (borrowed)", descr="offset",
    )
    op(
        "setlistitem_r", "rir", VOID,
        "((PyObject**)*((char*)a + offset))[i] = v; no refcounting", descr="offset",
    )
    op("get_frame", "", INT, "the frame address the compiled code was entered with", pure=True)
    op("incref", "r", VOID, "Py_INCREF(a)")
    op("decref", "r", VOID, "Py_DECREF(a); may free objects", releases=True)

    # -- Python integer unboxing (boxing goes through call_r with a C helper)
    op(
        "unbox_int", "r", INT,
        "value of the exact int a; exits if it does not fit in int64",
        guard=True, descr="long_layout",
    )

    # -- calls to C functions by address
    op("call_i", "*", INT, "call a C function returning int64", descr="call")
    op("call_f", "*", FLOAT, "call a C function returning double", descr="call")
    op("call_r", "*", REF, "call a C function returning a new reference", descr="call")
    op("call_v", "*", VOID, "call a C function returning nothing", descr="call")

    # -- guards: exit the trace when the condition does not hold
    op("guard_true", "i", VOID, "exit unless a != 0", guard=True)
    op("guard_false", "i", VOID, "exit unless a == 0", guard=True)
    op("guard_value_i", "ii", VOID, "exit unless a == b", guard=True)
    op("guard_value_r", "rr", VOID, "exit unless a is b", guard=True)
    op("guard_class", "ri", VOID, "exit unless Py_TYPE(a) == (PyTypeObject*)b", guard=True)
    op("guard_nonnull", "r", VOID, "exit if a is NULL", guard=True)

    # -- control
    op("label", "*", VOID, "start of the loop body; its arguments are the loop-carried values")
    op(
        "jump", "*", VOID,
        "to this trace's label, or (descr set) to the start of another compiled trace",
        descr="target",
    )
    op("finish", "*", VOID, "leave the trace unconditionally through its exit", guard=True)
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


@dataclass(eq=False)
class CallDescr:
    """A C function called by address.

    ``argtypes``/``restype`` use the IR type letters.  ``releases`` means the
    function may free objects or run arbitrary Python code.  ``pyimpl`` gives
    the reference interpreter the same semantics on machine-level values.
    """

    name: str
    address: int
    argtypes: str
    restype: str
    releases: bool = False
    pure: bool = False
    pyimpl: Any = None

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
