"""Everything that depends on the CPython version (3.12 or 3.13), in one place.

Object layouts read by compiled code, the interpreter-frame layout, the rule
for moving a frame's instruction pointer from inside a ``sys.monitoring``
JUMP callback, and bytecode listing.  Offsets were checked on 3.12.1 and
3.13.0 (see tests/test_cpython.py).
"""

from __future__ import annotations

import ctypes
import dis
import sys
import types
from typing import Any

PY312 = sys.version_info[:2] == (3, 12)
PY313 = sys.version_info[:2] == (3, 13)
if not (PY312 or PY313):
    raise ImportError(
        f"tracejit supports CPython 3.12 and 3.13, not {sys.version.split()[0]}")
if sys.implementation.name != "cpython":
    raise ImportError("tracejit needs CPython")


class _Null:
    """C NULL in a frame slot (an unbound local, a NULL on the value stack)."""

    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _Null()

# -- object layout (bytes); named so backends can tell fields apart ---------
from tracejit.codemap import CodeMap  # noqa: E402
from tracejit.ir import FieldOffset as _F  # noqa: E402
from tracejit.untracked import untrack  # noqa: E402

OB_REFCNT = 0
OB_TYPE = 8
VAR_SIZE = _F(16, "var.size")  # ob_size of list and tuple
STR_LENGTH = _F(16, "str.length")  # PyASCIIObject.length (code points)
LIST_ITEMS = _F(24, "list.items")  # PyListObject.ob_item (pointer to the item array)
TUPLE_ITEMS = 24  # PyTupleObject.ob_item (inline array)
FLOAT_VALUE = _F(16, "float.value")  # PyFloatObject.ob_fval
LONG_TAG = 16  # _PyLongValue.lv_tag
LONG_DIGITS = 24  # _PyLongValue.ob_digit
LONG_NON_SIZE_BITS = 3
RANGEITER_START = _F(16, "rangeiter.start")
RANGEITER_STEP = _F(24, "rangeiter.step")
RANGEITER_LEN = _F(32, "rangeiter.len")
SEQITER_INDEX = _F(16, "seqiter.index")  # list_iterator and tuple_iterator
SEQITER_SEQ = _F(24, "seqiter.seq")
ENUM_INDEX = _F(16, "enum.index")  # enumerate: en_index, en_sit
ENUM_ITER = _F(24, "enum.iter")

# the cycle collector's generation 0 inside PyInterpreterState (struct
# gc_generation: a PyGC_Head, then int threshold, int count), found on 3.12.1
# and 3.13.0; tracejit.gcclock checks it against the gc module before use
GC_GEN0_THRESHOLD = 152 if PY312 else 7440

# the function inside a property (prop_get), staticmethod (sm_callable) and
# classmethod (cm_callable): what a trace that inlined it depends on
DESCR_FUNCTION = 16
CELL_REF = _F(16, "cell.ref")  # PyCellObject.ob_ref

# PyFunctionObject: what calls to an inlined function depend on
FUNC_CODE = 48
FUNC_DEFAULTS = 56
FUNC_KWDEFAULTS = 64

# -- thread state -------------------------------------------------------------
# PyThreadState.tracing: nonzero while a tracing or sys.monitoring callback
# runs, and then CPython reports no events at all.  Compiled code runs inside
# the JUMP callback, so the code it calls (residual calls) would run with
# every event off: no JUMP events (no compiled loops of their own), no
# PY_START (no resuming inside callees).  While compiled code runs, the
# runtime clears it (see Runtime.enter); tests/test_residual_calls.py checks
# the offset.
TSTATE_TRACING = 44 if PY312 else 60
_thread_state = ctypes.pythonapi.PyThreadState_Get
_thread_state.restype = ctypes.c_void_p
_thread_state.argtypes = []


def tracing_flag() -> ctypes.c_int:
    """The current thread's ``PyThreadState.tracing``."""
    return ctypes.c_int.from_address((_thread_state() or 0) + TSTATE_TRACING)


