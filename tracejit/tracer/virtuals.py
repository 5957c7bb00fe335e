"""Virtual instances: objects of class calls that the trace does not build.

``Vec(x, y, z)`` of a plain class starts as a :class:`VirtualObject`: its
class and its attributes as traced values.  Reading an attribute of it is
the value last stored; storing one records no code.  The object is built
("forced") only where it escapes: passed to a call that is not inlined,
stored into a real object, a list or a cell, compared by identity with
something unknown, or left in a local where the trace leaves for the
interpreter.  It is then built as CPython would have built it
(``object.__new__`` and the attributes in the order they were set), once:
every slot of the tracer that held the virtual holds that one object from
then on.  Guards do not force anything: their snapshots describe the
virtuals, and the exit builds them (:mod:`tracejit.resume`).

A field holds a number, a constant, or another virtual.  Storing any other
reference forces the owner first, because a real object would own that
reference and the trace would have to release it when the virtual dies.
Classes with a ``__del__`` never stay virtual: CPython would run it.
"""

from __future__ import annotations

from typing import Any

from tracejit import helpers, objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, Const, Value, const_ref
from tracejit.params import params
from tracejit.tracer.frame import LAZY
from tracejit.values import (
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_REF,
    K_VIRTUAL,
    NUMBER_KINDS,
    TValue,
    VirtualObject,
    virtual_tvalue,
)

# the instructions whose handlers know virtuals; before any other, the
# virtuals among its operands are built
MAY_SEE_VIRTUALS = frozenset({
    "LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_LOAD_FAST", "STORE_FAST",
    "STORE_FAST_STORE_FAST", "STORE_FAST_LOAD_FAST", "LOAD_CONST", "POP_TOP",
    "PUSH_NULL", "NOP", "RESUME", "EXTENDED_ARG", "CACHE", "SWAP", "LOAD_ATTR",
    "STORE_ATTR", "CALL", "KW_NAMES", "CALL_KW", "RETURN_VALUE", "RETURN_CONST",
    "BINARY_OP", "LOAD_GLOBAL", "JUMP_FORWARD", "JUMP_BACKWARD", "IS_OP",
    "POP_JUMP_IF_NONE", "POP_JUMP_IF_NOT_NONE", "COPY", "LOAD_SUPER_ATTR",
})

_STORABLE_LAYOUTS = (objects.VALUES, objects.INLINE, objects.SLOTS_ONLY)


def eligible(cls: type) -> bool:
    """Whether instances of ``cls`` (whose calls the tracer traces) may stay
    virtual: a plain layout and setattr, and no finalizer."""
    if not params["virtuals"]:
        return False
    lay = objects.instance_layout(cls)
    return lay is not None and lay.kind in _STORABLE_LAYOUTS and lay.plain_setattr \
        and not objects.found(objects.mro_lookup(cls, "__del__"))


def new_instance(cls: type, py: Any) -> TValue:
    """A virtual instance of ``cls``; ``py`` is the object the tracer made
    when it ran the program."""
    return virtual_tvalue(VirtualObject(cls), py)


def field(owner: TValue, name: str) -> TValue | None:
    """The virtual's attribute ``name`` (None if it has none)."""
    return owner.virt.fields.get(name)


def storable(value: TValue) -> bool:
    """Whether a virtual's field may hold ``value`` without owning a reference."""
    if value.kind in NUMBER_KINDS or value.kind == K_VIRTUAL:
        return True
    return value.kind == K_REF and isinstance(value.box, Const) and not value.owned


def store(t: Any, owner: TValue, name: str, value: TValue) -> None:
    """``owner.name = value`` into the virtual (``storable(value)`` holds)."""
    virt = owner.virt
    if value.kind in NUMBER_KINDS:
        value = TValue(value.kind, value.box, value.py)  # boxed anew when built
    if name in virt.fields and not any(f.constructed is not None and
                                       f.constructed.virt is virt for f in t.frames[1:]):
        # replacing a value: redoing the call that did it would do it twice
        t.rec.effects += 1
    virt.store(name, value)


# -- forcing --------------------------------------------------------------------


def force(t: Any, tv: TValue) -> None:
    """Build the object ``tv`` stands for (nothing if it is built already);
    ``tv`` and every slot holding the virtual become that real object."""
    virt = tv.virt
    if virt.forced is None:
        _build(t, virt, tv)
    if tv.kind == K_VIRTUAL:  # a value no slot holds (a field being stored)
        _become(tv, virt.forced, owned=False)


def force_all(t: Any, values: list[TValue] | tuple) -> None:
    for tv in values:
        if tv.kind == K_VIRTUAL:
            force(t, tv)


def force_outer_locals(t: Any) -> None:
    """The trace leaves for code that reads the frame: build the virtuals
    its locals hold."""
    for v in t.outer.locals:
        if v is not LAZY and v.kind == K_VIRTUAL:
            force(t, v)


def _become(tv: TValue, ref: Value, owned: bool) -> None:
    tv.kind = K_REF
    tv.box = ref
    tv.owned = owned
    tv.virt = None


def _held(v: Any) -> bool:
    return v is not LAZY and v is not None and v.kind == K_VIRTUAL


