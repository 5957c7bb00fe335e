"""Attributes of instances: ``LOAD_ATTR`` (values, ``__slots__`` members,
class attributes, methods) and ``STORE_ATTR``.

Where an instance keeps an attribute is read at trace time from its class
(:mod:`tracejit.objects`); the trace guards what the read depends on: the
class's version tag (any change to the class or a base changes it), that the
instance's attributes are in its values array, and that a name looked up on
the class is not shadowed by the instance.  A method found on the class is
pushed with its ``self`` for the following ``CALL`` to inline; no bound
method is made.  A ``staticmethod`` pushes its function, a ``classmethod``
its function with the class; a property's getter is inlined as a call
made by the ``LOAD_ATTR``.  Anything else (other descriptors,
``__getattr__``, builtin types' instances, bound methods as values) aborts
the trace with the reason.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, Const, Value, const_ref
from tracejit.tracer import virtuals
from tracejit.tracer.core import INLINED, Tracer
from tracejit.values import K_REF, K_VIRTUAL, NULL_T, TValue, const_tvalue


def _class_of(t: Tracer, owner: TValue) -> tuple[type, objects.InstanceLayout]:
    """The instance's class and layout, with the class's version guarded."""
    if owner.kind == K_VIRTUAL:
        tp = owner.virt.cls
        t.keepalive.append(tp)
        objects.emit_guard_type_version(t.emit, const_ref(tp), objects.type_version(tp))
        return tp, objects.instance_layout(tp)
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
    wrapped = type(value) in (staticmethod, classmethod)
    if not wrapped and not isinstance(value, types.FunctionType) and \
            hasattr(type(value), "__get__"):
        raise TraceAbort(Abort.ATTRIBUTE, f"class attribute {name!r} is a "
                         f"{type(value).__name__}")
    version = objects.type_version(cls)
    if not version:
        raise TraceAbort(Abort.ATTRIBUTE, f"{cls.__qualname__} has no version tag")
    objects.emit_guard_type_version(t.emit, owner.box, version)
    if wrapped:
        return _wrapped_function(t, value, cls, method_form, name)
    t.keepalive.append(value)
    tv = const_tvalue(value)
    return cp.with_null(tv, NULL_T) if method_form else (tv,)


def _wrapped_function(t: Tracer, descr: Any, cls: type, method_form: bool, name: str
                      ) -> tuple[TValue, ...]:
    """A ``staticmethod`` or ``classmethod`` found on ``cls`` (whose version
    the caller guarded): its function, called without a bound method; a
    classmethod's ``cls`` is its first argument."""
    func = descr.__func__
    if not isinstance(func, types.FunctionType):
        raise TraceAbort(Abort.ATTRIBUTE, f"{name!r} wraps a {type(func).__name__}")
    # re-running the descriptor's __init__ could swap the function
    t.assumptions.assume_field(descr, cp.DESCR_FUNCTION, func)
    t.keepalive += [descr, func]
    if type(descr) is staticmethod:
        tv = const_tvalue(func)
        return cp.with_null(tv, NULL_T) if method_form else (tv,)
    if not method_form:
        raise TraceAbort(Abort.ATTRIBUTE, "a bound classmethod as a value")
    t.keepalive.append(cls)
    return const_tvalue(func), const_tvalue(cls)  # [method, self] on both versions


def load_super_attr(t: Tracer, ins: Any, sup: TValue, cls_tv: TValue, owner: TValue
                    ) -> tuple[TValue, ...]:
    """``super().name`` (``LOAD_SUPER_ATTR``: ``super``, the ``__class__``
    cell's class and ``self`` on the stack): looked up at trace time in the
    MRO of ``type(self)`` after that class; ``type(self)``'s version covers
    every class in it."""
    name = t.top.code.co_names[ins.arg >> 2]
    method_form = bool(ins.arg & 1)
    # (bit 1 of the argument: super(C, self) written out; without it super()
    # finds the same class and self in the frame)
    if sup.py is not super or not isinstance(sup.box, Const):
        raise TraceAbort(Abort.ATTRIBUTE, "super is not the builtin super")
    cls = cls_tv.py
    if cls_tv.kind != K_REF or cls_tv.box is None or not isinstance(cls, type) or \
            not isinstance(owner.py, cls):
        raise TraceAbort(Abort.ATTRIBUTE, "super() of an unusual class or object")
    if not isinstance(cls_tv.box, Const):  # read from the cell: that very class
        t.emit("guard_value_r", [cls_tv.box, const_ref(cls)])
        t.keepalive.append(cls)
    tp, _ = _class_of(t, owner)
    value = objects.mro_lookup_after(tp, cls, name)
    if not objects.found(value):
        raise TraceAbort(Abort.RAISES, f"super() has no attribute {name!r}")
    if type(value) is property and not method_form and not sup.owned and not cls_tv.owned:
        return _inline_accessor(t, ins, value, value.fget, "getter", name, [owner], 3)
    return _found_on_class(t, owner, tp, value, method_form, name, "super() attribute")


# where property keeps its getter and setter (propertyobject: prop_get, prop_set)
_PROPERTY_FIELD = {"getter": cp.DESCR_FUNCTION, "setter": cp.DESCR_FUNCTION + 8}


