"""How instances of Python classes keep their attributes, on 3.12 and 3.13,
and the IR that reads and writes them.

The tracer asks this module three kinds of question about a class ``tp``:

* where do its instances keep attributes (:func:`instance_layout`; when the
  answer is None, :func:`why_not` says why and :func:`refusal` gives the
  reason as an enumeration for control flow);
* which version tag says the class is unchanged (:func:`type_version`,
  guarded by :func:`emit_guard_type_version`);
* where one attribute lives: a ``__slots__`` member at a fixed offset
  (:func:`slot_offset`), or a position in the class's shared keys
  (:func:`attribute_index`) that indexes a values array.

This module answers them and records the reads and writes as IR with the
guards they depend on (``emit_load_*`` / ``emit_store_*``).  ``emit(name, args, descr=None)``
appends one operation and returns its value (the tracer's recorder, an
:class:`tracejit.builder.IRBuilder`, or a test's list).  Every emitter
emits its guards before its store, so a guard never follows a side effect.

What CPython does (3.12.1 and 3.13.0; the offsets below are checked when this
module is imported, see :func:`platform_problem`):

* **3.12, managed dict** (``Py_TPFLAGS_MANAGED_DICT``, ``__dictoffset__ ==
  -1``): the word at ``obj - 24`` is a ``_PyDictOrValues``.  With its low bit
  set it is ``values - 1``, the values array allocated for the instance and
  indexed by the position of a name in the class's shared keys
  (``PyHeapTypeObject.ht_cached_keys``); the bytes before the array hold the
  insertion order.  Otherwise it is a dict pointer (or NULL): the dict was
  materialized (``obj.__dict__``, ``vars(obj)``, ``copy.copy``, a key that
  does not fit the shared keys: more than about 29 names, a non-str key,
  assigning ``__dict__``) and owns the values from then on.  Deleting an
  attribute does *not* materialize: the value becomes NULL.
* **3.13, inline values** (``Py_TPFLAGS_INLINE_VALUES``, only when the class
  adds no fields, ``tp_basicsize == 16``): the values live in the object at
  ``tp_basicsize``: four bytes ``capacity, size, embedded, valid``, then
  ``values[capacity]`` from ``tp_basicsize + 8``, then the insertion-order
  bytes.  The word at ``obj - 24`` is the managed dict pointer: a
  materialized dict first *shares* the inline values (``valid`` stays 1, so
  reads stay right, but a store must go through the dict for its version
  and watchers: CPython's specialized store requires no dict), and
  ``valid`` becomes 0 when the dict takes the values over (a key the
  shared keys cannot take: a non-str key, more than about 29 names;
  assigning ``__dict__``).  A 3.13 class with a managed
  dict and no inline values (it or a base has ``__slots__`` members) keeps
  its attributes in a real dict: kind ``"dict"``, only slots are at fixed
  offsets.
* ``capacity`` (3.13) and the 3.12 array size are per instance, set when the
  instance is made from the keys' ``dk_nentries + dk_usable``, which never
  grows: any position of the shared keys is inside every instance's array.
  The loads still check ``index < capacity`` on 3.13.
* A store of an attribute the instance does not have yet (old value NULL)
  also appends to the insertion order (and may need a new key); the store
  emitters guard that the old value is non-NULL, so the plain store they
  emit is exactly what CPython does (``STORE_ATTR_INSTANCE_VALUE``: store,
  then release the old value).
* ``__slots__`` members are member descriptors whose ``PyMemberDef`` (at
  offset 40 of the descriptor) has type ``Py_T_OBJECT_EX`` and the member's
  offset in the object; NULL there means unset (AttributeError).  Storing
  into an unset slot is a plain store (``Py_XSETREF``).
* ``tp_version_tag`` (uint32 at 384): modifying the class or any base
  (setting or deleting a class attribute, assigning ``__bases__``) sets it
  to 0; ``PyUnstable_Type_AssignVersionTag`` assigns a new one (3.13 refuses
  after 1000 versions of one class).  Instances (attribute stores,
  ``__class__`` assignment) never change it.

Supported classes are those a ``class`` statement made, with metaclass
``type``, every base but ``object`` made the same way, and the generic
``__getattribute__`` (no ``__getattr__``).  Everything else is refused with
a reason, never misread.  Loads through a class's data descriptors
(properties, slot members shadowing names) are the caller's concern: it
looks the name up through the MRO and guards the type version.
"""

