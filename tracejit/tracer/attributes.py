"""Attributes of instances: ``LOAD_ATTR`` (values, ``__slots__`` members,
class attributes, methods) and ``STORE_ATTR``.

Where an instance keeps an attribute is read at trace time from its class
(:mod:`tracejit.objects`); the trace guards what the read depends on: the
class's version tag (any change to the class or a base changes it), that the
instance's attributes are in its values array, and that a name looked up on
the class is not shadowed by the instance.  A method found on the class is
pushed with its ``self`` for the following ``CALL`` to inline; no bound
method is made.  Anything else (properties, ``__getattr__``, builtin types'
instances, bound methods as values) aborts the trace with the reason.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, Value, const_ref
from tracejit.tracer.core import Tracer
from tracejit.values import K_REF, NULL_T, TValue, const_tvalue


def _class_of(t: Tracer, owner: TValue) -> tuple[type, objects.InstanceLayout]:
    """The instance's class and layout, with the class's version guarded."""
    if owner.kind != K_REF or owner.box is None:
        raise TraceAbort(Abort.ATTRIBUTE, f"attribute of a {owner.kind} value")
    tp = type(owner.py)
    lay = objects.instance_layout(tp)
    if lay is None:
        raise TraceAbort(Abort.ATTRIBUTE, f"attribute access on {tp.__qualname__} "
                         f"({objects.why_not(tp)})")
    version = objects.type_version(tp)
    if not version:
        raise TraceAbort(Abort.ATTRIBUTE, f"{tp.__qualname__} has no version tag")
    t.keepalive.append(tp)
    objects.emit_guard_type_version(t.emit, const_ref(tp), version)
    return tp, lay


def load_class_attr(t: Tracer, ins: Any, owner: TValue, name: str) -> tuple[TValue, ...]:
    """``Cls.name`` of a class that is a constant of the trace: a plain value
    or a function on the class or its bases, guarded by the class's version."""
    cls = owner.py
    method_form = bool(ins.arg & 1)
    lay = objects.instance_layout(cls)
    if lay is None:
        raise TraceAbort(Abort.ATTRIBUTE, f"attribute of class {cls.__qualname__} "
                         f"({objects.why_not(cls)})")
    if objects.found(objects.mro_lookup(type(cls), name)):
        raise TraceAbort(Abort.ATTRIBUTE, f"{name!r} of a class is type's")
    value = objects.mro_lookup(cls, name)
    if not objects.found(value):
        raise TraceAbort(Abort.RAISES, f"class {cls.__qualname__} has no attribute {name!r}")
    if not isinstance(value, types.FunctionType) and hasattr(type(value), "__get__"):
        raise TraceAbort(Abort.ATTRIBUTE, f"class attribute {name!r} is a "
                         f"{type(value).__name__}")
    version = objects.type_version(cls)
    if not version:
        raise TraceAbort(Abort.ATTRIBUTE, f"{cls.__qualname__} has no version tag")
    objects.emit_guard_type_version(t.emit, owner.box, version)
    t.keepalive.append(value)
    tv = const_tvalue(value)
    return cp.with_null(tv, NULL_T) if method_form else (tv,)


def _is_data_descriptor(value: Any) -> bool:
    kind = type(value)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


def load_instance_attr(t: Tracer, ins: Any, owner: TValue, name: str) -> tuple[TValue, ...]:
    method_form = bool(ins.arg & 1)
    if method_form and owner.kind == K_REF and owner.box is not None and \
            not type(owner.py).__flags__ & (1 << 9):
        # a method of a builtin type (whose class dict never changes; the
        # trace guards the owner's class): [method, self], called next
        method = objects.mro_lookup(type(owner.py), name)
        if type(method) is types.MethodDescriptorType:
            t.keepalive.append(method)
            return const_tvalue(method), owner
    tp, lay = _class_of(t, owner)
    on_class = objects.mro_lookup(tp, name)
    if objects.found(on_class) and _is_data_descriptor(on_class):
        value = _load_slot(t, owner, tp, name, on_class)
        return cp.with_null(value, NULL_T) if method_form else (value,)
    own = _instance_value(t, owner, lay, name)
    if own is not None:
        return cp.with_null(own, NULL_T) if method_form else (own,)
    if not objects.found(on_class):
        raise TraceAbort(Abort.RAISES, f"{tp.__qualname__} object has no attribute {name!r}")
    if isinstance(on_class, types.FunctionType):
        if not method_form:
            raise TraceAbort(Abort.ATTRIBUTE, "a bound method as a value")
        t.keepalive.append(on_class)
        return const_tvalue(on_class), owner  # [method, self] on both versions
    if hasattr(type(on_class), "__get__"):
        raise TraceAbort(Abort.ATTRIBUTE, f"class attribute {name!r} is a "
                         f"{type(on_class).__name__}")
    t.keepalive.append(on_class)
    value = const_tvalue(on_class)  # the class's version guards it
    return cp.with_null(value, NULL_T) if method_form else (value,)


def _load_slot(t: Tracer, owner: TValue, tp: type, name: str, descr: Any) -> TValue:
    offset = objects.slot_offset(tp, name)
    if offset is None:
        raise TraceAbort(Abort.ATTRIBUTE, f"attribute {name!r} is a {type(descr).__name__}")
    concrete = objects.read_slot(owner.py, offset)
    if concrete is cp.NULL:
        raise TraceAbort(Abort.RAISES, f"slot {name!r} is not set")
    raw = objects.emit_load_slot(t.emit, owner.box, offset)
    t.emit("guard_nonnull", [raw])  # unset: CPython raises AttributeError
    return t.unbox(raw, concrete)


