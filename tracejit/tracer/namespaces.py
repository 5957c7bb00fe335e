"""Handlers for names: globals, builtins, attributes of modules (instances'
attributes are in :mod:`tracejit.tracer.attributes`).

A global's value is a constant of the trace: the lookup is recorded as an
assumption (the runtime re-checks it when entering compiled code), and a
global that is not bound is assumed to stay unbound.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import Const
from tracejit.tracer.attributes import (
    load_class_attr,
    load_instance_attr,
    load_super_attr,
    store_instance_attr,
)
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import ABSENT, K_REF, NULL_T, TValue, const_tvalue


def _method_style(ins: Any) -> int:
    return 1 + (ins.arg & 1)


@bytecode("LOAD_GLOBAL", pushes=_method_style)
def load_global(t: Tracer, ins: Any) -> tuple[TValue, ...]:
    name = t.top.code.co_names[ins.arg >> 1]
    g = t.globals()
    value = t.assumptions.lookup(g, name)
    if value is ABSENT:
        builtins = t.builtins()
        if builtins is None:
            raise TraceAbort(Abort.GLOBAL, "no builtins")
        t.assumptions.assume_absent(g, name)
        value = t.assumptions.lookup(builtins, name)
        if value is ABSENT:
            raise TraceAbort(Abort.GLOBAL, f"global {name!r} not found")
    t.keepalive.append(value)
    tv = const_tvalue(value)
    return cp.with_null(tv, NULL_T) if ins.arg & 1 else (tv,)


@bytecode("LOAD_ATTR", pops=1, pushes=_method_style)
def load_attr(t: Tracer, ins: Any, owner: TValue) -> tuple[TValue, ...]:
    name = t.top.code.co_names[ins.arg >> 1]
    if owner.kind == K_REF and isinstance(owner.box, Const) and isinstance(owner.py, type):
        return load_class_attr(t, ins, owner, name)
    if owner.kind != K_REF or not isinstance(owner.box, Const) or \
            type(owner.py) is not types.ModuleType:
        return load_instance_attr(t, ins, owner, name)
    value = t.assumptions.lookup(owner.py.__dict__, name)
    if value is ABSENT:
        raise TraceAbort(Abort.ATTRIBUTE, "missing module attribute")
    t.keepalive.append(value)
    tv = const_tvalue(value)
    # method-style load on a module: [NULL, attr] (3.12) / [attr, NULL] (3.13)
    return cp.with_null(tv, NULL_T) if ins.arg & 1 else (tv,)


@bytecode("LOAD_SUPER_ATTR", pops=3, pushes=_method_style)
def super_attr(t: Tracer, ins: Any, sup: TValue, cls: TValue, owner: TValue
               ) -> tuple[TValue, ...]:
    return load_super_attr(t, ins, sup, cls, owner)


@bytecode("STORE_ATTR", pops=2)
def store_attr(t: Tracer, ins: Any, value: TValue, owner: TValue) -> Any:
    # (INLINED for a property's setter)
    return store_instance_attr(t, ins, value, owner, t.top.code.co_names[ins.arg])