from __future__ import annotations

import ctypes
import enum
import sys
import types
from dataclasses import dataclass
from typing import Any

from tracejit import cpython as cp
from tracejit.ir import (
    CONST_NULL,
    OPS,
    Const,
    Effect,
    FieldOffset,
    Value,
    const_int,
    const_ref,
)

PY312 = cp.PY312

# -- type flags -----------------------------------------------------------------
TPFLAGS_INLINE_VALUES = 1 << 2  # 3.13 only
TPFLAGS_MANAGED_DICT = 1 << 4
TPFLAGS_HEAPTYPE = 1 << 9

# -- PyTypeObject / PyHeapTypeObject (same on 3.12 and 3.13, 64-bit) -------------
TP_BASICSIZE = 32
TP_ITEMSIZE = 40
TP_DEALLOC = 48
TP_GETATTRO = 144
TP_SETATTRO = 152
TP_FLAGS = 168
TP_WEAKLISTOFFSET = 208
TP_BASE = 256
TP_DICTOFFSET = 288
TYPE_VERSION = FieldOffset(384, "type.version")  # unsigned int tp_version_tag
HT_NAME = 856
HT_QUALNAME = 872
HT_CACHED_KEYS = 880  # struct _dictkeysobject *ht_cached_keys

# -- PyDictKeysObject --------------------------------------------------------------
DK_LOG2_INDEX_BYTES = 9  # uint8
DK_KIND = 10  # uint8: 0 general, 1 unicode, 2 split (the shared keys of a class)
DK_USABLE = 16
DK_NENTRIES = 24
DK_INDICES = 32  # then 1 << dk_log2_index_bytes bytes of indices, then the entries
DICT_KEYS_SPLIT = 2
UNICODE_ENTRY_SIZE = 16  # PyDictUnicodeEntry {me_key, me_value}

# -- instances ---------------------------------------------------------------------
# 3.12: the tagged _PyDictOrValues word; 3.13: the managed dict pointer.  Same place.
INSTANCE_DICT = FieldOffset(-24, "inst.dict")
VALUES_BIT = 1  # 3.12: low bit set = values pointer - 1
# 3.13: the header word at tp_basicsize; little-endian bytes
HEADER_CAPACITY_MASK = 0xFF  # byte 0
HEADER_VALID_MASK = 0xFF << 24  # byte 3
INLINE_VALUES_AFTER_HEADER = 8  # values[0] at tp_basicsize + 8

# -- member descriptors ------------------------------------------------------------
MEMBER_DESCR_MEMBERDEF = 40  # PyMemberDescrObject.d_member
MEMBERDEF_TYPE = 8  # int
MEMBERDEF_OFFSET = 16  # Py_ssize_t
MEMBERDEF_FLAGS = 24  # int
T_OBJECT_EX = 16  # Py_T_OBJECT_EX: what __slots__ members are
MEMBER_READONLY = 1

# -- layout kinds --------------------------------------------------------------------
SLOTS_ONLY = "slots_only"  # no dict at all: only __slots__ members
VALUES = "values"  # 3.12: managed dict values behind the word at obj - 24
INLINE = "inline"  # 3.13: inline values at tp_basicsize
DICT = "dict"  # 3.13 managed dict without inline values: a real dict; slots only at offsets


class Refusal(enum.Enum):
    """Why a class's instances are not read by offset; each value is the
    message template (the detail fills ``{}``)."""

    PLATFORM = "object layout of this CPython not verified: {}"
    NOT_A_TYPE = "not a class"
    METACLASS = "metaclass is {}, not type"
    BUILTIN = "a builtin or C extension type"
    BUILTIN_BASE = "subclass of {}, a builtin type other than object"
    VARIABLE_SIZE = "instances are of variable size"
    DICT_OFFSET = "instances have a non-managed __dict__ (tp_dictoffset {})"
    GETATTR = "defines __getattr__"
    GETATTRIBUTE = "custom __getattribute__"
    NO_SHARED_KEYS = "managed dict without shared keys"