# -- frames --------------------------------------------------------------------
FRAMEOBJ_IFRAME = 24  # PyFrameObject.f_frame
IFRAME_IP = 56  # prev_instr (3.12) / instr_ptr (3.13)
IFRAME_STACKTOP = 64  # int, in slots from localsplus
IFRAME_LOCALSPLUS = 72
CODE_ADAPTIVE = 192 if PY312 else 200  # PyCodeObject.co_code_adaptive

RANGE_ITER_TYPE = type(iter(range(0)))
# the addresses of False and True, so traces can box a computed bool by indexing
_BOOL_TABLE = (ctypes.c_void_p * 2)(id(False), id(True))
BOOL_TABLE_ADDRESS = ctypes.addressof(_BOOL_TABLE)


def emit_box_bool(emit: Any, flag: Any) -> Any:
    """IR for (False, True)[flag], a borrowed reference to an immortal object;
    ``emit(name, args, descr=None)`` appends an operation and returns it."""
    from tracejit.ir import const_int

    offset = emit("int_lshift", [flag, const_int(3)])
    address = emit("int_add", [const_int(BOOL_TABLE_ADDRESS), offset])
    return emit("raw_load_r", [address], 0)
LIST_ITER_TYPE = type(iter([]))
TUPLE_ITER_TYPE = type(iter(()))

_incref = ctypes.PYFUNCTYPE(None, ctypes.py_object)(
    ctypes.cast(ctypes.pythonapi.Py_IncRef, ctypes.c_void_p).value)
_decref = ctypes.PYFUNCTYPE(None, ctypes.c_void_p)(
    ctypes.cast(ctypes.pythonapi.Py_DecRef, ctypes.c_void_p).value)


def iframe_of(frame: types.FrameType) -> int:
    return ctypes.c_void_p.from_address(id(frame) + FRAMEOBJ_IFRAME).value or 0


# PyCodeObject's int fields, the same on 3.12 and 3.13 (read from the struct:
# co_varnames, co_cellvars and co_freevars are made and cached on first use,
# objects a program could count; tests/test_objects.py checks the offsets)
CODE_NLOCALSPLUS = 72
CODE_NCELLVARS = 84


def nlocalsplus(code: types.CodeType) -> int:
    """co_nlocalsplus (not exposed to Python)."""
    return ctypes.c_int.from_address(id(code) + CODE_NLOCALSPLUS).value


def makes_cells(code: types.CodeType) -> bool:
    """Whether the code makes cells for its own locals (``MAKE_CELL``)."""
    return bool(ctypes.c_int.from_address(id(code) + CODE_NCELLVARS).value)


def local_names(code: types.CodeType) -> dict[str, int]:
    """Frame slots of the plain local variables (not cells) by name."""
    cells = set(code.co_cellvars)
    return {name: i for i, name in enumerate(code.co_varnames) if name not in cells}


def _slot(frame: types.FrameType, index: int) -> ctypes.c_void_p:
    return ctypes.c_void_p.from_address(iframe_of(frame) + IFRAME_LOCALSPLUS + 8 * index)


def _obj(address: int | None) -> Any:
    if not address:
        return NULL
    return ctypes.cast(address, ctypes.py_object).value


def read_local(frame: types.FrameType, index: int) -> Any:
    return _obj(_slot(frame, index).value)


def stack_depth(frame: types.FrameType) -> int:
    top = ctypes.c_int.from_address(iframe_of(frame) + IFRAME_STACKTOP).value
    return top - nlocalsplus(frame.f_code)


def read_stack(frame: types.FrameType) -> list[Any]:
    nl = nlocalsplus(frame.f_code)
    return [read_local(frame, nl + k) for k in range(stack_depth(frame))]


# array types by size, rounded up to a power of two and the common ones made
# now: a type made when a loop exits for the first time would be a dozen new
# objects in the middle of the program (see tracejit.untracked)
_SLOT_ARRAYS: dict[int, Any] = {1 << k: ctypes.c_void_p * (1 << k) for k in range(4, 9)}


