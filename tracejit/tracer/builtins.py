"""Recorders for builtin functions, keyed by the function object.

Like LuaJIT's fast functions: each entry of :data:`BUILTINS` records one
builtin's call as IR (``len`` of a list is a field read, ``abs`` of an int a
few bit operations, ``math.sqrt`` a libm call with guards where CPython would
raise).  A recorder returns None when the arguments are not ones it handles;
the call then aborts the trace.  A new builtin is one entry plus its recorder.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, Const, const_float, const_int, const_ref, fits_int64
from tracejit.tracer.arith import as_float, guard_finite
from tracejit.tracer.compare import PY_CMP
from tracejit.tracer.core import Tracer
from tracejit.values import (
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_REF,
    K_TUPLE,
    NUMBER_KINDS,
    TValue,
    const_tvalue,
)

Recorder = Callable[[Tracer, Any, list[TValue]], TValue | None]
BUILTINS: dict[Any, Recorder] = {}


def builtin(*functions: Any) -> Callable[[Recorder], Recorder]:
    def register(fn: Recorder) -> Recorder:
        for f in functions:
            BUILTINS[f] = fn
        return fn
    return register


def call_builtin(t: Tracer, f: Any, args: list[TValue], kw: dict) -> TValue | None:
    """Record ``f(*args, **kw)`` for a callable that is not a Python function;
    None if no recorder handles it (the call is then a residual one)."""
    if kw:
        return None
    try:
        recorder = BUILTINS.get(f)
    except TypeError:  # an unhashable callable
        recorder = None
    return recorder(t, f, args) if recorder is not None else None


@builtin(len)
def call_len(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 1:
        return None
    a = args[0]
    if a.kind == K_TUPLE:
        return const_tvalue(len(a.items))
    if a.kind == K_REF and type(a.py) in (list, tuple):
        return TValue(K_INT, t.emit("getfield_i", [a.box], cp.VAR_SIZE), len(a.py))
    return None


@builtin(abs)
def call_abs(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 1:
        return None
    a = args[0]
    if a.kind == K_FLOAT:
        return TValue(K_FLOAT, t.emit("float_abs", [a.box]), abs(a.py))
    if a.kind in (K_INT, K_BOOL):
        if isinstance(a.box, Const):
            return const_tvalue(abs(a.py))
        t.guard_true(t.emit("int_ne", [a.box, const_int(-(1 << 63))]))
        m = t.emit("int_rshift", [a.box, const_int(63)])
        r = t.emit("int_sub", [t.emit("int_xor", [a.box, m]), m])
        return TValue(K_INT, r, abs(a.py))
    raise TraceAbort(Abort.OPERATION, "abs of an object")


@builtin(list)
def call_list(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 1 or args[0].kind != K_REF or type(args[0].py) not in (list, tuple):
        return None
    r = t.emit("call_r", [args[0].box], helpers.sequence_list())
    return TValue(K_REF, r, list(args[0].py), owned=True)


@builtin(min, max)
def call_minmax(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 2:
        return None
    a, b = args
    if a.kind == K_FLOAT and b.kind == K_FLOAT:
        # min(a, b) is b if b < a else a (max: b if b > a else a)
        c = t.emit("float_lt" if f is min else "float_gt", [b.box, a.box])
    elif a.kind in (K_INT, K_BOOL) and b.kind in (K_INT, K_BOOL):
        if a.kind != b.kind:
            raise TraceAbort(Abort.OPERATION, "min/max of a bool and an int")
        c = t.emit("int_lt" if f is min else "int_gt", [b.box, a.box])
    else:
        raise TraceAbort(Abort.OPERATION, "min/max of mixed or non-numbers")
    took_b = bool(PY_CMP["<" if f is min else ">"](b.py, a.py))
    t.guard_true(c, took_b)
    return b if took_b else a


@builtin(float)
def call_float(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 1 or args[0].kind not in NUMBER_KINDS:
        return None
    return TValue(K_FLOAT, as_float(t, args[0]), float(args[0].py))


@builtin(int)
def call_int(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if len(args) != 1 or args[0].kind not in NUMBER_KINDS:
        return None
    return to_int(t, args[0])


def to_int(t: Tracer, a: TValue) -> TValue:
    if a.kind in (K_INT, K_BOOL):
        return TValue(K_INT, a.box, int(a.py))
    x = a.py
    if not math.isfinite(x) or not -2.0**63 < x < 2.0**63:
        raise TraceAbort(Abort.BIG_INT, "int() of a huge float")
    t.guard_true(t.emit("float_lt", [a.box, const_float(2.0**63)]))
    t.guard_true(t.emit("float_gt", [a.box, const_float(-2.0**63)]))
    return TValue(K_INT, t.emit("cast_float_to_int", [a.box]), int(x))


@builtin(range)
def call_range(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    if not 1 <= len(args) <= 3 or any(a.kind not in (K_INT, K_BOOL) for a in args):
        return None
    py = range(*[a.py for a in args])
    vals = list(args)
    if len(vals) == 1:
        vals = [const_tvalue(0), vals[0], const_tvalue(1)]
    elif len(vals) == 2:
        vals = vals + [const_tvalue(1)]
    if vals[2].py == 0 or not isinstance(vals[2].box, Const):
        raise TraceAbort(Abort.OPERATION, "range with a variable or zero step")
    return TValue(K_REF, None, py, items=vals)  # virtual until iterated


@builtin(*[v for v in vars(math).values() if isinstance(v, types.BuiltinFunctionType)])
def call_math(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    name = f.__name__
    if any(a.kind not in NUMBER_KINDS for a in args):
        raise TraceAbort(Abort.OPERATION, f"math.{name} on a non-number")
    try:
        py = f(*[a.py for a in args])
    except Exception as e:
        raise TraceAbort(Abort.RAISES, f"math.{name} raises {type(e).__name__}") from None
    if name in helpers.MATH_TO_INT and len(args) == 1:
        a = args[0]
        if a.kind != K_FLOAT:
            return TValue(K_INT, a.box, int(a.py))
        r = t.emit("call_f", [a.box], helpers.libm(name))
        return to_int(t, TValue(K_FLOAT, r, float(py)))
    if name not in helpers.MATH_FUNCTIONS:
        raise TraceAbort(Abort.CALL, f"math.{name} is not traced")
    xs = [as_float(t, a) for a in args]
    for x in xs:
        guard_finite(t, x)
    if name == "atan2":
        t.guard_true(t.emit("float_ne", [xs[0], const_float(0.0)]))
        t.guard_true(t.emit("float_ne", [xs[1], const_float(0.0)]))
    r = t.emit("call_f", xs, helpers.libm(name))
    # CPython raises where libm gives nan or inf from finite input
    t.guard_true(t.emit("float_eq", [r, r]))
    guard_finite(t, r)
    return TValue(K_FLOAT, r, py)


_OBJECT_CLASS = object.__dict__["__class__"]


@builtin(isinstance)
def call_isinstance(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    """``isinstance(x, C)``: a constant, from the class of ``x`` (which the
    trace guards) and a constant ``C`` whose checks only look at classes: a
    class or tuple of classes of metaclass ``type`` (no ``__instancecheck__``),
    ``x``'s class with no ``__class__`` of its own."""
    if len(args) != 2 or not isinstance(args[1].box, Const):
        return None
    x, classes = args[0], args[1].py
    plain = classes if isinstance(classes, tuple) else (classes,)
    if not plain or not all(type(c) is type for c in plain):
        return None
    if x.kind == K_REF:
        if x.box is None:
            return None
        tp = type(x.py)
        if objects.mro_lookup(tp, "__class__") is not _OBJECT_CLASS:
            return None
        if tp.__flags__ & (1 << 9):  # a class the program may change: guard it
            version = objects.type_version(tp)
            if not version:
                return None
            objects.emit_guard_type_version(t.emit, const_ref(tp), version)
            t.keepalive.append(tp)
    elif x.kind not in (K_INT, K_FLOAT, K_BOOL):
        return None
    return const_tvalue(isinstance(x.py, classes))


