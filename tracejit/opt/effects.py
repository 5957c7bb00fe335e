"""What an operation of a trace reads and writes, answered from the op table
(``ir.OPS``: effect, heap, guard) and from call descriptors (``CallDescr``).

The optimizer passes ask these questions and keep no lists of op names, so
an operation added to the table is optimized by what its entry says.

Memory model (the conventions of ``ir``): loads and stores name a location
by heap, base value, offset descriptor and, for items, an index.  Field and
raw memory form one address space in which offsets tagged with different
names never overlap and a plain offset may overlap anything at the same
offset.  List and array items are separate heaps (an array's items are also
reached by an unnamed field store past the array's start).  Reference counts
and the values of int objects are never clobbered for a load: no load reads
a reference count, and nothing writes an int.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tracejit.ir import (
    HEAP_ARRAYITEM,
    HEAP_FIELD,
    HEAP_LISTITEM,
    HEAP_RAW,
    IMMUTABLE_HEAPS,
    OPS,
    CallDescr,
    Const,
    Effect,
    Op,
    Value,
    Writes,
)

_OFFSET_HEAPS = (HEAP_FIELD, HEAP_RAW)
_ITEM_HEAPS = (HEAP_LISTITEM, HEAP_ARRAYITEM)


class Location(NamedTuple):
    """The memory one load or store touches."""

    heap: str
    base: Value
    offset: Any  # the op's descriptor: an int or a named FieldOffset (unbox_int: its layout)
    index: Value | None  # items only


def effect(op: Op) -> Effect:
    """The op's effect class; a call takes the class its descriptor implies
    (a pure call is PURE, a call that only allocates is ALLOC)."""
    d = OPS[op.name]
    if d.effect is Effect.CALL and isinstance(op.descr, CallDescr):
        if op.descr.pure:
            return Effect.PURE
        if op.descr.allocates and op.descr.writes is Writes.NOTHING and not op.descr.releases:
            return Effect.ALLOC
    return d.effect


def has_no_side_effect(op: Op) -> bool:
    """The op may be dropped when its result is unused: a pure op or a load
    that cannot exit (a guard's check is an effect)."""
    return effect(op) in (Effect.PURE, Effect.LOAD) and not OPS[op.name].guard


def location(op: Op) -> Location | None:
    """Where a load or store op reads or writes (None for other ops)."""
    d = OPS[op.name]
    if d.effect not in (Effect.LOAD, Effect.STORE) or d.heap is None:
        return None
    index = op.args[1] if d.heap in _ITEM_HEAPS else None
    return Location(d.heap, op.args[0], op.descr, index)


def _tag(offset: int) -> str | None:
    return getattr(offset, "tag", None)


def _offsets_overlap(a: int, b: int) -> bool:
    ta, tb = _tag(a), _tag(b)
    if ta is not None and tb is not None:
        return ta == tb
    return int(a) == int(b)


def _indexes_differ(a: Value | None, b: Value | None) -> bool:
    return isinstance(a, Const) and isinstance(b, Const) and a.value != b.value


def _store_clobbers(store: Location, load: Location) -> bool:
    if store.heap in _OFFSET_HEAPS:
        if load.heap in _OFFSET_HEAPS:
            return _offsets_overlap(store.offset, load.offset)
        if load.heap == HEAP_LISTITEM:  # the field holding the item array
            return _offsets_overlap(store.offset, load.offset)
        if load.heap == HEAP_ARRAYITEM:  # an unnamed field store into the items
            if store.heap != HEAP_FIELD or _tag(store.offset) is not None:
                return False
            first = int(load.offset)
            if isinstance(load.index, Const):
                return int(store.offset) == first + 8 * load.index.value
            return int(store.offset) >= first
        return False
    if store.heap == load.heap and store.heap in _ITEM_HEAPS:
        return not _indexes_differ(store.index, load.index)
    return False


def writes(op: Op) -> Writes:
    """The memory the op may write besides a store's own location (see
    :func:`location`): anything for ops that free objects or run code, what
    its descriptor says for a call, nothing for other ops."""
    d = OPS[op.name]
    if d.releases:
        return Writes.ANYTHING
    if d.effect is Effect.CALL:
        descr = op.descr
        if not isinstance(descr, CallDescr) or descr.releases:
            return Writes.ANYTHING
        return descr.writes or Writes.ANYTHING
    return Writes.NOTHING


def clobbers(op: Op, load: Location) -> bool:
    """Executing ``op`` may change what a load of ``load`` reads."""
    if load.heap in IMMUTABLE_HEAPS:
        return False
    if writes(op) is not Writes.NOTHING:
        # writing only the fields and items of its arguments still reaches
        # any object a load reads, as long as values carry no alias facts
        return True
    if OPS[op.name].effect is Effect.STORE:
        store = location(op)
        return store is not None and _store_clobbers(store, load)
    return False


def _load_of(store: Any) -> str | None:
    """The load that reads what ``store`` writes: same heap, the store's
    arguments but the value, the value's type as result."""
    for d in OPS.values():
        if d.effect is Effect.LOAD and d.heap == store.heap and not d.guard and \
                d.args == store.args[:-1] and d.result == store.args[-1]:
            return d.name
    return None


# store op name -> the load op that reads its location back (from the table)
LOAD_OF_STORE = {d.name: load for d in OPS.values()
                 if d.effect is Effect.STORE and d.heap in _OFFSET_HEAPS + _ITEM_HEAPS
                 and (load := _load_of(d)) is not None}


def may_change_classes(op: Op) -> bool:
    """Whether ``op`` may change an object's class (``obj.__class__ = C``):
    a call of the program's code may; nothing the trace itself does can."""
    return OPS[op.name].effect is Effect.CALL and isinstance(op.descr, CallDescr) \
        and op.descr.calls_program
