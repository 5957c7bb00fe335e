"""Handlers for locals, constants and plain stack manipulation."""

from __future__ import annotations

from typing import Any

from tracejit.aborts import Abort, TraceAbort
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import K_REF, NULL_T, TValue, const_tvalue, null_tvalue


@bytecode("RESUME", "NOP", "EXTENDED_ARG", "CACHE")
def nop(t: Tracer, ins: Any) -> None:
    return None


@bytecode("LOAD_FAST", "LOAD_FAST_CHECK", pushes=1)
def load_fast(t: Tracer, ins: Any) -> TValue:
    return t.read_local(ins.arg)


@bytecode("LOAD_FAST_LOAD_FAST", pushes=2)
def load_fast_load_fast(t: Tracer, ins: Any) -> tuple[TValue, TValue]:
    return t.read_local(ins.arg >> 4), t.read_local(ins.arg & 15)


@bytecode("LOAD_FAST_AND_CLEAR", pushes=1)
def load_fast_and_clear(t: Tracer, ins: Any) -> TValue:
    # 3.12/3.13 inlined comprehensions save the loop variable this way
    if t.in_callee:
        raise TraceAbort(Abort.INLINE, "comprehension inside an inlined function")
    saved = t.read_local(ins.arg, allow_null=True)
    t.write_local(ins.arg, null_tvalue())
    return saved


@bytecode("STORE_FAST", pops=1)
def store_fast(t: Tracer, ins: Any, value: TValue) -> None:
    t.write_local(ins.arg, value)


@bytecode("STORE_FAST_STORE_FAST", pops=2)
def store_fast_store_fast(t: Tracer, ins: Any, below: TValue, top: TValue) -> None:
    t.write_local(ins.arg >> 4, top)
    t.write_local(ins.arg & 15, below)


@bytecode("STORE_FAST_LOAD_FAST", pops=1, pushes=1)
def store_fast_load_fast(t: Tracer, ins: Any, value: TValue) -> TValue:
    if ins.arg >> 4 != ins.arg & 15:
        t.read_local(ins.arg & 15)  # any guard it needs, before the store
    t.write_local(ins.arg >> 4, value)
    return t.read_local(ins.arg & 15)


@bytecode("LOAD_CONST", pushes=1)
def load_const(t: Tracer, ins: Any) -> TValue:
    return const_tvalue(ins.argval)


@bytecode("POP_TOP", pops=1)
def pop_top(t: Tracer, ins: Any, value: TValue) -> None:
    return None  # the dispatcher releases it


@bytecode("PUSH_NULL", pushes=1)
def push_null(t: Tracer, ins: Any) -> TValue:
    return NULL_T


@bytecode("COPY", pushes=1)
def copy(t: Tracer, ins: Any) -> TValue:
    tv = t.peek(ins.arg)
    if tv.kind == K_REF and tv.owned:
        raise TraceAbort(Abort.OPERATION, "COPY of an owned reference")
    return tv


@bytecode("SWAP", raw=True)
def swap(t: Tracer, ins: Any) -> None:
    st = t.top.stack
    st[-1], st[-ins.arg] = st[-ins.arg], st[-1]