class ObjectLayoutError(Exception):
    """An emitter was asked for something it cannot record correctly."""


class GuardFails(Exception):
    """Raised by the Python twins (:func:`read_instance_value`, :func:`read_slot`)
    where the IR's guard would exit; ``args[0]`` is the guard's name."""


@dataclass(frozen=True)
class InstanceLayout:
    """Where instances of ``tp`` keep attributes (valid while its version holds).

    ``values_offset``: VALUES, values[0] from the values pointer; INLINE,
    from the object; -1 otherwise.  ``header_offset``: INLINE, the
    ``capacity, size, embedded, valid`` bytes from the object; -1 otherwise.
    ``plain_setattr``: ``__setattr__``/``__delattr__`` are object's, so a
    store is the generic one (the store emitters require it).
    """

    tp: type
    kind: str
    values_offset: int
    header_offset: int
    plain_setattr: bool


# -- raw reads ---------------------------------------------------------------------

def _word(address: int) -> int:
    return ctypes.c_void_p.from_address(address).value or 0


def _ssize(address: int) -> int:
    return ctypes.c_ssize_t.from_address(address).value


def _u8(address: int) -> int:
    return ctypes.c_uint8.from_address(address).value


def _object_at(address: int) -> Any:
    return ctypes.cast(address, ctypes.py_object).value


_type_mro = type.__dict__["__mro__"].__get__
_type_dict = type.__dict__["__dict__"].__get__
_MISSING = object()


def mro_lookup(tp: type, name: str) -> Any:
    """What ``_PyType_Lookup`` finds for ``name`` (no descriptor protocol run);
    a private sentinel when nothing defines it (test with :func:`found`)."""
    for base in _type_mro(tp):
        d = _type_dict(base)
        if name in d:
            return d[name]
    return _MISSING


def mro_lookup_after(tp: type, start: type, name: str) -> Any:
    """What ``super(start, obj).name`` finds for an instance of ``tp``
    (before the descriptor protocol): the MRO of ``tp`` after ``start``."""
    mro = _type_mro(tp)
    for base in mro[mro.index(start) + 1:]:
        d = _type_dict(base)
        if name in d:
            return d[name]
    return _MISSING


def found(value: Any) -> bool:
    return value is not _MISSING


def _flags(tp: type) -> int:
    return tp.__flags__


# -- reading the shared keys --------------------------------------------------------

def _shared_keys_address(tp: type) -> int:
    """``ht_cached_keys`` of a managed-dict heap type when it is a split keys
    object, else 0."""
    flags = _flags(tp)
    if not (flags & TPFLAGS_HEAPTYPE and flags & TPFLAGS_MANAGED_DICT):
        return 0
    keys = _word(id(tp) + HT_CACHED_KEYS)
    if not keys or _u8(keys + DK_KIND) != DICT_KEYS_SPLIT:
        return 0
    return keys


def shared_keys(tp: type) -> list[str]:
    """The names in the class's shared keys, by position (empty if none)."""
    keys = _shared_keys_address(tp)
    if not keys:
        return []
    entries = keys + DK_INDICES + (1 << _u8(keys + DK_LOG2_INDEX_BYTES))
    count = _ssize(keys + DK_NENTRIES)
    return [_object_at(_word(entries + UNICODE_ENTRY_SIZE * i)) for i in range(count)]


def attribute_index(tp: type, name: str) -> int | None:
    """The position of ``name`` in ``tp``'s shared keys (``ht_cached_keys``),
    which indexes the values arrays of its instances; None if not there."""
    if type(name) is not str or _PLATFORM_PROBLEM:
        return None
    for i, key in enumerate(shared_keys(tp)):
        if key is name or key == name:
            return i
    return None


# -- which classes ---------------------------------------------------------------------

