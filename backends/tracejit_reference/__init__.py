"""The reference backend: an interpreter of tracejit's IR, written in Python.

It is the semantic oracle the other backends are tested against, and the
fallback when no machine-code backend can run.  It works on machine-level
values exactly like compiled code: int64 integers, doubles, and object
references as raw addresses, with memory read and written through ctypes.
Arithmetic, comparisons and most guards are the op table's own evaluation
functions (``OPS[name].evaluate``); memory, calls and control are here.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from tracejit.backend import OPS, Const, Trace, bits_float, c_function, float_bits

_MASK = (1 << 64) - 1
_MIN, _MAX = -(1 << 63), (1 << 63) - 1

_incref = c_function("Py_IncRef", None, ctypes.c_void_p)
_decref = c_function("Py_DecRef", None, ctypes.c_void_p)


def _i64(addr: int) -> int:
    return ctypes.c_int64.from_address(addr).value


def _set_i64(addr: int, v: int) -> None:
    ctypes.c_int64.from_address(addr).value = v


def _ptr(addr: int) -> int:
    return ctypes.c_void_p.from_address(addr).value or 0


def _set_ptr(addr: int, v: int) -> None:
    ctypes.c_void_p.from_address(addr).value = v or None


def _unbox_int(r: int) -> int | None:
    v = ctypes.cast(r, ctypes.py_object).value
    return int(v) if _MIN <= v <= _MAX else None


# Ops computed from their arguments alone run their entry's ``evaluate`` in
# the op table (constant folding runs the same function); it returns None
# for a guard that exits.  Guards that read memory to decide:
_MEMORY_GUARDS: dict[str, Callable[..., Any]] = {
    "guard_class": lambda a, b: True if _ptr(a + 8) == b else None,
    "unbox_int": _unbox_int,
}


def _call(descr: Any, args: list[Any]) -> Any:
    if descr.pyimpl is not None:
        return descr.pyimpl(*args)
    ctype = {"i": ctypes.c_int64, "f": ctypes.c_double, "r": ctypes.c_void_p, "v": None}
    proto = ctypes.PYFUNCTYPE(ctype[descr.restype], *[ctype[t] for t in descr.argtypes])
    fn = proto(descr.address)
    r = fn(*args)
    return (r or 0) if descr.restype == "r" else r


def _raw(value: Any, type_: str) -> int:
    if type_ == "f":
        return float_bits(value)
    return value


def _value(raw: int, type_: str) -> Any:
    if type_ == "f":
        return bits_float(raw)
    if type_ == "r":
        return raw & _MASK
    return raw


class ReferenceTrace:
    """A trace prepared for interpretation; ``address`` is its id."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        # the address bridge slots hold is the object's own: like machine
        # code, it is valid as long as tracejit keeps the trace
        self.address = id(self)

    def run(self, frame: int, buf: int) -> int:
        current = self
        while True:
            result = current._run_one(frame, buf)
            if isinstance(result, int):
                return result
            current = result

    def _run_one(self, frame: int, buf: int) -> Any:
        trace = self.trace
        env: dict[int, Any] = {}
        raw = (ctypes.c_int64 * max(1, len(trace.inputargs))).from_address(buf)
        for k, a in enumerate(trace.inputargs):
            env[id(a)] = _value(raw[k], a.type)

        def val(v: Any) -> Any:
            if isinstance(v, Const):
                if v.type == "r":
                    return 0 if v.is_null() else id(v.value)
                return v.value
            return env[id(v)]

        ops = trace.ops
        label_pos = next((i for i, op in enumerate(ops) if op.name == "label"), -1)
        pc = 0
        while True:
            op = ops[pc]
            name = op.name
            args = [val(a) for a in op.args]
            if name == "label":
                pc += 1
                continue
            if name == "jump":
                if op.descr is None:
                    label = ops[label_pos]
                    for a, v in zip(label.args, args):
                        env[id(a)] = v
                    pc = label_pos + 1
                    continue
                target = op.descr.compiled
                out = (ctypes.c_int64 * max(1, len(args))).from_address(buf)
                for k, (a, v) in enumerate(zip(op.args, args)):
                    out[k] = _raw(v, a.type)
                return target
            if name == "finish":
                return self._exit(op, env, val, buf)
            fn = OPS[name].evaluate or _MEMORY_GUARDS.get(name)
            if fn is not None:
                result = fn(*args)
                if result is None:  # a guard that does not hold
                    return self._exit(op, env, val, buf)
                env[id(op)] = result
                pc += 1
                continue
            env[id(op)] = self._effect(op, name, args, frame)
            pc += 1

    def _effect(self, op: Any, name: str, args: list[Any], frame: int) -> Any:
        d = op.descr
        if name == "get_frame":
            return frame
        if name in ("getfield_i", "raw_load_i"):
            return _i64(args[0] + d)
        if name == "getfield_f":
            return ctypes.c_double.from_address(args[0] + d).value
        if name in ("getfield_r", "raw_load_r"):
            return _ptr(args[0] + d)
        if name in ("setfield_i", "raw_store_i"):
            _set_i64(args[0] + d, args[1])
            return None
        if name in ("setfield_r", "raw_store_r"):
            _set_ptr(args[0] + d, args[1])
            return None
        if name == "getarrayitem_r":
            return _ptr(args[0] + d + 8 * args[1])
        if name == "getlistitem_r":
            return _ptr(_ptr(args[0] + d) + 8 * args[1])
        if name == "setlistitem_r":
            _set_ptr(_ptr(args[0] + d) + 8 * args[1], args[2])
            return None
        if name == "incref":
            _incref(args[0])
            return None
        if name == "decref":
            _decref(args[0])
            return None
        if name.startswith("call_"):
            return _call(d, args)
        raise NotImplementedError(f"reference backend: no rule for {name}")

    def _exit(self, op: Any, env: dict[int, Any], val: Callable, buf: int) -> Any:
        vals = [val(a) for a in op.fail_args]
        out = (ctypes.c_int64 * max(1, len(vals))).from_address(buf)
        for k, (a, v) in enumerate(zip(op.fail_args, vals)):
            out[k] = _raw(v, a.type)
        slot = _i64(op.exit.slot_address) if op.exit.slot_address else 0
        if slot:
            return ctypes.cast(slot, ctypes.py_object).value
        return op.exit.number


class Backend:
    """Interprets traces; always available."""

    name = "reference"

    def check_available(self) -> None:
        return None

    def compile(self, trace: Trace) -> ReferenceTrace:
        return ReferenceTrace(trace)
