"""C functions that traces call by address: CPython's C API, libm, and a few
tracejit helpers written as ctypes callbacks.

Each helper is a :class:`~tracejit.ir.CallDescr` with a Python implementation
working on machine-level values (``pyimpl``) so that the reference backend
gives exactly the same results as compiled code, and with what the call does:
whether it can raise, run Python code or free objects (``releases``), what it
writes, whether it only allocates.  The optimizer trusts these: each one below
says why it holds for the arguments the tracer passes.  (Allocating does not
run the cyclic GC on 3.12+: it is only scheduled, for the eval loop.)
"""

from __future__ import annotations

import ctypes
import functools
import math
import threading
from collections.abc import Callable
from typing import Any

from tracejit.backend import c_function, c_symbol
from tracejit.ir import FLOAT, INT, REF, VOID, CallDescr, Writes

_py_object = ctypes.py_object


def obj_at(address: int) -> Any:
    """The object at ``address`` (a new reference held by the returned value)."""
    return ctypes.cast(address, _py_object).value


_incref = c_function("Py_IncRef", None, ctypes.py_object)
_decref = c_function("Py_DecRef", None, ctypes.c_void_p)


def new_ref(obj: object) -> int:
    """Return ``obj``'s address carrying one new (owned) reference."""
    _incref(obj)
    return id(obj)


def _capi(name: str, argtypes: str, restype: str, pyimpl: Callable, **kw: Any) -> CallDescr:
    return CallDescr(name, c_symbol(name), argtypes, restype, pyimpl=pyimpl, **kw)


# what a call that only makes a new object does: it writes no memory a trace
# loads, and fails only with MemoryError (NULL)
_ALLOCATES: dict[str, Any] = {"allocates": True, "writes": Writes.NOTHING, "can_raise": True}


@functools.cache
def box_float() -> CallDescr:
    """``PyFloat_FromDouble``: a new float (NULL on MemoryError)."""
    return _capi("PyFloat_FromDouble", FLOAT, REF, lambda x: new_ref(float(x)), **_ALLOCATES)


@functools.cache
def box_int() -> CallDescr:
    """``PyLong_FromLongLong``: a new int, or a cached small one (NULL on MemoryError)."""
    return _capi("PyLong_FromLongLong", INT, REF, lambda x: new_ref(int(x)), **_ALLOCATES)


@functools.cache
def get_iter() -> CallDescr:
    """``PyObject_GetIter``: may call ``__iter__``, i.e. any Python code."""
    return _capi(
        "PyObject_GetIter", REF, REF, lambda a: new_ref(iter(obj_at(a))),
        releases=True, can_raise=True, writes=Writes.ANYTHING,
    )


@functools.cache
def get_seq_iter() -> CallDescr:
    """``PyObject_GetIter`` of an exact list or tuple (what the tracer
    passes): a new iterator and nothing else, no Python code."""
    return _capi("PyObject_GetIter", REF, REF, lambda a: new_ref(iter(obj_at(a))),
                 **_ALLOCATES)


@functools.cache
def dict_lookup() -> CallDescr:
    """``PyDict_GetItem`` returning the borrowed value's address (0 if absent).

    Its result changes when the dict does (not pure).  The keys are names
    (exact str): hashing and comparing them runs no Python code, and
    ``PyDict_GetItem`` swallows errors, so it raises and writes nothing."""

    def impl(d: int, k: int) -> int:
        value = obj_at(d).get(obj_at(k), _MISSING)
        return 0 if value is _MISSING else id(value)

    return _capi("PyDict_GetItem", REF + REF, INT, impl, can_raise=False,
                 writes=Writes.NOTHING)


_MISSING = object()


@functools.cache
def new_list() -> CallDescr:
    """``PyList_New(n)``: n NULL slots that the trace fills in."""
    return _capi("PyList_New", INT, REF, lambda n: _list_new(n) or 0, **_ALLOCATES)


_list_new = c_function("PyList_New", ctypes.c_void_p, ctypes.c_ssize_t)


@functools.cache
def sequence_repeat() -> CallDescr:
    """``PySequence_Repeat(seq, n)``: a new list of n copies of a list's items.

    The tracer passes a list: repeating it runs no Python code (the items
    are only increfed); MemoryError is the only failure."""
    return _capi("PySequence_Repeat", REF + INT, REF,
                 lambda a, n: new_ref(obj_at(a) * n), **_ALLOCATES)


@functools.cache
def unicode_concat() -> CallDescr:
    """``PyUnicode_Concat(a, b)``: a new str, ``a + b`` of two exact strs.

    No Python code runs; MemoryError is the only failure (the tracer bounds
    the length first)."""
    return _capi("PyUnicode_Concat", REF + REF, REF,
                 lambda a, b: new_ref(obj_at(a) + obj_at(b)), **_ALLOCATES)