def _is_class_statement_type(tp: type) -> bool:
    """Made by ``type.__new__`` (a class statement), not a builtin or C type."""
    return bool(_flags(tp) & TPFLAGS_HEAPTYPE) and \
        _word(id(tp) + TP_DEALLOC) == _SUBTYPE_DEALLOC


def _check(tp: Any) -> tuple[InstanceLayout | None, Refusal | None, str]:
    if _PLATFORM_PROBLEM:
        return None, Refusal.PLATFORM, _PLATFORM_PROBLEM
    if not isinstance(tp, type):
        return None, Refusal.NOT_A_TYPE, ""
    if type(tp) is not type:
        return None, Refusal.METACLASS, type(tp).__qualname__
    if not _is_class_statement_type(tp):
        return None, Refusal.BUILTIN, ""
    for base in _type_mro(tp)[1:-1]:
        if not _is_class_statement_type(base):
            return None, Refusal.BUILTIN_BASE, base.__qualname__
    if tp.__itemsize__:
        return None, Refusal.VARIABLE_SIZE, ""
    flags = _flags(tp)
    dictoffset = tp.__dictoffset__
    if dictoffset > 0:
        return None, Refusal.DICT_OFFSET, str(dictoffset)
    if found(mro_lookup(tp, "__getattr__")):
        return None, Refusal.GETATTR, ""
    if mro_lookup(tp, "__getattribute__") is not _OBJECT_GETATTRIBUTE or \
            _word(id(tp) + TP_GETATTRO) != _GENERIC_GETATTR:
        return None, Refusal.GETATTRIBUTE, ""
    plain_setattr = (mro_lookup(tp, "__setattr__") is _OBJECT_SETATTR and
                     mro_lookup(tp, "__delattr__") is _OBJECT_DELATTR and
                     _word(id(tp) + TP_SETATTRO) == _GENERIC_SETATTR)
    basicsize = tp.__basicsize__
    if not flags & TPFLAGS_MANAGED_DICT:
        return InstanceLayout(tp, SLOTS_ONLY, -1, -1, plain_setattr), None, ""
    if not _shared_keys_address(tp):
        return None, Refusal.NO_SHARED_KEYS, ""
    if PY312:
        return InstanceLayout(tp, VALUES, 0, -1, plain_setattr), None, ""
    if flags & TPFLAGS_INLINE_VALUES:
        return InstanceLayout(tp, INLINE, basicsize + INLINE_VALUES_AFTER_HEADER, basicsize,
                              plain_setattr), None, ""
    return InstanceLayout(tp, DICT, -1, -1, plain_setattr), None, ""


def instance_layout(tp: Any) -> InstanceLayout | None:
    """Where instances of ``tp`` keep attributes; None when they cannot be
    read by offset (:func:`why_not` says why).  Depends only on the class,
    so it holds while the class's version tag does."""
    return _check(tp)[0]


def refusal(tp: Any) -> Refusal | None:
    """Why :func:`instance_layout` is None for ``tp`` (None when it is not)."""
    return _check(tp)[1]


def why_not(tp: Any) -> str:
    """The message for :func:`refusal` (empty when ``tp`` is supported)."""
    _, reason, detail = _check(tp)
    if reason is None:
        return ""
    message = reason.value.format(detail) if "{}" in reason.value else reason.value
    return f"{tp.__qualname__}: {message}" if isinstance(tp, type) else f"{tp!r}: {message}"


# -- version tags ------------------------------------------------------------------------

_assign_version_tag = ctypes.pythonapi.PyUnstable_Type_AssignVersionTag
_assign_version_tag.argtypes = [ctypes.py_object]
_assign_version_tag.restype = ctypes.c_int


def read_type_version(tp: type) -> int:
    """``tp_version_tag`` as it is (0: none, or the class was modified)."""
    return ctypes.c_uint32.from_address(id(tp) + TYPE_VERSION).value


def type_version(tp: type) -> int:
    """``tp``'s version tag, assigning one if it has none; 0 if none can be
    assigned (3.13: after 1000 versions of one class; or a base cannot get one)."""
    if not isinstance(tp, type):
        raise TypeError(f"type_version of {tp!r}, which is not a class")
    version = read_type_version(tp)
    if version == 0 and _assign_version_tag(tp):
        version = read_type_version(tp)
    return version


