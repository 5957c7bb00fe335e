"""The hints a language implementer puts into an interpreter written in Python.

    driver = tracejit.JitDriver(greens=["pc", "program"], reds="auto")

    def run(program):
        pc = 0
        ...
        while pc < len(program):
            driver.jit_merge_point(pc=pc, program=program, tape=tape)
            ...
            if jumping_back:
                pc = target
                driver.can_enter_jit(pc=pc, program=program, tape=tape)

With the JIT off, every hint is close to a no-op (a method call that checks
the variable names).  With it on, :mod:`tracejit.meta` registers the
interpreter's dispatch loop on the first ``jit_merge_point`` and the hooks
enter or trace it per green values; while tracing, the tracer reads the hints
(:mod:`tracejit.tracer.hintcalls`): the greens are constants of the trace,
``promote`` guards, ``elidable`` calls fold, and so on.

Misuse raises :class:`JitHintError` naming the variable and the call site.
"""

from __future__ import annotations

import keyword
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# the attribute the tracer looks for on functions (see tracer.hintcalls)
HINT_ATTRIBUTE = "_tracejit_hint"
ELIDABLE = "elidable"
DONT_LOOK_INSIDE = "dont_look_inside"
UNROLL_SAFE = "unroll_safe"

# the module tracejit.meta while the JIT is on (hooks.install / uninstall)
_jit_on: list[Any] = [None]


# calls of a driver's hints whose variable names are checked
CHECKED_CALLS = 256


class JitHintError(TypeError):
    """A hint used in a way the JIT cannot honour (names the variable and
    the call site)."""


def _call_site(depth: int = 2) -> str:
    frame = sys._getframe(depth)
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}()"


def _names(what: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise JitHintError(f"JitDriver {what} must be a list of variable names, not {value!r}")
    names = tuple(value)
    for n in names:
        if not isinstance(n, str) or not n.isidentifier() or keyword.iskeyword(n):
            raise JitHintError(f"JitDriver {what}: {n!r} is not a variable name")
    if len(set(names)) != len(names):
        raise JitHintError(f"JitDriver {what} name a variable twice: {list(names)}")
    return names


class JitDriver:
    """One interpreter dispatch loop: ``greens`` are the variables that say
    where the interpreted program is (its position, its code), ``reds`` the
    rest of the loop's state ("auto": whatever else is passed)."""

    def __init__(self, *, greens: Iterable[str], reds: Iterable[str] | str = "auto",
                 get_printable_location: Callable[..., str] | None = None,
                 name: str | None = None) -> None:
        self.greens = _names("greens", greens)
        if not self.greens:
            raise JitHintError("JitDriver needs at least one green variable (the "
                               "interpreted program's position)")
        if reds == "auto":
            self.reds: tuple[str, ...] | None = None
        else:
            self.reds = _names("reds", reds)
            both = set(self.greens) & set(self.reds)
            if both:
                raise JitHintError(f"JitDriver: {sorted(both)} cannot be both green and red")
        if get_printable_location is not None and not callable(get_printable_location):
            raise JitHintError("get_printable_location must be a function of the greens")
        self.get_printable_location = get_printable_location
        self.name = name or "jitdriver"
        # the names passed are checked on the first calls (they are the same
        # at every later call of a call site; the tracer sees each site too)
        self._checks_left = CHECKED_CALLS
        self._green_set = frozenset(self.greens)
        self._all = None if self.reds is None else frozenset(self.greens + self.reds)
        # set by tracejit.meta on the first merge point with the JIT on
        self.site: Any = None
        self.entered = False  # can_enter_jit was called (see meta.count)
        # the merge point calls tracejit.meta: until it is registered, and as
        # long as it counts (no can_enter_jit seen)
        self.watching = True
        self.counts: dict[tuple, int] = {}

    def __repr__(self) -> str:
        return f"<JitDriver {self.name} greens={list(self.greens)}>"

    def _check(self, variables: dict[str, Any], hint: str, where: str = "") -> None:
        keys = variables.keys()
        if self._all is None:
            if keys >= self._green_set:
                return
            missing = sorted(self._green_set - keys)
            raise JitHintError(f"{self.name}.{hint}() at {where or _call_site(3)}: green variable "
                               f"{missing[0]!r} is missing (greens: {list(self.greens)})")
        if keys == self._all:
            return
        missing = sorted(self._all - keys)
        extra = sorted(keys - self._all)
        if missing:
            raise JitHintError(f"{self.name}.{hint}() at {where or _call_site(3)}: variable "
                               f"{missing[0]!r} is missing (greens: {list(self.greens)}, "
                               f"reds: {list(self.reds or ())})")
        raise JitHintError(f"{self.name}.{hint}() at {where or _call_site(3)}: {extra[0]!r} is "
                           f"neither a green nor a red of this driver (greens: "
                           f"{list(self.greens)}, reds: {list(self.reds or ())})")

    def jit_merge_point(self, **variables: Any) -> None:
        """The top of the dispatch loop: where traces of the interpreted
        program's loops start and close."""
        if self._checks_left:
            self._checks_left -= 1
            self._check(variables, "jit_merge_point")
        if _jit_on[0] is not None and self.watching:
            _jit_on[0].merge_point(self, variables, sys._getframe(1))

    def can_enter_jit(self, **variables: Any) -> None:
        """Where the interpreted program jumps backward: counts its loop (by
        the greens) and, once hot, lets the next merge point with these
        greens trace or enter compiled code."""
        if self._checks_left:
            self._checks_left -= 1
            self._check(variables, "can_enter_jit")
        if _jit_on[0] is not None:
            _jit_on[0].count(self, variables, sys._getframe(1))

    def printable_location(self, greens: tuple) -> str:
        """``get_printable_location(*greens)``, or the greens themselves."""
        if self.get_printable_location is None:
            return ", ".join(f"{n}={_short(v)}" for n, v in zip(self.greens, greens))
        try:
            return str(self.get_printable_location(*greens))
        except Exception as e:  # a broken printer must not break the program
            return f"<get_printable_location failed: {type(e).__name__}: {e}>"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def promote(value: Any) -> Any:
    """Returns ``value``; in a trace, guards it and makes it a constant."""
    return value


def we_are_jitted() -> bool:
    """False in the interpreter; True while the code runs as a trace (both
    branches must compute the same thing)."""
    return False


def _mark(kind: str, func: F) -> F:
    if not isinstance(func, types.FunctionType):
        raise JitHintError(f"@{kind} applies to Python functions, not {type(func).__name__}")
    setattr(func, HINT_ATTRIBUTE, kind)
    return func


def elidable(func: F) -> F:
    """A pure function: same arguments, same result, no side effects.  With
    constant arguments the tracer calls it once and uses its result."""
    return _mark(ELIDABLE, func)


def dont_look_inside(func: F) -> F:
    """Never traced into: a trace calls it."""
    return _mark(DONT_LOOK_INSIDE, func)


def unroll_safe(func: F) -> F:
    """A function whose loops the tracer may unroll (they run a few times
    per call)."""
    return _mark(UNROLL_SAFE, func)


HINT_FUNCTIONS = {JitDriver.jit_merge_point: "jit_merge_point",
                  JitDriver.can_enter_jit: "can_enter_jit",
                  promote: "promote", we_are_jitted: "we_are_jitted"}
