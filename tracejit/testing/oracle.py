"""The differential oracle: run a function under plain CPython and under the
JIT, and capture everything a program can observe.

``observe(func, args)`` returns a comparable record of the return value (type
and value; floats bit for bit, so -0.0 and 0.0 differ), printed output, the
exception raised (type, message and the function and line that raised it),
the final contents of the arguments (lists mutated in place show) and how the
reference count of every list and tuple handed in changed.  Two runs behave
identically exactly when their records are equal.
"""

from __future__ import annotations

import contextlib
import io
import math
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

import tracejit


def canon(value: Any) -> Any:
    """A comparable form that distinguishes types, -0.0 and nan."""
    t = type(value)
    if t is float:
        return ("float", struct.pack("<d", value) if not math.isnan(value) else "nan")
    if t in (list, tuple):
        return (t.__name__, [canon(v) for v in value])
    if t is dict:
        return ("dict", sorted((canon(k), canon(v)) for k, v in value.items()))
    if t.__repr__ is object.__repr__:
        return (t.__name__, "<object>")  # the default repr shows an address
    return (t.__name__, repr(value))


def _containers(value: Any, out: list[Any]) -> list[Any]:
    if isinstance(value, (list, tuple)):
        out.append(value)
        for v in value:
            _containers(v, out)
    return out


def observe(func: Callable[..., Any], args: tuple | list,
            around: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
            ) -> dict[str, Any]:
    """Call ``func(*args)`` and record what it did (see the module doc).

    ``around()`` is entered just for the call (not for the recording)."""
    out = io.StringIO()
    watched = _containers(args, [])
    before = [sys.getrefcount(o) for o in watched]
    with contextlib.redirect_stdout(out):
        try:
            with around():
                value = func(*args)
            result: tuple = ("return", canon(value))
            del value
        except Exception as e:  # the exception is part of the observable behaviour
            tb = e.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = (tb.tb_frame.f_code.co_name, tb.tb_lineno) if tb else (None, None)
            result = ("raise", type(e).__name__, str(e), *where)
            del tb, e
    after = [sys.getrefcount(o) for o in watched]
    return {"result": result, "stdout": out.getvalue(), "args": canon(args),
            "refcount_deltas": [a - b for a, b in zip(after, before)]}


@contextlib.contextmanager
def jit_enabled(backend: str, **params: Any) -> Iterator[None]:
    """Fresh JIT state, ``backend`` and eager thresholds; enabled inside."""
    settings = {"threshold": 3, "bridge_threshold": 3, "background_compile": 0}
    settings.update(params)
    # backend first: setting it resets tiers, restored after it
    saved = {k: tracejit.get_param(k) for k in ["backend", "tiers", *settings]}
    tracejit.reset()
    tracejit.set_param(backend=backend, **settings)
    tracejit.enable()
    try:
        yield
    finally:
        tracejit.disable()
        tracejit.set_param(**saved)


def observe_jit(func: Callable[..., Any], args: tuple | list, backend: str,
                **params: Any) -> dict[str, Any]:
    """:func:`observe` with the JIT enabled (``params`` as for ``set_param``)."""
    return observe(func, args, lambda: jit_enabled(backend, **params))


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Human-readable differences between two :func:`observe` records."""
    return [f"{key}: expected {expected[key]!r}, got {got[key]!r}"
            for key in expected if expected[key] != got.get(key)]
