"""Handlers for control flow: jumps, conditional branches and returns.

A conditional branch records a guard on the direction it took; a return
from an inlined callee pops its frame and pushes the result in the caller.
"""

from __future__ import annotations

from typing import Any

from tracejit.aborts import Abort, TraceAbort
from tracejit.hints import UNROLL_SAFE
from tracejit.params import params
from tracejit.tracer.compare import truth
from tracejit.tracer.core import Tracer
from tracejit.tracer.hintcalls import hint_of
from tracejit.tracer.table import bytecode
from tracejit.values import K_REF, TValue, const_tvalue


@bytecode("JUMP_FORWARD")
def jump_forward(t: Tracer, ins: Any) -> None:
    t.jump(ins.argval)


# iterations of an @unroll_safe function's loop unrolled before it is called
UNROLL_SAFE_ITERATIONS = 1000


@bytecode("JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT")
def jump_backward(t: Tracer, ins: Any) -> None:
    """In the loop's own frame the trace closes at the header (core); in an
    inlined callee its loop is unrolled, up to ``callee_loop_unroll``
    iterations: a callee whose loop runs longer is called from then on."""
    if t.in_callee:
        frame = t.top
        frame.back_jumps += 1
        if frame.back_jumps == 1 and all(c is not frame.code for c in t.unrolled):
            t.unrolled.append(frame.code)
        limit = params["callee_loop_unroll"]
        if frame.func is not None and hint_of(frame.func) == UNROLL_SAFE:
            limit = UNROLL_SAFE_ITERATIONS  # (the trace's length bounds it too)
        if frame.back_jumps > limit:
            from tracejit.tracer.calls import refuse_inlining

            refuse_inlining(frame.code, f"its loop ran more than "
                            f"{params['callee_loop_unroll']} iterations when traced")
            raise TraceAbort(Abort.INLINE, "a loop in an inlined function runs long: "
                             "called, not inlined, from now on")
    t.jump(ins.argval)


def _branch(t: Tracer, ins: Any, value: TValue, jump_if: bool) -> None:
    b = truth(t, value)
    t.guard_true(b.box, bool(b.py))
    if bool(b.py) == jump_if:
        t.jump(ins.argval)


@bytecode("POP_JUMP_IF_FALSE", pops=1)
def pop_jump_if_false(t: Tracer, ins: Any, value: TValue) -> None:
    _branch(t, ins, value, False)


@bytecode("POP_JUMP_IF_TRUE", pops=1)
def pop_jump_if_true(t: Tracer, ins: Any, value: TValue) -> None:
    _branch(t, ins, value, True)


@bytecode("POP_JUMP_IF_NONE", pops=1)
def pop_jump_if_none(t: Tracer, ins: Any, value: TValue) -> None:
    # every traced value has a guarded class, so None-ness is known
    if value.py is None:
        t.jump(ins.argval)


@bytecode("POP_JUMP_IF_NOT_NONE", pops=1)
def pop_jump_if_not_none(t: Tracer, ins: Any, value: TValue) -> None:
    if value.py is not None:
        t.jump(ins.argval)


@bytecode("RETURN_CONST", raw=True)
def return_const(t: Tracer, ins: Any) -> None:
    _return(t, const_tvalue(ins.argval))


@bytecode("RETURN_VALUE", raw=True)
def return_value(t: Tracer, ins: Any) -> None:
    _return(t, t.pop() if t.in_callee else None)


def _return(t: Tracer, value: TValue | None) -> None:
    from tracejit.tracer.closing import finish
    from tracejit.tracer.dunders import check_result

    if not t.in_callee:
        t.done = finish(t, "return from the traced function")
        return
    callee = t.frames.pop()
    for v in callee.stack:
        t.drop(v)
    for ref in callee.owned_refs:  # the callee's frame goes away
        if value is not None and value.kind == K_REF and value.box is ref and not value.owned:
            value = TValue(K_REF, ref, value.py, owned=True)  # the result takes it over
        else:
            t.release_local(callee, ref)
    if callee.operator_method:
        check_result(value)
    if callee.constructed is not None:  # the __init__ of a class call
        if value is None or value.kind != K_REF or value.py is not None:
            raise TraceAbort(Abort.INLINE, "__init__ returned a value")
        value = callee.constructed
    caller = t.top
    caller.stack_before_call = None
    caller.next_pc = callee.return_to
    if callee.setter:
        t.drop(value)  # STORE_ATTR pushes nothing
        return
    t.push(value)