def emit_guard_type_version(emit: Any, type_ref: Value, version: int) -> None:
    """IR: exit unless ``type_ref``'s ``tp_version_tag`` is ``version``.

    The tag is a uint32 followed by 4 bytes of padding: the 64-bit load is
    masked.  ``version`` 0 would match every modified class: refused."""
    if not 0 < version < 1 << 32:
        raise ValueError(f"not a type version tag: {version}")
    word = emit("getfield_i", [type_ref], TYPE_VERSION)
    tag = emit("int_and", [word, const_int(0xFFFF_FFFF)])
    emit("guard_value_i", [tag, const_int(version)])


# -- __slots__ members ---------------------------------------------------------------------

def slot_offset(tp: type, name: str) -> int | None:
    """The offset in instances of ``tp`` of the ``__slots__`` member ``name``:
    what the MRO gives for ``name`` is a writable object member descriptor
    of a class statement's class that ``tp`` derives from; None otherwise."""
    if _PLATFORM_PROBLEM or not isinstance(tp, type) or type(name) is not str:
        return None
    descr = mro_lookup(tp, name)
    if type(descr) is not types.MemberDescriptorType:
        return None
    owner = descr.__objclass__
    if not (isinstance(owner, type) and issubclass(tp, owner) and
            _is_class_statement_type(owner)):
        return None
    member = _word(id(descr) + MEMBER_DESCR_MEMBERDEF)
    if ctypes.c_int.from_address(member + MEMBERDEF_TYPE).value != T_OBJECT_EX:
        return None
    if ctypes.c_int.from_address(member + MEMBERDEF_FLAGS).value & MEMBER_READONLY:
        return None
    offset = _ssize(member + MEMBERDEF_OFFSET)
    if offset < 16 or offset % 8 or offset + 8 > tp.__basicsize__:
        return None
    return offset


def _slot_field(offset: int) -> FieldOffset:
    if offset < 16 or offset % 8:
        raise ObjectLayoutError(f"not a slot member offset: {offset}")
    return FieldOffset(offset, f"inst.slot.{offset}")


def emit_load_slot(emit: Any, obj: Value, offset: int) -> Value:
    """IR: the (borrowed, possibly NULL = unset) reference in the slot member
    at ``offset`` (from :func:`slot_offset`) of ``obj``; the caller has
    guarded ``obj``'s class and version."""
    return emit("getfield_r", [obj], _slot_field(offset))


def emit_store_slot(emit: Any, obj: Value, offset: int, new: Value) -> Value:
    """IR: store ``new`` into the slot member at ``offset``; returns the old
    reference (possibly NULL) for the caller to release with an xdecref.
    The slot takes over one reference to ``new``.  No guard: a plain store
    is what CPython does whether or not the slot was set."""
    field = _slot_field(offset)
    old = emit("getfield_r", [obj], field)
    emit("setfield_r", [obj, new], field)
    return old


def emit_init_slot(emit: Any, obj: Value, offset: int, new: Value) -> None:
    """IR: store ``new`` into a slot member known to be unset (of an object
    the trace made); the slot takes over one reference to ``new``."""
    emit("setfield_r", [obj, new], _slot_field(offset))


# -- values arrays ----------------------------------------------------------------------------

def _values_field(lay: InstanceLayout, index: int) -> FieldOffset:
    if lay.kind not in (VALUES, INLINE):
        raise ObjectLayoutError(
            f"instances of {lay.tp.__qualname__} keep no values array (kind {lay.kind})")
    count = len(shared_keys(lay.tp))
    if not 0 <= index < count:
        raise ObjectLayoutError(
            f"{lay.tp.__qualname__}: index {index} outside its {count} shared keys")
    # 3.12: based on the tagged word, which is values - 1
    base = lay.values_offset + (VALUES_BIT if lay.kind == VALUES else 0)
    return FieldOffset(base + 8 * index, f"inst.values.{index}")