def _slots(base: int, n: int) -> Any:
    """At least ``n`` PyObject* slots at ``base`` as one ctypes array (one
    object per call instead of one per slot: this is on every exit); only the
    first ``n`` may be touched."""
    size = max(16, 1 << (n - 1).bit_length())
    array_type = _SLOT_ARRAYS.get(size)
    if array_type is None:
        array_type = _SLOT_ARRAYS[size] = ctypes.c_void_p * size
    return array_type.from_address(base)


def resume_offset(frame: types.FrameType) -> int:
    """From inside a JUMP callback of ``frame``: the offset of the
    instruction CPython continues at (the one :func:`write_frame` set, or
    the jump itself if nothing did)."""
    ip = ctypes.c_void_p.from_address(iframe_of(frame) + IFRAME_IP).value or 0
    return ip - id(frame.f_code) - CODE_ADAPTIVE


def write_frame(frame: types.FrameType, offset: int, locals: dict[int, Any],
                stack: list[Any], old_depth: int | None = None) -> None:
    """From inside a JUMP callback of ``frame``: set locals, replace the value
    stack and make CPython continue at the instruction at byte ``offset``.

    ``old_depth`` is how many stack slots the frame owns now (default: what
    its stack pointer says)."""
    code = frame.f_code
    nl = nlocalsplus(code)
    iframe = iframe_of(frame)
    top = ctypes.c_int.from_address(iframe + IFRAME_STACKTOP)
    if old_depth is None:
        old_depth = top.value - nl
    slots = _slots(iframe + IFRAME_LOCALSPLUS, nl + max(old_depth, len(stack)))
    garbage = []
    for index, value in locals.items():
        old = slots[index]
        if value is NULL:
            slots[index] = None
        elif old == id(value):
            continue  # the very object is there already (an iterator, a list...)
        else:
            _incref(value)
            slots[index] = id(value)
        garbage.append(old)
    for k, value in enumerate(stack):
        old = slots[nl + k] if k < old_depth else None
        if value is NULL:
            slots[nl + k] = None
        elif old == id(value):
            continue
        else:
            _incref(value)
            slots[nl + k] = id(value)
        garbage.append(old)
    for k in range(len(stack), old_depth):
        garbage.append(slots[nl + k])
        slots[nl + k] = None
    top.value = nl + len(stack)
    # 3.12: the jump continues at frame->prev_instr when the callback changed it;
    # 3.13: likewise with frame->instr_ptr.  Both then execute that instruction.
    ctypes.c_void_p.from_address(iframe + IFRAME_IP).value = \
        id(code) + CODE_ADAPTIVE + offset
    for old in garbage:  # last: a destructor may run Python code
        if old:
            _decref(old)


_INSTR_CACHE = CodeMap()  # code -> its instructions (weak in the code)


def instructions(code: types.CodeType) -> list[dis.Instruction]:
    hit = _INSTR_CACHE.get(code)
    if hit is None:
        # an EXTENDED_ARG prefix belongs to the instruction it extends: that
        # instruction starts at the prefix's offset (jumps and resuming go there)
        ins = []
        start = None
        for i in dis.get_instructions(code):
            if i.opname == "CACHE":
                continue
            if i.opname == "EXTENDED_ARG":
                start = i.offset if start is None else start
                continue
            ins.append(i if start is None else i._replace(offset=start))
            start = None
        for i in ins:  # acyclic: no need for the collector to see them
            untrack(i, i.positions)
            for entry in getattr(i, "cache_info", None) or ():  # 3.13
                untrack(entry)
            if getattr(i, "cache_info", None):
                untrack(i.cache_info)
            if "FAST_" in i.opname and type(i.argval) is tuple:  # 3.13's name pairs
                untrack(i.argval)
        hit = _INSTR_CACHE[code] = ins
    return hit


