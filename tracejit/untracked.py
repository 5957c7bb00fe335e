"""Keeping the JIT's own bookkeeping out of the cycle collector's view.

A program can count the objects the collector tracks (``len(gc.get_objects())``,
as CPython's test_descr does around a loop): a loop getting hot must not add
to that count.  Objects that can never be part of a reference cycle (they
refer only to code objects, numbers, strings, weak references and other such
objects) need not be tracked, so the JIT's caches and the records of loops
without compiled code are untracked once made.  Tracking them again
(:func:`track`) is needed as soon as they may refer to a program's objects:
:mod:`tracejit.lifetime` does it when a record gets its first trace.

Module-level tables (``runtime.loops``...) are untracked too: the collector
untracks an empty dict and tracks it again when an object goes in, which
would count as a new object.  Untracking a table that is always reachable
hides nothing: whatever it refers to is reachable anyway.
"""

from __future__ import annotations

import ctypes
import gc
from typing import Any

from tracejit.backend import c_function

_untrack = c_function("PyObject_GC_UnTrack", None, ctypes.py_object)
_track = c_function("PyObject_GC_Track", None, ctypes.py_object)


def untrack(*objs: Any) -> None:
    """Stop the collector tracking ``objs`` (acyclic JIT data only)."""
    for obj in objs:
        if gc.is_tracked(obj):
            _untrack(obj)


def track(*objs: Any) -> None:
    """Let the collector track ``objs`` again (if they are of a GC type)."""
    for obj in objs:
        if not gc.is_tracked(obj) and type(obj).__flags__ & _HAVE_GC:
            _track(obj)


_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC
