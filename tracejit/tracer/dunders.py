"""Operators on instances of Python classes: ``a + b`` calls ``__add__``.

When an operand of ``BINARY_OP`` is an instance of a plain Python class,
the tracer finds at trace time the method CPython would call first, guards
the classes' version tags (so a changed class does not run this trace) and
inlines the method like any call: ``Vector - Vector`` becomes the body of
``Vector.__sub__``.  Covered are the orders CPython takes in the common
cases:

* ``a OP b`` with ``type(a).__OP__`` a Python function, ``b`` of the same
  class, a number, or an unrelated class (not a subclass of ``type(a)``
  with a ``__rOP__`` of its own, which CPython would try first);
* ``n OP b`` with ``n`` an int, float or bool and ``type(b).__rOP__`` a
  Python function (the number's own method does not know ``b``);
* ``a OP= b`` with ``type(a).__iOP__`` a Python function, otherwise as
  ``a OP b``.

The method must not return ``NotImplemented`` (CPython would then try the
other operand): the trace aborts if it does when traced, and a result of
another class cannot be ``NotImplemented`` when the trace runs (classes of
traced values are guarded).  Everything else aborts with its reason.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import const_ref
from tracejit.tracer.core import INLINED, Tracer
from tracejit.values import K_BOOL, K_FLOAT, K_INT, K_REF, K_VIRTUAL, TValue

NAMES = {
    "+": "add", "&": "and", "//": "floordiv", "<<": "lshift", "*": "mul", "%": "mod",
    "|": "or", "**": "pow", ">>": "rshift", "-": "sub", "/": "truediv", "^": "xor",
}
_NUMBERS = (int, float, bool)


def is_instance_operand(tv: TValue) -> bool:
    """An object of a Python class (not a number, list, tuple...), real or
    virtual."""
    return tv.kind == K_VIRTUAL or (tv.kind == K_REF and tv.box is not None
                                    and _user_class(type(tv.py)))


def _user_class(tp: type) -> bool:
    return isinstance(tp, type) and bool(tp.__flags__ & (1 << 9))  # Py_TPFLAGS_HEAPTYPE


def binary_dunder(t: Tracer, ins: Any, sym: str, inplace: bool, a: TValue, b: TValue) -> Any:
    """Inline the method ``a sym b`` calls; returns INLINED."""
    from tracejit.tracer.calls import inline_call, inline_refusal

    name = NAMES[sym]
    method, args = _choose(sym, name, inplace, a, b)
    for tv in (a, b):
        tp = type(tv.py)
        if _user_class(tp):
            version = objects.type_version(tp)
            if not version:
                raise TraceAbort(Abort.OPERATION, f"{tp.__qualname__} has no version tag")
            objects.emit_guard_type_version(t.emit, const_ref(tp), version)
            t.keepalive.append(tp)
    why = inline_refusal(t, method)
    if why:
        raise TraceAbort(Abort.INLINE, why)
    frame = t.top
    inline_call(t, method, args, {}, 2, frame.offset_after(ins.offset))
    t.top.operator_method = True
    return INLINED


def _choose(sym: str, name: str, inplace: bool, a: TValue, b: TValue
            ) -> tuple[types.FunctionType, list[TValue]]:
    ta, tb = type(a.py), type(b.py)
    if inplace and _user_class(ta):
        method = objects.mro_lookup(ta, f"__i{name}__")
        if isinstance(method, types.FunctionType):
            return method, [a, b]
        if objects.found(method):
            raise TraceAbort(Abort.OPERATION, f"__i{name}__ is a {type(method).__name__}")
    if _user_class(ta):
        reflected = f"__r{name}__"
        if tb is not ta and _user_class(tb) and issubclass(tb, ta) and \
                objects.mro_lookup(tb, reflected) is not objects.mro_lookup(ta, reflected):
            raise TraceAbort(Abort.OPERATION, f"{sym} with a subclass's __r{name}__ first")
        if not (tb is ta or tb in _NUMBERS or (_user_class(tb) and not issubclass(tb, ta))):
            raise TraceAbort(Abort.OPERATION, f"{sym} on {ta.__name__} and {tb.__name__}")
        method = objects.mro_lookup(ta, f"__{name}__")
        if isinstance(method, types.FunctionType):
            return method, [a, b]
        raise TraceAbort(Abort.OPERATION, f"{sym} on {ta.__name__} without a Python __{name}__")
    if ta in _NUMBERS and a.kind in (K_INT, K_FLOAT, K_BOOL) and _user_class(tb) and \
            not issubclass(tb, _NUMBERS):
        method = objects.mro_lookup(tb, f"__r{name}__")
        if isinstance(method, types.FunctionType):
            return method, [b, a]
    raise TraceAbort(Abort.OPERATION, f"{sym} on {ta.__name__} and {tb.__name__}")


def check_result(value: TValue | None) -> None:
    """An operator method returns: it must not have declined."""
    if value is None or value.py is NotImplemented:
        raise TraceAbort(Abort.OPERATION, "the operator method returned NotImplemented")
    if value.kind in (K_FLOAT, K_INT, K_BOOL, K_VIRTUAL):
        return
    if value.kind != K_REF or value.box is None:
        raise TraceAbort(Abort.VIRTUAL, "an operator method returned a virtual value")