def _emit_values_guards(emit: Any, obj: Value, lay: InstanceLayout, index: int,
                        for_store: bool) -> Value:
    """Guard that ``obj``'s attributes are in its values array; returns the
    base the values field is read from (3.12: the tagged word; 3.13: obj)."""
    if lay.kind == VALUES:
        word = emit("getfield_i", [obj], INSTANCE_DICT)
        emit("guard_true", [emit("int_and", [word, const_int(VALUES_BIT)])])
        return word
    header = emit("getfield_i", [obj], FieldOffset(lay.header_offset, "inst.inline.header"))
    emit("guard_true", [emit("int_and", [header, const_int(HEADER_VALID_MASK)])])
    capacity = emit("int_and", [header, const_int(HEADER_CAPACITY_MASK)])
    emit("guard_true", [emit("int_gt", [capacity, const_int(index)])])
    if for_store:
        emit("guard_false", [emit("getfield_i", [obj], INSTANCE_DICT)])
    return obj


def emit_load_instance_value(emit: Any, obj: Value, lay: InstanceLayout, index: int) -> Value:
    """IR: ``values[index]`` of ``obj``, a borrowed reference, NULL when the
    instance does not have the attribute; with the guards that ``obj`` keeps
    its attributes in the values array (3.12: the word at obj - 24 has its low
    bit set; 3.13: ``valid`` set and ``index < capacity``).  The caller has
    guarded ``obj``'s class and version, and that no data descriptor of the
    class takes precedence."""
    field = _values_field(lay, index)
    base = _emit_values_guards(emit, obj, lay, index, for_store=False)
    return emit("raw_load_r" if lay.kind == VALUES else "getfield_r", [base], field)


def emit_store_instance_value(emit: Any, obj: Value, lay: InstanceLayout, index: int,
                              new: Value) -> Value:
    """IR: replace ``values[index]`` of ``obj`` by ``new``; returns the old
    reference (never NULL past the guard) for the caller to release right
    after (CPython's order).  The array takes over one reference to ``new``.

    Guards, all before the store: the values are the instance's (as for
    loads); 3.13: no materialized dict (it would miss the store's version
    bump and watcher event); the old value is non-NULL (adding an attribute
    also appends to the insertion order, which a plain store does not do).
    Use :func:`read_instance_value` to know at trace time whether they hold.
    """
    if not lay.plain_setattr:
        raise ObjectLayoutError(f"{lay.tp.__qualname__}: custom __setattr__ or __delattr__")
    field = _values_field(lay, index)
    base = _emit_values_guards(emit, obj, lay, index, for_store=True)
    if lay.kind == VALUES:
        old = emit("raw_load_r", [base], field)
        emit("guard_nonnull", [old])
        emit("raw_store_r", [base, new], field)
    else:
        old = emit("getfield_r", [base], field)
        emit("guard_nonnull", [old])
        emit("setfield_r", [base, new], field)
    return old


# -- the Python twins: the same emitters, run now on one object ----------------------------------

def _run_now(name: str, args: list[Value], descr: Any = None) -> Value | None:
    """An ``emit`` that executes each operation at once on constants: loads
    read memory through ctypes, guards raise :class:`GuardFails`."""
    d = OPS[name]
    raw = [a.raw() for a in args]  # type: ignore[attr-defined]
    if d.guard:
        if d.evaluate is None or d.evaluate(*raw) is None:
            raise GuardFails(name)
        return None
    if d.effect is Effect.PURE and d.evaluate is not None:
        return Const(d.result, d.evaluate(*raw))
    if name in ("getfield_i", "raw_load_i"):
        return const_int(ctypes.c_int64.from_address(raw[0] + descr).value)
    if name in ("getfield_r", "raw_load_r"):
        address = _word(raw[0] + descr)
        return const_ref(_object_at(address)) if address else CONST_NULL
    raise ObjectLayoutError(f"{name} is not run by the Python twin")


def _result(value: Value) -> Any:
    assert isinstance(value, Const)
    return cp.NULL if value.is_null() else value.value