@functools.cache
def sequence_list() -> CallDescr:
    """``PySequence_List(seq)``: a new list of a list's or tuple's items.

    For a list or a tuple (what the tracer passes) no Python code runs."""
    return _capi("PySequence_List", REF, REF, lambda a: new_ref(list(obj_at(a))),
                 **_ALLOCATES)


@functools.cache
def list_append() -> CallDescr:
    """``PyList_Append(list, item)``: the list takes its own reference.

    Writes the list's size, items and (growing it) its item array; -1 on
    MemoryError.  No Python code runs."""

    def impl(lst: int, item: int) -> int:
        obj_at(lst).append(obj_at(item))
        return 0

    return _capi("PyList_Append", REF + REF, INT, impl, can_raise=True, writes=Writes.ARGS)


@functools.cache
def list_delete_slice() -> CallDescr:
    """``PyList_SetSlice(list, low, high, NULL)``: the items ``low:high``
    leave the list, which resizes its item array as ``list.pop`` does.

    The trace holds its own reference to each item it removes this way, so
    no object is freed and no Python code runs; -1 on MemoryError."""

    def impl(lst: int, low: int, high: int, null: int) -> int:
        del obj_at(lst)[low:high]
        return 0

    return _capi("PyList_SetSlice", REF + INT + INT + REF, INT, impl, can_raise=True,
                 writes=Writes.ARGS)


@functools.cache
def new_tuple() -> CallDescr:
    """PyTuple_New(n): a tuple whose n items the caller stores (owned)."""

    return _capi("PyTuple_New", INT, REF, lambda n: _tuple_new(n) or 0, **_ALLOCATES)


_tuple_new = c_function("PyTuple_New", ctypes.c_void_p, ctypes.c_ssize_t)


@functools.cache
def xincref() -> CallDescr:
    """``Py_IncRef``: like ``incref`` but accepts NULL (writes only a refcount)."""

    def impl(a: int) -> None:
        if a:
            _incref(obj_at(a))

    return _capi("Py_IncRef", REF, VOID, impl, can_raise=False, writes=Writes.NOTHING)


@functools.cache
def xdecref() -> CallDescr:
    """``Py_DecRef``: like ``decref`` but accepts NULL.  Freeing an object runs
    its finalizer, i.e. any Python code; errors there are only reported
    (unraisable), never raised."""

    def impl(a: int) -> None:
        if a:
            _decref(a)

    return _capi("Py_DecRef", REF, VOID, impl, releases=True, can_raise=False,
                 writes=Writes.ANYTHING)


@functools.cache
def new_object() -> CallDescr:
    """_PyObject_New(type): an uninitialized object of a fixed-size type whose
    fields the trace then sets (used for range iterators)."""
    return _capi("_PyObject_New", INT, REF, lambda t: new_ref(iter(range(0))), **_ALLOCATES)


# -- callbacks written in Python: used off the hot path.  Running Python code
# may run anything (the GC, finalizers, signal handlers) and raise.

_CALLBACKS: list[Any] = []


def _callback(name: str, argtypes: str, func: Callable[..., int]) -> CallDescr:
    ctype = {INT: ctypes.c_int64, FLOAT: ctypes.c_double, REF: ctypes.c_void_p}
    proto = ctypes.PYFUNCTYPE(ctypes.c_void_p, *[ctype[t] for t in argtypes])
    cb = proto(func)
    _CALLBACKS.append(cb)
    address = ctypes.cast(cb, ctypes.c_void_p).value or 0
    return CallDescr(name, address, argtypes, REF, releases=True, pyimpl=func,
                     can_raise=True, writes=Writes.ANYTHING)


@functools.cache
def new_range_iter() -> CallDescr:
    """iter(range(start, stop, step)) as a new reference."""
    return _callback(
        "tj_range_iter", INT * 3, lambda a, b, c: new_ref(iter(range(a, b, c)))
    )


# -- libm: (python function, C name, arity, domain guard kind)


@functools.cache
def libm(name: str) -> CallDescr:
    arity = 2 if name in ("atan2", "pow", "copysign") else 1
    pyfunc = getattr(math, name)

    def impl(*args: float) -> float:
        return _c_semantics(pyfunc, args)

    # errors show as nan/inf (errno is not read): no exception, no writes
    return CallDescr(name, c_symbol(name), FLOAT * arity, FLOAT, pure=True, pyimpl=impl,
                     can_raise=False, writes=Writes.NOTHING)


def _c_semantics(func: Callable[..., float], args: tuple[float, ...]) -> float:
    # libm returns nan/inf where Python raises; the trace guards on that result
    try:
        return float(func(*args))
    except ValueError:
        return math.nan
    except OverflowError:
        return math.inf