def _slots(t: Any) -> list[TValue]:
    """Every traced value the tracer's frames hold."""
    out = []
    for f in t.frames:
        out += [v for v in f.locals if _held(v)]
        out += [v for v in f.stack if _held(v)]
        out += [v for v in f.stack_before_call or () if _held(v)]
        if f.constructed is not None and _held(f.constructed):
            out.append(f.constructed)
    return out


def _component(t: Any, virt: VirtualObject) -> list[VirtualObject]:
    """``virt`` and the live virtuals linked to it through fields, either
    way: a real object's fields hold real objects, and a field holding a
    real object needs a reference a virtual cannot own."""
    live: dict[int, VirtualObject] = {}
    todo = [v.virt for v in _slots(t)]
    while todo:
        v = todo.pop()
        if id(v) not in live:
            live[id(v)] = v
            todo += [f.virt for f in v.fields.values() if f.kind == K_VIRTUAL]
    edges: dict[int, set[int]] = {k: set() for k in live}
    for k, v in live.items():
        for f in v.fields.values():
            if f.kind == K_VIRTUAL and id(f.virt) in live:
                edges[k].add(id(f.virt))
                edges[id(f.virt)].add(k)
    live[id(virt)] = virt
    edges.setdefault(id(virt), set())
    order: list[VirtualObject] = []
    seen: set[int] = set()
    todo_ids = [id(virt)]
    while todo_ids:
        k = todo_ids.pop(0)
        if k in seen:
            continue
        seen.add(k)
        order.append(live[k])
        todo_ids += sorted(edges[k] - seen)
    return order


def _build(t: Any, virt: VirtualObject, asking: TValue) -> None:
    """Emit the construction of ``virt`` (and of the virtuals linked to it),
    and hand each object's references to the slots that hold it.  The
    guards come first; what follows is invisible to a redone bytecode (it
    only builds objects that nothing else can see yet)."""
    rec = t.rec
    group = [v for v in _component(t, virt) if v.forced is None]
    for v in group:
        t.keepalive.append(v.cls)
        objects.emit_guard_type_version(t.emit, const_ref(v.cls), objects.type_version(v.cls))
    for v in group:
        r = t.emit("call_r", [const_ref(v.cls), const_ref(()), CONST_NULL],
                   helpers.object_new())
        t.emit("guard_nonnull", [r])  # MemoryError: the exit builds them (and fails)
        v.forced = r
    effect, effects = rec.quiet_state()
    late = []
    slots = _slots(t)
    for v in group:
        if not _hand_out(t, v, [s for s in slots if s.virt is v],
                         asking if asking.virt is v else None):
            late.append(v.forced)
    for v in group:  # their attributes, in the order the program set them
        for name, value in list(v.fields.items()):
            boxed, owned = _boxed_field(t, value)
            t.keepalive.append(name)
            t.emit("call_i", [v.forced, const_ref(name), boxed], helpers.set_new_attribute())
            if owned:
                t.emit("decref", [boxed])
        v.fields.clear()
    for r in late:  # held only by the fields of the others
        t.emit("decref", [r])
    rec.restore_quiet_state(effect, effects)


def _hand_out(t: Any, virt: VirtualObject, holders: list[TValue], asking: TValue | None
              ) -> bool:
    """The references to the new object ``virt.forced``: one per outer
    frame slot holding it, one per inlined frame with a local holding it
    (unless the outer frame holds it: see Tracer.held_by_outer), one per
    stack value no local holds.  False if nothing holds it."""
    r = virt.forced
    outer_slots = [i for i, v in enumerate(t.outer.locals) if _held(v) and v.virt is virt]
    in_locals = {id(v) for f in t.frames for v in f.locals if _held(v) and v.virt is virt}
    owning_frames = [f for f in t.frames[1:] if not outer_slots and
                     any(_held(v) and v.virt is virt for v in f.locals)]
    loose: dict[int, TValue] = {}
    for f in t.frames:
        for v in f.stack:
            if _held(v) and v.virt is virt and id(v) not in in_locals:
                loose[id(v)] = v
        if f.constructed is not None and _held(f.constructed) and f.constructed.virt is virt:
            loose[id(f.constructed)] = f.constructed
    if asking is not None and id(asking) not in in_locals and \
            not any(v is asking for f in t.frames for v in f.stack_before_call or ()):
        loose[id(asking)] = asking
    for v in loose.values():
        if sum(1 for f in t.frames for s in f.stack if s is v) > 1:
            # (one value in two stack slots cannot own two references)
            raise TraceAbort(Abort.VIRTUAL, "a copied virtual object escapes")
    references = len(outer_slots) + len(owning_frames) + len(loose)
    for _ in range(references - 1):
        t.emit("incref", [r])
    for v in holders:
        _become(v, r, owned=False)
    for v in loose.values():
        _become(v, r, owned=True)
    for f in owning_frames:
        f.owned_refs.append(r)
    for idx in outer_slots:
        t.outer.deferred.discard(idx)
        t.rec.store_frame_slot(idx, r, True)
    return references > 0


def _boxed_field(t: Any, value: TValue) -> tuple[Value, bool]:
    if value.kind == K_VIRTUAL:
        _become(value, value.virt.forced, owned=False)
        return value.box, False
    if value.kind in (K_INT, K_FLOAT, K_BOOL):
        return t.box(value)
    return value.box, False