def _inline_accessor(t: Tracer, ins: Any, prop: property, func: Any, role: str, name: str,
                     args: list[TValue], consumed: int) -> Any:
    """A property's getter or setter inlined like a call made by the
    ``LOAD_ATTR``/``STORE_ATTR`` (a guard inside resumes in a real frame of
    it, from CPython's own instruction)."""
    from tracejit.tracer.calls import inline_call, inline_refusal

    if not isinstance(func, types.FunctionType):
        raise TraceAbort(Abort.ATTRIBUTE, f"property {name!r} without a Python {role}")
    why = inline_refusal(t, func)
    if why:
        raise TraceAbort(Abort.INLINE, why)
    # re-running the property's __init__ could swap the function
    t.assumptions.assume_field(prop, _PROPERTY_FIELD[role], func)
    t.keepalive += [prop, func]
    inline_call(t, func, args, {}, consumed, t.top.offset_after(ins.offset))
    t.top.setter = role == "setter"
    return INLINED


def _inline_getter(t: Tracer, ins: Any, owner: TValue, prop: property, name: str) -> Any:
    return _inline_accessor(t, ins, prop, prop.fget, "getter", name, [owner], 1)


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
    if type(on_class) is property and not method_form:
        return _inline_getter(t, ins, owner, on_class, name)
    if owner.kind == K_VIRTUAL:
        return _load_virtual(t, ins, owner, tp, on_class, name)
    if objects.found(on_class) and _is_data_descriptor(on_class):
        value = _load_slot(t, owner, tp, name, on_class)
        return cp.with_null(value, NULL_T) if method_form else (value,)
    own = _instance_value(t, owner, lay, name)
    if own is not None:
        return cp.with_null(own, NULL_T) if method_form else (own,)
    if not objects.found(on_class):
        raise TraceAbort(Abort.RAISES, f"{tp.__qualname__} object has no attribute {name!r}")
    return _found_on_class(t, owner, tp, on_class, method_form, name, "class attribute")


def _load_virtual(t: Tracer, ins: Any, owner: TValue, tp: type, on_class: Any, name: str
                  ) -> tuple[TValue, ...]:
    """An attribute of a virtual instance: the value last stored, or what
    the class has (the instance has no other attributes)."""
    method_form = bool(ins.arg & 1)
    data = objects.found(on_class) and _is_data_descriptor(on_class)
    if data and objects.slot_offset(tp, name) is None:
        virtuals.force(t, owner)  # (some other descriptor: of the real object)
        return load_instance_attr(t, ins, owner, name)
    own = virtuals.field(owner, name)
    if own is not None:
        return cp.with_null(own, NULL_T) if method_form else (own,)
    if data or not objects.found(on_class):
        raise TraceAbort(Abort.RAISES, f"{tp.__qualname__} object has no attribute {name!r}")
    return _found_on_class(t, owner, tp, on_class, method_form, name, "class attribute")


def _found_on_class(t: Tracer, owner: TValue, tp: type, value: Any, method_form: bool,
                    name: str, what: str) -> tuple[TValue, ...]:
    """What ``owner.name`` is when the name was found on ``tp`` (or a base)
    and not on the instance; ``tp``'s version, guarded, covers it."""
    if isinstance(value, types.FunctionType):
        if not method_form:
            raise TraceAbort(Abort.ATTRIBUTE, "a bound method as a value")
        t.keepalive.append(value)
        return const_tvalue(value), owner  # [method, self] on both versions
    if type(value) in (staticmethod, classmethod):
        return _wrapped_function(t, value, tp, method_form, name)
    if hasattr(type(value), "__get__"):
        raise TraceAbort(Abort.ATTRIBUTE, f"{what} {name!r} is a {type(value).__name__}")
    t.keepalive.append(value)
    tv = const_tvalue(value)
    return cp.with_null(tv, NULL_T) if method_form else (tv,)


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


def store_instance_attr(t: Tracer, ins: Any, value: TValue, owner: TValue, name: str) -> Any:
    if owner.kind == K_VIRTUAL:
        done = _store_virtual(t, ins, value, owner, name)
        if done is not None:
            return done if done is INLINED else None
    if t.in_constructor() and not (owner.box is not None and t.rec.is_fresh(owner.box)):
        raise TraceAbort(Abort.INLINE, "__init__ of a class call stores into another object")
    tp, lay = _class_of(t, owner)
    if not lay.plain_setattr:
        raise TraceAbort(Abort.ATTRIBUTE, f"{tp.__qualname__} has its own __setattr__")
    if value.kind == K_REF and value.box is None:
        raise TraceAbort(Abort.VIRTUAL, "storing a virtual range in an attribute")
    on_class = objects.mro_lookup(tp, name)
    if type(on_class) is property:
        return _inline_accessor(t, ins, on_class, on_class.fset, "setter", name,
                                [owner, value], 2)
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


def _store_virtual(t: Tracer, ins: Any, value: TValue, owner: TValue, name: str) -> Any:
    """``owner.name = value`` on a virtual instance: recorded in the tracer
    only, unless the value needs a real owner (then the object is built and
    None returned: the caller stores into the real object)."""
    tp, _ = _class_of(t, owner)
    on_class = objects.mro_lookup(tp, name)
    if type(on_class) is property:
        return _inline_accessor(t, ins, on_class, on_class.fset, "setter", name,
                                [owner, value], 2)
    data = objects.found(on_class) and _is_data_descriptor(on_class)
    if (data and objects.slot_offset(tp, name) is None) or not virtuals.storable(value):
        virtuals.force(t, owner)
        return None
    setattr(owner.py, name, value.concrete())
    virtuals.store(t, owner, name, value)
    return True


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