def loop_headers(code: types.CodeType) -> set[int]:
    return {i.argval for i in instructions(code)
            if i.opname in ("JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")}


_BRANCHES = ("JUMP", "FOR_ITER", "SEND", "RETURN", "RAISE")


def yields_every_iteration(code: types.CodeType, header: int) -> bool:
    """Whether the loop at ``header`` reaches a ``YIELD_VALUE`` on every
    iteration (no branch before it but the header's own ``FOR_ITER``), as a
    generator expression's loop does.  The tracer cannot record a yield: such
    a loop would be traced up to its yield and given up every time."""
    started = False
    for ins in instructions(code):
        if ins.offset < header:
            continue
        if ins.opname == "YIELD_VALUE":
            return True
        if started and any(b in ins.opname for b in _BRANCHES):
            return False
        started = True
    return False


def c_api_address(name: str) -> int:
    from tracejit.backend import c_symbol

    return c_symbol(name)


# -- bytecode differences the tracer needs ------------------------------------

def with_null(value: Any, null: Any) -> tuple[Any, Any]:
    """The two stack entries of a method-style ``LOAD_GLOBAL``/``LOAD_ATTR``
    of a plain value: 3.12 pushes NULL first, 3.13 after."""
    return (null, value) if PY312 else (value, null)


def split_callable(first: Any, second: Any, is_null: Any) -> tuple[Any, Any]:
    """The callable and its bound ``self`` (None) from the two stack entries
    under a ``CALL``'s arguments: 3.12 ``[NULL, f]`` or ``[f, self]``; 3.13
    ``[f, NULL]`` or ``[f, self]``."""
    if PY312:
        return (second, None) if is_null(first) else (first, second)
    return (first, None) if is_null(second) else (first, second)


def compare_op_index(arg: int) -> int:
    """Which of ``< <= == != > >=`` a ``COMPARE_OP`` argument means."""
    return arg >> (4 if PY312 else 5)


def compare_op_to_bool(arg: int) -> bool:
    """3.13: the ``COMPARE_OP`` converts its result to bool (3.12: never)."""
    return not PY312 and bool(arg & 16)


# instructions after FOR_ITER's jump target to skip when the loop ends
# (3.12: END_FOR; 3.13: END_FOR, POP_TOP), and what END_FOR pops when reached
FOR_ITER_EXIT_SKIP = 1 if PY312 else 2
END_FOR_POPS = 2 if PY312 else 1


# -- raw reads of CPython objects the tracer looks into ------------------------

def seqiter_seq(it: Any) -> Any:
    """The sequence of a list/tuple iterator, None once exhausted."""
    address = ctypes.c_void_p.from_address(id(it) + SEQITER_SEQ).value
    return None if not address else ctypes.cast(address, ctypes.py_object).value


def seqiter_index(it: Any) -> int:
    return ctypes.c_ssize_t.from_address(id(it) + SEQITER_INDEX).value


def enum_iter(en: Any) -> Any:
    """The iterator an ``enumerate`` object wraps."""
    address = ctypes.c_void_p.from_address(id(en) + ENUM_ITER).value
    return ctypes.cast(address, ctypes.py_object).value


def enum_index(en: Any) -> int:
    return ctypes.c_ssize_t.from_address(id(en) + ENUM_INDEX).value


def enum_set_index(en: Any, value: int) -> None:
    ctypes.c_ssize_t.from_address(id(en) + ENUM_INDEX).value = value


_LONG_LAYOUT: list[Any] = []


def long_layout() -> Any:
    """Where compact ints keep tag and digit, for ``unbox_int``."""
    if not _LONG_LAYOUT:
        from tracejit.ir import LongLayout

        _LONG_LAYOUT.append(LongLayout(LONG_TAG, LONG_DIGITS, LONG_NON_SIZE_BITS,
                                       c_api_address("PyLong_AsLongAndOverflow")))
    return _LONG_LAYOUT[0]