# math functions traced as direct libm calls: CPython calls the same libm
# function for finite arguments, so results are bit-identical.
MATH_FUNCTIONS = {
    "sqrt", "sin", "cos", "tan", "exp", "log", "atan", "asin", "acos", "sinh", "cosh",
    "tanh", "fabs", "log10", "log2", "expm1", "log1p", "atan2", "asinh", "acosh", "atanh",
}
MATH_TO_INT = {"floor", "ceil", "trunc"}


@functools.cache
def object_new() -> CallDescr:
    """``object.__new__(cls)`` through its C slot (``object_new(cls, (), NULL)``):
    a new instance of a plain class, as ``cls(...)`` makes it before ``__init__``.

    The tracer calls it only for classes whose ``__new__`` is object's; NULL on
    MemoryError."""
    address = ctypes.c_void_p.from_address(id(object) + _TP_NEW).value or 0

    def impl(cls: int, args: int, kwds: int) -> int:
        return new_ref(object.__new__(obj_at(cls)))

    return CallDescr("object_new", address, REF * 3, REF, pyimpl=impl, **_ALLOCATES)


_TP_NEW = 312  # PyTypeObject.tp_new, on 3.12 and 3.13


@functools.cache
def set_new_attribute() -> CallDescr:
    """``PyObject_SetAttr(obj, name, value)`` adding an attribute the instance
    does not have (the tracer guards that): it writes the instance and the
    class's shared keys, releases nothing, runs no Python code (a plain class:
    object's ``__setattr__``, no descriptor of that name); -1 on MemoryError."""

    def impl(obj: int, name: int, value: int) -> int:
        object.__setattr__(obj_at(obj), obj_at(name), obj_at(value))
        return 0

    return _capi("PyObject_SetAttr", REF * 3, INT, impl, can_raise=True, writes=Writes.ARGS)


# -- residual calls: a callable of the program, called as CPython's CALL would.
# PyObject_Call* check the callee's result (NULL exactly when an exception is
# set); the trace then takes the exception with PyErr_GetRaisedException.  The
# reference backend's implementations keep that exception per thread.

_raised = threading.local()


def _call_program(f: int, *args: int) -> int:
    try:
        return new_ref(obj_at(f)(*[obj_at(a) for a in args]))
    except BaseException as e:  # the program's exception, for fetch_exception
        # (without this frame in its traceback, as if raised from C)
        _raised.exc = e.with_traceback(e.__traceback__.tb_next if e.__traceback__ else None)
        return 0


def _program_call(name: str, argtypes: str, impl: Callable[..., int]) -> CallDescr:
    return _capi(name, argtypes, REF, impl, releases=True, can_raise=True,
                 writes=Writes.ANYTHING, calls_program=True)


@functools.cache
def call_no_args() -> CallDescr:
    """``PyObject_CallNoArgs(f)``: a new reference, or NULL with an exception set."""
    return _program_call("PyObject_CallNoArgs", REF, _call_program)


@functools.cache
def call_one_arg() -> CallDescr:
    """``PyObject_CallOneArg(f, a)``."""
    return _program_call("PyObject_CallOneArg", REF * 2, _call_program)


@functools.cache
def call_object() -> CallDescr:
    """``PyObject_Call(f, args_tuple, NULL)``."""
    return _program_call("PyObject_Call", REF * 3,
                         lambda f, args, kw: _call_program(f, *map(id, obj_at(args))))


_ITEMS = 24  # PyTupleObject.ob_item (cpython.TUPLE_ITEMS; helpers import no tracer module)


def _vectorcall(f: int, items: int, nargs: int, kwnames: int) -> int:
    """As CPython's keyword call: ``items`` the address of a tuple's items
    (positional arguments, then keyword values), ``kwnames`` the names."""
    names = obj_at(kwnames)
    tup = obj_at(items - _ITEMS)
    pos, values = tup[:nargs], tup[nargs:]
    try:
        return new_ref(obj_at(f)(*pos, **dict(zip(names, values))))
    except BaseException as e:  # as in _call_program
        _raised.exc = e.with_traceback(e.__traceback__.tb_next if e.__traceback__ else None)
        return 0


@functools.cache
def vectorcall() -> CallDescr:
    """``PyObject_Vectorcall(f, args, nargs, kwnames)``, what CPython's
    ``CALL`` with keyword arguments does; ``args`` points into a tuple the
    trace made."""
    return _program_call("PyObject_Vectorcall", REF + INT + INT + REF, _vectorcall)


@functools.cache
def fetch_exception() -> CallDescr:
    """``PyErr_GetRaisedException()``: the exception set (a new reference, and
    no longer set), or NULL.  Reads and clears the thread's exception only."""

    def impl() -> int:
        exc = getattr(_raised, "exc", None)
        _raised.exc = None
        return 0 if exc is None else new_ref(exc)

    return _capi("PyErr_GetRaisedException", "", REF, impl, can_raise=False,
                 writes=Writes.NOTHING)