def read_instance_value(obj: Any, lay: InstanceLayout, index: int) -> Any:
    """What :func:`emit_load_instance_value` reads from ``obj`` now:
    the object, ``cpython.NULL``, or :class:`GuardFails` (the same code runs)."""
    if type(obj) is not lay.tp:
        raise ObjectLayoutError(f"{obj!r} is not an instance of exactly {lay.tp.__qualname__}")
    return _result(emit_load_instance_value(_run_now, const_ref(obj), lay, index))


def read_slot(obj: Any, offset: int) -> Any:
    """What :func:`emit_load_slot` reads from ``obj`` now (``cpython.NULL``: unset)."""
    tp = type(obj)
    if not any(slot_offset(tp, key) == offset
               for base in _type_mro(tp) for key in _type_dict(base)):
        raise ObjectLayoutError(f"no slot member at {offset} in {tp.__qualname__}")
    return _result(emit_load_slot(_run_now, const_ref(obj), offset))


# -- checking the facts above on this interpreter ----------------------------------------------

def _c_address(name: str) -> int:
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value or 0


_OBJECT_GETATTRIBUTE = object.__dict__["__getattribute__"]
_OBJECT_SETATTR = object.__dict__["__setattr__"]
_OBJECT_DELATTR = object.__dict__["__delattr__"]
_GENERIC_GETATTR = _c_address("PyObject_GenericGetAttr")
_GENERIC_SETATTR = _c_address("PyObject_GenericSetAttr")


class _Probe:
    def __init__(self) -> None:
        self.alpha = "alpha value"
        self.beta = "beta value"


class _SlotsProbe:
    __slots__ = ("x", "y")


_SUBTYPE_DEALLOC = _word(id(_Probe) + TP_DEALLOC)
_PLATFORM_PROBLEM = ""


def _verify() -> str:
    """Check every offset this module reads on probe classes; '' when all hold."""
    problems = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            problems.append(what)

    p = _Probe
    t = id(p)
    check(_ssize(t + TP_BASICSIZE) == p.__basicsize__, "tp_basicsize")
    check(_ssize(t + TP_ITEMSIZE) == p.__itemsize__, "tp_itemsize")
    check(ctypes.c_ulong.from_address(t + TP_FLAGS).value == p.__flags__, "tp_flags")
    check(_ssize(t + TP_WEAKLISTOFFSET) == p.__weakrefoffset__, "tp_weaklistoffset")
    check(_word(t + TP_BASE) == id(object), "tp_base")
    check(_ssize(t + TP_DICTOFFSET) == p.__dictoffset__ == -1, "tp_dictoffset")
    check(_word(t + TP_GETATTRO) == _GENERIC_GETATTR != 0, "tp_getattro")
    check(_word(t + TP_SETATTRO) == _GENERIC_SETATTR != 0, "tp_setattro")
    check(_SUBTYPE_DEALLOC == _word(id(_SlotsProbe) + TP_DEALLOC) != _word(id(int) + TP_DEALLOC),
          "tp_dealloc")
    check(_word(t + HT_NAME) == id(p.__name__) and _word(t + HT_QUALNAME) == id(p.__qualname__),
          "ht_name/ht_qualname")
    instance = p()
    check(shared_keys(p) == ["alpha", "beta"], "ht_cached_keys entries")
    keys = _shared_keys_address(p)
    check(bool(keys) and _ssize(keys + DK_USABLE) > 0, "ht_cached_keys dk_usable")
    # values of a fresh instance
    word = _word(id(instance) + INSTANCE_DICT)
    if PY312:
        check(word & 1 == 1, "3.12 dict-or-values word tagged")
        values = word + 1
        check(_u8(values - 2) == 2, "3.12 values used size")
    else:
        check(word == 0 and bool(p.__flags__ & TPFLAGS_INLINE_VALUES), "3.13 inline values")
        header = id(instance) + p.__basicsize__
        check(p.__basicsize__ == 16, "3.13 inline values at 16")
        check(_u8(header + 1) == 2 and _u8(header + 2) == 1 and _u8(header + 3) == 1,
              "3.13 size/embedded/valid bytes")
        check(_u8(header) >= 2, "3.13 capacity byte")
        values = header + INLINE_VALUES_AFTER_HEADER
    if not problems:
        check(_word(values) == id(instance.alpha) and _word(values + 8) == id(instance.beta),
              "values array")
    # version tags
    check(type_version(p) != 0, "tp_version_tag assigned")
    p.probe_attr = 1
    check(read_type_version(p) == 0, "tp_version_tag reset by a class change")
    del p.probe_attr
    # slots
    s = _SlotsProbe()
    s.x, s.y = "x value", "y value"
    for name, offset in (("x", 16), ("y", 24)):
        descr = _SlotsProbe.__dict__[name]
        member = _word(id(descr) + MEMBER_DESCR_MEMBERDEF)
        check(ctypes.string_at(_word(member)) == name.encode() and
              _ssize(member + MEMBERDEF_OFFSET) == offset and
              ctypes.c_int.from_address(member + MEMBERDEF_TYPE).value == T_OBJECT_EX,
              f"member descriptor {name}")
        check(_word(id(s) + offset) == id(getattr(s, name)), f"slot {name} value")
    return ", ".join(problems)


