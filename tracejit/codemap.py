"""Caches keyed by code object that never keep a code object alive.

Code objects compare by value (two equal functions compiled twice are
``==``) and ``hash(code)`` is not cached, so JIT caches key them by
``id(code)``.  A plain ``{id(code): ...}`` that also stores the code (to tell
a reused address from the original) keeps every code object ever seen alive;
:class:`CodeMap` holds it by a weak reference instead and forgets the entry
when the code object dies.  Values must not refer to their code object.
"""

from __future__ import annotations

import types
import weakref
from typing import Any


class CodeMap:
    """``{code: value}`` by identity, weak in the code object."""

    __slots__ = ("_entries", "__weakref__")

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, Any]] = {}

    def get(self, code: types.CodeType, default: Any = None) -> Any:
        hit = self._entries.get(id(code))
        if hit is None or hit[0]() is not code:
            return default
        return hit[1]

    def __contains__(self, code: types.CodeType) -> bool:
        hit = self._entries.get(id(code))
        return hit is not None and hit[0]() is code

    def __setitem__(self, code: types.CodeType, value: Any) -> None:
        key = id(code)
        entries = weakref.ref(self)

        def forget(ref: weakref.ref, key: int = key) -> None:
            owner = entries()
            if owner is not None:
                hit = owner._entries.get(key)
                if hit is not None and hit[0] is ref:
                    del owner._entries[key]

        self._entries[key] = (weakref.ref(code, forget), value)

    def pop(self, code: types.CodeType, default: Any = None) -> Any:
        hit = self._entries.get(id(code))
        if hit is None or hit[0]() is not code:
            return default
        del self._entries[id(code)]
        return hit[1]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def codes(self) -> list[types.CodeType]:
        """The live code objects in the map."""
        return [c for ref, _ in list(self._entries.values()) if (c := ref()) is not None]
