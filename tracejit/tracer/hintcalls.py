"""Calls of the language implementer's hints while tracing (tracejit.hints).

``jit_merge_point`` and ``can_enter_jit`` record nothing (the dispatch loop's
header is where the tracer looks at the greens: tracer.closing);
``promote(x)`` guards ``x`` and makes it a constant; ``we_are_jitted()`` is
True; an ``@elidable`` function with constant arguments is called once, now,
and its result is a constant.  :func:`refusal` says which hinted functions
are called rather than inlined.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import gcclock
from tracejit.aborts import Abort, TraceAbort
from tracejit.hints import (
    DONT_LOOK_INSIDE,
    ELIDABLE,
    HINT_ATTRIBUTE,
    HINT_FUNCTIONS,
    JitDriver,
    JitHintError,
)
from tracejit.ir import Const
from tracejit.tracer.core import Tracer
from tracejit.values import K_NULL, K_TUPLE, TValue, const_tvalue

NOT_A_HINT: Any = object()


def hint_of(f: types.FunctionType) -> str | None:
    """The hint a function is, or carries as a decorator (None: none)."""
    try:
        name = HINT_FUNCTIONS.get(f)
    except TypeError:
        return None
    if name is not None:
        return name
    return f.__dict__.get(HINT_ATTRIBUTE) if f.__dict__ else None


def is_constant(tv: TValue) -> bool:
    if tv.kind == K_TUPLE:
        return all(is_constant(i) for i in tv.items)
    return tv.kind != K_NULL and isinstance(tv.box, Const)


def record(t: Tracer, f: types.FunctionType, hint: str, args: list[TValue],
           kw: dict[str, TValue]) -> Any:
    """The traced result of calling the hint ``f``; NOT_A_HINT: trace the call
    as any other (an elidable function with non-constant arguments...)."""
    if hint in ("jit_merge_point", "can_enter_jit"):
        driver = args[0].py if args else None
        if not isinstance(driver, JitDriver):
            return NOT_A_HINT
        if hint == "jit_merge_point" and (t.driver is None or t.driver.driver is not driver
                                          or t.in_callee):
            site = driver.site
            code = t.top.code
            if site is not None and code is not site.code:
                raise JitHintError(
                    f"{driver.name}.jit_merge_point() in {code.co_name}() "
                    f"({code.co_filename}): the driver is already used by "
                    f"{site.code.co_name}() at {site.where}; each function needs its own "
                    f"JitDriver")
            raise TraceAbort(Abort.CALL, f"{driver.name}.jit_merge_point() outside its "
                             f"dispatch loop")
        code, offset = t.top.code, t.top.pc
        line = next((ln for start, end, ln in code.co_lines() if start <= offset < end), 0)
        driver._check(kw, hint, f"{code.co_filename}:{line} in {code.co_name}()")
        if hint == "can_enter_jit":
            t.guest_back_jumps += 1
            t.merges_since_back_jump = 0
        return const_tvalue(None)
    if hint == "promote":
        if len(args) != 1 or kw:
            return NOT_A_HINT
        return t.promote(args[0])
    if hint == "we_are_jitted":
        return const_tvalue(True) if not args and not kw else NOT_A_HINT
    if hint == ELIDABLE and all(is_constant(a) for a in args) \
            and all(is_constant(a) for a in kw.values()):
        pos = [a.py for a in args]
        named = {k: v.py for k, v in kw.items()}
        try:
            with gcclock.program_runs():
                result = f(*pos, **named)
        except Exception as e:
            # CPython makes the call again, and raises
            raise TraceAbort(Abort.CALL, f"@elidable {f.__qualname__} raised "
                             f"{type(e).__name__}") from None
        return t.green_value(result)
    return NOT_A_HINT


def refusal(hint: str | None) -> str:
    """Why a hinted function is called, not inlined ("" if it may be inlined)."""
    if hint == DONT_LOOK_INSIDE:
        return "@dont_look_inside"
    if hint == ELIDABLE:
        return "@elidable with arguments that are not constants"
    return ""