_PLATFORM_PROBLEM = _verify() if sys.maxsize > 1 << 32 else "not a 64-bit CPython"


def platform_problem() -> str:
    """What of this module's layout facts failed on this interpreter ('' = none)."""
    return _PLATFORM_PROBLEM


# -- what the tracer's attribute handlers use besides the above ------------------

def emit_values_guards(emit: Any, obj: Value, lay: InstanceLayout, index: int,
                       for_store: bool) -> tuple[Value, FieldOffset]:
    """The guards of :func:`emit_load_instance_value` (``for_store``: of a
    store), and the base and field the value is then read from or written to
    (a caller boxing the new value between the guards and the store)."""
    return _emit_values_guards(emit, obj, lay, index, for_store), _values_field(lay, index)


def emit_guard_no_instance_attribute(emit: Any, obj: Value, lay: InstanceLayout) -> None:
    """IR guarding that ``obj`` has no attribute of its own named by a name
    that is not in its class's shared keys now: its attributes are all in its
    values array (3.13: and no dict was materialized), whose names are the
    shared keys, and those are the same keys object with the same number of
    entries (a name added later is a new entry)."""
    if lay.kind == SLOTS_ONLY:
        return
    keys = _shared_keys_address(lay.tp)
    if not keys:
        raise ObjectLayoutError(f"{lay.tp.__qualname__}: no shared keys")
    cached = emit("getfield_i", [const_ref(lay.tp)], FieldOffset(HT_CACHED_KEYS, "type.keys"))
    emit("guard_value_i", [cached, const_int(keys)])
    count = emit("raw_load_i", [const_int(keys)], DK_NENTRIES)
    emit("guard_value_i", [count, const_int(_ssize(keys + DK_NENTRIES))])
    if lay.kind == VALUES:
        word = emit("getfield_i", [obj], INSTANCE_DICT)
        emit("guard_true", [emit("int_and", [word, const_int(VALUES_BIT)])])
    else:
        header = emit("getfield_i", [obj], FieldOffset(lay.header_offset, "inst.inline.header"))
        emit("guard_true", [emit("int_and", [header, const_int(HEADER_VALID_MASK)])])
        emit("guard_false", [emit("getfield_i", [obj], INSTANCE_DICT)])


def has_no_instance_attribute_guard_holding(obj: Any, lay: InstanceLayout) -> bool:
    """Whether :func:`emit_guard_no_instance_attribute` holds for ``obj`` now."""
    try:
        emit_guard_no_instance_attribute(_run_now, const_ref(obj), lay)
    except GuardFails:
        return False
    return True


def values_guards_hold(obj: Any, lay: InstanceLayout, index: int, for_store: bool) -> bool:
    """Whether the guards of :func:`emit_values_guards` hold for ``obj`` now."""
    try:
        _emit_values_guards(_run_now, const_ref(obj), lay, index, for_store)
    except GuardFails:
        return False
    return True
