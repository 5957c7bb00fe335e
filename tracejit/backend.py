"""The public backend API: what a code generator receives, returns and must obey.

A backend turns an optimized :class:`~tracejit.ir.Trace` into a
:class:`CompiledTrace`.  Every compiled trace behaves like the C function

    int64_t trace(int64_t frame, int64_t *buf)

* ``frame`` is an opaque address (the CPython interpreter frame); the
  ``get_frame`` operation returns it.
* On entry, input argument ``k`` is read from ``buf[k]`` (int64 as is, a double
  as its bit pattern, a ``PyObject*`` as its address).
* When a guard fails (or ``finish`` runs), its ``fail_args`` are written to
  ``buf[0..n)`` in order.  Then the 64-bit cell at ``exit.slot_address`` is
  read: if it is zero the function returns ``exit.number``; otherwise it holds
  the address of another compiled trace (a bridge) which is entered with the
  same ``frame`` and ``buf`` (a tail call), and its result is returned.
* ``jump`` without a descriptor goes back to the trace's ``label``; with a
  descriptor (a ``Trace`` whose ``compiled`` is set) its arguments are written
  to ``buf`` and that trace is entered (a tail call).

Rules: the code runs with the GIL held and may call CPython C functions;
reference counts change only through ``incref``/``decref``/calls, exactly as
the trace says; no memory page is writable and executable at once.

Tiers: the runtime may compile one trace several times, by several
backends (``set_param(tiers="x86_64,llvm")``, :mod:`tracejit.tiers`): first
by a backend that compiles fast, later, once the trace has proven hot, by one
that optimizes more.  For that to work every backend keeps to the calling
convention above exactly (the platform's C convention, ``frame`` and ``buf``
as its two arguments, the stack as at a call): a jump or a bridge slot of code
from one backend may then enter code from any other.  A recompiled trace keeps
its exits (numbers and bridge slots), so the bridges already attached to it
stay attached.  A backend with optimization levels lists them in ``levels``
(cheapest first) and returns a backend compiling at one of them from
``at_level(level)``; a tier is written ``name`` or ``name:level``
(``"llvm:O0"``).

Backends live in their own packages and are found through the entry-point
group ``tracejit.backends``; each entry point names a class (or factory)
implementing :class:`Backend`.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any, Protocol, runtime_checkable

from tracejit.ir import (  # noqa: F401  (re-exported for backend writers)
    FLOAT,
    INT,
    OPS,
    REF,
    VOID,
    CallDescr,
    Const,
    Effect,
    ExitDescr,
    InputArg,
    LongLayout,
    Op,
    OpDef,
    Trace,
    Writes,
    bits_float,
    float_bits,
)

ENTRY_POINT_GROUP = "tracejit.backends"
TRACE_SIGNATURE = ctypes.PYFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)


class BackendUnavailable(RuntimeError):
    """Raised when a backend cannot run on this machine (missing dependency...)."""


@runtime_checkable
class CompiledTrace(Protocol):
    """What :meth:`Backend.compile` returns."""

    address: int  # non-zero; what bridge slots and jumps refer to

    def run(self, frame: int, buf: int) -> int:
        """Enter the trace; return the number of the exit taken."""
        ...

    # Optional: ``release()`` frees the trace's code memory.  tracejit calls
    # it once the code object the trace belongs to is gone and no thread can
    # be running the trace (possibly more than once for traces compiled in
    # one batch), then drops its references.  Code memory must not be freed
    # by a finalizer (``__del__``) or through weak references: before a full
    # collection tracejit briefly leaves its traces reachable only from
    # themselves (see tracejit.lifetime), which runs finalizers and clears
    # weak references of traces that live on.


class Backend(Protocol):
    """The interface every backend implements."""

    name: str

    def check_available(self) -> None:
        """Raise :class:`BackendUnavailable` with a clear reason if unusable here."""
        ...

    def compile(self, trace: Trace) -> CompiledTrace:
        """Compile ``trace``; jump targets in it are already compiled."""
        ...

    # Optional: ``levels: tuple[str, ...]`` and ``at_level(level) -> Backend``
    # (optimization levels, see the module docstring), ``compile_many(traces)``
    # (one batch whose traces may jump to each other), ``releases_gil`` (its
    # compile releases the GIL for most of the time: worth a helper thread).


class MachineCodeTrace:
    """A compiled trace that is real machine code at ``address``.

    It is called through ``ctypes.PYFUNCTYPE`` so that the GIL stays held.
    ``owner`` keeps whatever owns the code memory alive.
    """

    __slots__ = ("address", "run", "owner", "code_size")

    def __init__(self, address: int, owner: object = None, code_size: int = 0) -> None:
        self.address = address
        self.run = TRACE_SIGNATURE(address)
        self.owner = owner
        self.code_size = code_size


@functools.cache
def c_symbol(name: str) -> int:
    """Address of an exported C function of the process (libpython, libm, libc)."""
    for lib in (ctypes.pythonapi, _libm()):
        try:
            return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value or 0
        except AttributeError:
            continue
    raise LookupError(f"C symbol {name!r} not found in this process")


@functools.cache
def _libm() -> ctypes.CDLL:
    import ctypes.util

    return ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")


def c_function(name: str, restype: Any, *argtypes: Any) -> Any:
    """A private ctypes binding of C function ``name`` that keeps the GIL.

    Never set ``argtypes`` on ``ctypes.pythonapi.X``: that object is shared by
    every module of the process.
    """
    return ctypes.PYFUNCTYPE(restype, *argtypes)(c_symbol(name))


def backend_log(text: str, **fields: Any) -> None:
    """Report something about the backend (a fallback taken, a helper
    restarted) to the JIT log, as a ``backend`` event; nothing when no log is
    on."""
    from tracejit import log as _log

    _log.event("backend", text=text, **fields)