def _instance_value(t: Tracer, owner: TValue, lay: objects.InstanceLayout,
                    name: str) -> TValue | None:
    """The instance's own attribute ``name`` (None if it has none: then the
    trace guards that it still has none)."""
    if lay.kind == objects.SLOTS_ONLY:
        return None
    if lay.kind not in (objects.VALUES, objects.INLINE):
        raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict")
    index = objects.attribute_index(lay.tp, name)
    if index is None:
        if not objects.has_no_instance_attribute_guard_holding(owner.py, lay):
            raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict")
        objects.emit_guard_no_instance_attribute(t.emit, owner.box, lay)
        return None
    try:
        concrete = objects.read_instance_value(owner.py, lay, index)
    except objects.GuardFails:
        raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict") from None
    raw = objects.emit_load_instance_value(t.emit, owner.box, lay, index)
    if concrete is cp.NULL:
        t.guard_true(t.emit("ptr_eq", [raw, CONST_NULL]))
        return None
    t.emit("guard_nonnull", [raw])
    return t.unbox(raw, concrete)


def store_instance_attr(t: Tracer, ins: Any, value: TValue, owner: TValue, name: str) -> None:
    if t.in_constructor() and not (owner.box is not None and t.rec.is_fresh(owner.box)):
        raise TraceAbort(Abort.INLINE, "__init__ of a class call stores into another object")
    tp, lay = _class_of(t, owner)
    if not lay.plain_setattr:
        raise TraceAbort(Abort.ATTRIBUTE, f"{tp.__qualname__} has its own __setattr__")
    if value.kind == K_REF and value.box is None:
        raise TraceAbort(Abort.VIRTUAL, "storing a virtual range in an attribute")
    on_class = objects.mro_lookup(tp, name)
    if objects.found(on_class) and _is_data_descriptor(on_class):
        offset = objects.slot_offset(tp, name)
        if offset is None:
            raise TraceAbort(Abort.ATTRIBUTE, f"attribute {name!r} is a "
                             f"{type(on_class).__name__}")
        # a slot of an object the trace made and has not set yet is NULL
        first_store = t.rec.is_fresh(owner.box) and \
            objects.read_slot(owner.py, offset) is cp.NULL
        boxed, owned = t.box(value)
        setattr(owner.py, name, value.concrete())
        if first_store:
            objects.emit_init_slot(t.emit, owner.box, offset, boxed)
            if not owned:
                t.emit("incref", [boxed])
        else:
            t.own_stack(keep=2)  # what the slot held may still be on the stack
            old = objects.emit_store_slot(t.emit, owner.box, offset, boxed)
            _release(t, boxed, owned, old, may_be_null=True)
        value.owned = False
        return
    if lay.kind not in (objects.VALUES, objects.INLINE):
        raise TraceAbort(Abort.ATTRIBUTE, "storing an attribute that is not in values")
    index = objects.attribute_index(tp, name)
    if index is None or objects.read_instance_value(owner.py, lay, index) is cp.NULL:
        _add_attribute(t, value, owner, lay, name, index)
        return
    if not objects.values_guards_hold(owner.py, lay, index, for_store=True):
        raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict")
    base, field = objects.emit_values_guards(t.emit, owner.box, lay, index, for_store=True)
    old = t.emit("raw_load_r" if lay.kind == objects.VALUES else "getfield_r", [base], field)
    t.emit("guard_nonnull", [old])
    boxed, owned = t.box(value)  # after the guards: a box is never left behind
    setattr(owner.py, name, value.concrete())
    t.own_stack(keep=2)  # what the attribute held may still be on the stack
    t.emit("raw_store_r" if lay.kind == objects.VALUES else "setfield_r", [base, boxed], field)
    _release(t, boxed, owned, old, may_be_null=False)
    value.owned = False


def _add_attribute(t: Tracer, value: TValue, owner: TValue, lay: objects.InstanceLayout,
                   name: str, index: int | None) -> None:
    """A new attribute: CPython's own generic store (``PyObject_SetAttr``),
    once the trace guarded that the instance does not have it."""
    if index is None:
        if not objects.has_no_instance_attribute_guard_holding(owner.py, lay):
            raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict")
        objects.emit_guard_no_instance_attribute(t.emit, owner.box, lay)
    else:
        if not objects.values_guards_hold(owner.py, lay, index, for_store=False):
            raise TraceAbort(Abort.ATTRIBUTE, "instance attributes in a dict")
        raw = objects.emit_load_instance_value(t.emit, owner.box, lay, index)
        t.guard_true(t.emit("ptr_eq", [raw, CONST_NULL]))
    boxed, owned = t.box(value)  # after the guards: a box is never left behind
    setattr(owner.py, name, value.concrete())
    t.keepalive.append(name)
    t.emit("call_i", [owner.box, const_ref(name), boxed], helpers.set_new_attribute())
    if owned:
        t.emit("decref", [boxed])
    value.owned = False


def _release(t: Tracer, new: Value, owned: bool, old: Value, may_be_null: bool) -> None:
    """The attribute took over a reference to ``new``; the old one goes."""
    if not owned:
        t.emit("incref", [new])
    if may_be_null:
        t.emit("call_v", [old], helpers.xdecref())
    else:
        t.emit("decref", [old])
