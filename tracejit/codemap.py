"""Caches keyed by code object that never keep a code object alive.

Code objects compare by value (two equal functions compiled twice are
``==``) and ``hash(code)`` is not cached, so JIT caches key them by
``id(code)``.  A plain ``{id(code): ...}`` that also stores the code (to tell
a reused address from the original) keeps every code object ever seen alive;
:class:`CodeMap` holds it by a weak reference instead and forgets the entry
when the code object dies.

An entry is one weak reference object carrying the value, untracked by the
collector (:mod:`tracejit.untracked`), and so are tuple and list values: a
loop getting hot adds nothing a program could count.  Values must be
acyclic JIT data that does not refer to its code object.
"""

from __future__ import annotations

import types
import weakref
from typing import Any

from tracejit.untracked import untrack


class _Entry(weakref.ref):
    __slots__ = ("key", "value")


class CodeMap:
    """``{code: value}`` by identity, weak in the code object."""

    __slots__ = ("_entries", "_forget", "__weakref__")

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        entries = self._entries

        def forget(entry: _Entry) -> None:
            # runs inside whatever the program is doing when a code object
            # dies: no calls a profiler would count, only operators
            key = entry.key
            if key in entries and entries[key] is entry:
                del entries[key]

        self._forget = forget

    def get(self, code: types.CodeType, default: Any = None) -> Any:
        entry = self._entries.get(id(code))
        if entry is None or entry() is not code:
            return default
        return entry.value

    def __contains__(self, code: types.CodeType) -> bool:
        entry = self._entries.get(id(code))
        return entry is not None and entry() is code

    def __setitem__(self, code: types.CodeType, value: Any) -> None:
        entry = _Entry(code, self._forget)
        entry.key = id(code)
        entry.value = value
        if isinstance(value, (tuple, list)):
            untrack(value)
        untrack(entry)
        self._entries[entry.key] = entry
        untrack(self._entries)  # a root table: nothing is hidden from the collector

    def pop(self, code: types.CodeType, default: Any = None) -> Any:
        entry = self._entries.get(id(code))
        if entry is None or entry() is not code:
            return default
        del self._entries[entry.key]
        return entry.value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def codes(self) -> list[types.CodeType]:
        """The live code objects in the map."""
        return [c for e in list(self._entries.values()) if (c := e()) is not None]
