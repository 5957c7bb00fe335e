"""tracejit: a meta-tracing JIT compiler for CPython.

    import tracejit
    tracejit.enable()          # JIT every hot loop of the program

or, for one function only::

    @tracejit.jit
    def kernel(...): ...

Hot loops are traced, optimized and compiled to machine code by a backend
(LLVM by default); whenever an assumption fails, execution continues in
CPython exactly where it would have been.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

from tracejit.hints import (
    JitDriver,
    JitHintError,
    dont_look_inside,
    elidable,
    promote,
    unroll_safe,
    we_are_jitted,
)
from tracejit.params import DEFAULTS, params
from tracejit.params import stats as _stats
from tracejit.registry import available_backends, backend_names, describe

__all__ = ["enable", "disable", "jit", "set_param", "get_param", "stats", "print_stats",
           "reset", "available_backends", "backend_names", "describe_backends", "wait_for_compiler",
           "JitDriver", "JitHintError", "promote", "elidable", "dont_look_inside", "unroll_safe",
           "we_are_jitted"]

F = TypeVar("F", bound=Callable[..., Any])


def enable() -> None:
    """Compile hot loops anywhere in the program from now on."""
    from tracejit import hooks

    hooks.install(everything=True)


def disable() -> None:
    """Stop compiling and entering compiled loops; CPython runs everything."""
    from tracejit import hooks

    hooks.uninstall()


def jit(func: F) -> F:
    """Decorator: compile the hot loops of ``func`` (and its nested code) only."""
    code = getattr(func, "__code__", None)
    if code is None:
        raise TypeError(f"tracejit.jit needs a Python function, not {type(func).__name__}")
    from tracejit import hooks

    hooks.select(code)
    hooks.install(everything=False)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        hooks.select(code)
        hooks.install(everything=False)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def set_param(**kwargs: Any) -> None:
    """Set JIT parameters, e.g. ``set_param(threshold=100, backend="reference")``.

    ``backend=name`` compiles with that backend only; ``tiers="x86_64,llvm"``
    compiles every trace with the first and recompiles the ones that stay
    hot with the next (see :mod:`tracejit.tiers`); ``tiers="auto"`` is the
    default chain.

    Known parameters: %s.
    """
    for name, value in kwargs.items():
        if name not in DEFAULTS:
            raise TypeError(f"unknown tracejit parameter {name!r}; known: {sorted(DEFAULTS)}")
        if name == "backend":
            if not isinstance(value, str) or value not in backend_names():
                raise ValueError(f"unknown backend {value!r}; installed: {backend_names()}")
            params["tiers"] = value  # that backend only (set tiers after it to combine)
        elif name == "tiers":
            from tracejit.tiers import parse_tiers

            parse_tiers(value)  # raises ValueError with the reason
        elif name in ("background_compile", "compiled_exits", "tier_async", "give_back",
                      "virtuals"):
            if value not in (0, 1, True, False):
                raise ValueError(f"{name} must be 0 or 1, not {value!r}")
            value = int(value)
        elif name in ("inject_nth", "inject_guard", "tier_up_ms", "callee_loop_unroll"):
            low = -1 if name == "inject_guard" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"parameter {name} must be an int >= {low}, not {value!r}")
        elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"parameter {name} must be a positive int, not {value!r}")
        params[name] = value
    import sys as _sys

    hooks = _sys.modules.get("tracejit.hooks")
    if hooks is not None:
        hooks._threshold[0] = params["threshold"]


set_param.__doc__ = (set_param.__doc__ or "") % ", ".join(sorted(DEFAULTS))


def get_param(name: str) -> Any:
    return params[name]


def stats() -> dict[str, Any]:
    """Counters and timings: loops traced/compiled, aborts by reason, guard
    failures (in total and per loop), time spent tracing and compiling."""
    return _stats.as_dict()


def print_stats(file: Any = None) -> None:
    """Print a readable summary of what the JIT did so far (to stderr by
    default): the hottest loops by time in machine code with their source
    locations and an estimated speed-up, the guards that failed most, and the
    aborts with their reasons and locations (``python -m tracejit --stats``
    prints the same at exit)."""
    from tracejit.summary import print_stats as _print

    _print(file)


def reset() -> None:
    """Forget every compiled loop, counter and statistic (parameters stay)."""
    from tracejit import hooks, lifetime
    from tracejit import runtime as rt
    from tracejit.params import Stats

    rt.runtime.drain()
    worker = rt.runtime._worker
    lifetime.retire_all(rt.runtime)  # its machine code goes at the next safe point
    rt.runtime.__init__()
    rt.runtime._worker = worker
    hooks._counts.clear()
    from tracejit import log, meta

    meta.forget()  # (dispatch loops register again at their next merge point)
    from tracejit.tracer.calls import forget_learnt_refusals

    forget_learnt_refusals()
    log.recent_aborts.clear()
    import sys

    report = sys.modules.get("tracejit.report")
    if report is not None and report._collector is not None:
        report._collector.traces.clear()  # trace names start again at loop1
    fresh = Stats()
    for k, v in vars(fresh).items():
        setattr(_stats, k, v)
    if hooks._state["active"]:
        import sys

        sys.monitoring.restart_events()


def wait_for_compiler() -> None:
    """Block until background compilations have finished (useful in tests)."""
    from tracejit.runtime import runtime

    runtime.drain()


def describe_backends() -> list[tuple[str, bool, str]]:
    """(name, usable here, reason) for each installed backend."""
    return describe()


if os.environ.get("TRACEJIT_BACKEND"):
    params["backend"] = params["tiers"] = os.environ["TRACEJIT_BACKEND"]
