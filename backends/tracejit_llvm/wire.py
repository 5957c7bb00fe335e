"""Traces as plain data, for the LLVM helper process.

The helper (:mod:`tracejit_llvm.worker`) builds the LLVM IR itself, so that
the program's threads do not wait for the GIL while llvmlite's IR builder
(Python) runs: :func:`encode` turns the traces of one module into tuples of
ints, floats and strings (what pickle carries cheaply), and :func:`decode`
rebuilds, in the helper, objects with the attributes the IR generator reads:
ops with their arguments, descriptors, exits and fail arguments; constants
with the machine value they had in the program (a reference constant is its
address there).  Every address in the IR must come from the program: the
helper's own (its C functions, its objects) would be another process's.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tracejit.backend import (
    FLOAT,
    REF,
    CallDescr,
    Const,
    ExitDescr,
    InputArg,
    LongLayout,
    Op,
    Trace,
)
from tracejit.ir import FieldOffset


class AddressConst(Const):
    """A reference constant known only by its address (in the helper)."""

    __slots__ = ("address",)

    def __init__(self, address: int) -> None:
        super().__init__(REF, None)
        self.address = address

    def raw(self) -> int:
        return self.address

    def is_null(self) -> bool:
        return self.address == 0


def encode(traces: list[Trace], symbols: dict[str, int]) -> tuple:
    """The traces of one module, as data (jumps between them by index), with
    the program's addresses of the C functions the code calls by name."""
    index = {id(t): k for k, t in enumerate(traces)}
    return (dict(symbols), [_encode_trace(t, index) for t in traces])


def _encode_trace(trace: Trace, siblings: dict[int, int]) -> tuple:
    numbers: dict[int, int] = {}
    for k, a in enumerate(trace.inputargs):
        numbers[id(a)] = k
    base = len(trace.inputargs)
    for k, op in enumerate(trace.ops):
        numbers[id(op)] = base + k

    def value(v: Any) -> Any:
        if isinstance(v, Const):
            if v.type == REF:
                return ("r", v.raw())
            return (v.type, v.value)
        return numbers[id(v)]

    ops = []
    for op in trace.ops:
        exit_ = (op.exit.number, op.exit.slot_address) if op.exit is not None else None
        fail = [value(a) for a in op.fail_args] if op.fail_args is not None else None
        ops.append((op.name, [value(a) for a in op.args], _encode_descr(op.descr, siblings),
                    exit_, fail))
    return ("".join(a.type for a in trace.inputargs), ops)


def _encode_descr(d: Any, siblings: dict[int, int]) -> Any:
    if d is None:
        return None
    if isinstance(d, FieldOffset):
        return ("field", int(d), d.tag)
    if isinstance(d, int):
        return ("int", d)
    if isinstance(d, CallDescr):
        return ("call", d.address, d.restype)
    if isinstance(d, LongLayout):
        return ("long", d.tag_offset, d.digit_offset, d.non_size_bits, d.slow_helper)
    if isinstance(d, Trace):  # a jump to another trace
        if id(d) in siblings:
            return ("sibling", siblings[id(d)])
        return ("trace", d.compiled.address)
    raise TypeError(f"llvm wire: no encoding for a {type(d).__name__} descriptor")


def decode(encoded: tuple) -> tuple[list[Any], dict[str, int]]:
    """Trace-like objects for the IR generator (their jumps' ``descr`` to a
    sibling is that sibling's object), and the program's symbols."""
    symbols, traces_data = encoded
    traces = [SimpleNamespace(inputargs=[], ops=[]) for _ in traces_data]
    for t, (types_, ops) in zip(traces, traces_data):
        values: list[Any] = [InputArg(ty) for ty in types_]
        t.inputargs = list(values)
        for name, args, descr, exit_, fail in ops:
            op = Op(name, [_decode_value(a, values) for a in args], _decode_descr(descr, traces))
            if exit_ is not None:
                op.exit = ExitDescr(exit_[0], exit_[1])
            if fail is not None:
                op.fail_args = [_decode_value(a, values) for a in fail]
            values.append(op)
            t.ops.append(op)
    return traces, symbols


def _decode_value(v: Any, values: list[Any]) -> Any:
    if isinstance(v, tuple):
        kind, x = v
        if kind == REF:
            return AddressConst(x)
        return Const(kind, float(x) if kind == FLOAT else x)
    return values[v]


class _Address:
    """A jump target outside the module: only its code address is needed."""

    def __init__(self, address: int) -> None:
        self.compiled = SimpleNamespace(address=address)


def _decode_descr(d: Any, traces: list[Any]) -> Any:
    if d is None:
        return None
    kind = d[0]
    if kind == "field":
        return FieldOffset(d[1], d[2])
    if kind == "int":
        return d[1]
    if kind == "call":
        return SimpleNamespace(address=d[1], restype=d[2])
    if kind == "long":
        return LongLayout(*d[1:])
    if kind == "sibling":
        return traces[d[1]]
    if kind == "trace":
        return _Address(d[1])
    raise ValueError(f"llvm wire: unknown descriptor {d!r}")