@builtin(list.append)
def call_list_append(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    """``lst.append(x)``: ``PyList_Append``, as ``LIST_APPEND`` records it
    (it fails only when out of memory: a known gap, see docs/usage.md)."""
    if len(args) != 2 or args[0].kind != K_REF or type(args[0].py) is not list:
        return None
    lst, value = args
    if value.kind == K_REF and value.box is None:
        return None
    if t.in_constructor() and not t.rec.is_fresh(lst.box):
        return None
    boxed, owned = t.box(value)
    t.emit("call_i", [lst.box, boxed], helpers.list_append())
    if owned:
        t.emit("decref", [boxed])
    value.owned = False  # (the reference it owned went with the decref)
    lst.py.append(value.concrete())
    return const_tvalue(None)


@builtin(list.pop)
def call_list_pop(t: Tracer, f: Any, args: list[TValue]) -> TValue | None:
    """``lst.pop()``: the last item, taken with a reference of the trace's
    own, then removed by ``PyList_SetSlice``, which resizes the item array
    exactly as ``list.pop`` does."""
    if len(args) != 1 or args[0].kind != K_REF or type(args[0].py) is not list:
        return None
    lst = args[0]
    if not lst.py or (t.in_constructor() and not t.rec.is_fresh(lst.box)):
        return None
    obj = lst.py[-1]
    if type(obj) is int and not fits_int64(obj):
        return None
    n = t.emit("getfield_i", [lst.box], cp.VAR_SIZE)
    last = t.emit("int_sub", [n, const_int(1)])
    t.guard_true(t.emit("int_ge", [last, const_int(0)]))
    item = t.emit("getlistitem_r", [lst.box, last], cp.LIST_ITEMS)
    tv = t.unbox(item, obj)
    t.emit("incref", [item])
    t.emit("call_i", [lst.box, last, n, CONST_NULL], helpers.list_delete_slice())
    lst.py.pop()
    if tv.kind == K_REF:
        if isinstance(tv.box, Const):  # None: the list's reference goes
            t.emit("decref", [item])
        else:
            tv.owned = True  # the list's reference is the trace's now
    else:
        t.emit("decref", [item])
        tv.ref = None  # (the number's object may be gone: boxed anew if stored)
    return tv
