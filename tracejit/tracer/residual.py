"""Residual calls: a callable the tracer does not trace into is called from
the trace, as CPython's ``CALL`` would call it.

A Python function that cannot be inlined (loops too long to unroll,
bytecodes the tracer does not know, generators...), a builtin without a
recorder, a method of a builtin type, any callable object: the trace boxes
the arguments, calls ``PyObject_Call*`` and carries on with the result.
The tracer makes the same call for real at trace time, once.

What the call may do shapes what follows it:

* It may raise.  The trace takes the exception (``PyErr_GetRaisedException``)
  and a guard exits if there was one.  The exit puts the frame back *at* the
  ``CALL`` with the callable replaced by a C function that raises that very
  exception (:data:`RAISE_ONE`, or :data:`RAISE_MANY` for calls with
  arguments) and the exception as its first argument: CPython executes the
  ``CALL``, the exception comes out of it with its own traceback, and the
  frame's handlers, traceback entry and line events are CPython's own.
  An exception at trace time ends tracing the same way.
* It may change anything: globals, classes, the fields of any object.  The
  next bytecode first guards the result's class, then checks again every
  assumption the trace makes (``Tracer.recheck_points``, expanded when the
  trace closes), with a snapshot *after* the call, so that an exit never
  redoes it.  The optimizer does not carry class guards across it
  (``CallDescr.calls_program``).  At trace time, an assumption the call
  broke ends tracing after the call.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import sys
from typing import Any

from tracejit import cpython as cp
from tracejit import gcclock, helpers
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, ExitDescr, Op, Value, const_int, const_ref
from tracejit.tracer.core import Tracer
from tracejit.values import ABSENT, K_REF, FieldAssumption, TValue, const_tvalue

# C functions that raise the exception they get as first argument, adding no
# frame of their own: codecs' "strict" error handler raises its argument, and
# max() calls its key on the first argument before anything else
RAISE_ONE = codecs.lookup_error("strict")
RAISE_MANY = functools.partial(max, key=RAISE_ONE)


def residual_call(t: Tracer, ins: Any, func: TValue, args: list[TValue], base: int,
                  end: int, return_to: int, kwnames: tuple = ()) -> None:
    """Record the call of ``func(*args)`` whose operands are the top frame's
    stack entries ``base:end`` (callable, self or NULL, arguments; the last
    ``len(kwnames)`` arguments by keyword)."""
    if t.in_constructor():
        raise TraceAbort(Abort.CALL, "a residual call inside the __init__ of a class call")
    if func.is_virtual() or any(a.kind == K_REF and a.box is None for a in args):
        raise TraceAbort(Abort.VIRTUAL, "a virtual range passed to a residual call")
    t.own_stack()  # what the callee frees must not be what the trace holds
    frame = t.top
    st = frame.stack
    consumed = st[base:end]
    # (box, whether it is a new box of a number): the references the stack
    # holds are released with the stack, new boxes once the call is done
    boxed = [(box, owned and a.kind != K_REF) for a in args for box, owned in [t.box(a)]]
    f = func.box
    npos = len(args) - len(kwnames)
    if kwnames:
        res = _call_with_keywords(t, f, boxed, npos, kwnames)
        boxed = []
    elif len(args) == 0:
        res = t.emit("call_r", [f], helpers.call_no_args())
    elif len(args) == 1:
        res = t.emit("call_r", [f, boxed[0][0]], helpers.call_one_arg())
    else:
        tup = _args_tuple(t, boxed)
        res = t.emit("call_r", [f, tup, CONST_NULL], helpers.call_object())
        t.emit("decref", [tup])
        boxed = []
    exc = t.emit("call_r", [], helpers.fetch_exception())
    t.rec.guard_raised(exc, raising_snapshot(t, ins, base, exc))
    concrete = [a.concrete() for a in args]
    limit = sys.getrecursionlimit()
    # the callee gets the room it would have in CPython, called from the
    # frame being traced (the tracer's own frames do not count)
    sys.setrecursionlimit(t.program_limit + frames_above(t.real_frame) - (len(t.frames) - 1))
    try:
        with gcclock.program_runs():
            if kwnames:
                py = func.concrete()(*concrete[:npos], **dict(zip(kwnames, concrete[npos:])))
            else:
                py = func.concrete()(*concrete)
    except BaseException as e:  # the program's own exception: CPython raises it
        e = e.with_traceback(e.__traceback__.tb_next if e.__traceback__ else None)
        raise_at_call(t, ins, base, e)
    finally:
        sys.setrecursionlimit(limit)
    for box, new_box in boxed:
        if new_box:
            t.emit("decref", [box])
    result = TValue(K_REF, res, py, owned=True)
    del st[base:end]
    t.release_consumed(consumed, (result,))
    t.push(result)
    frame.next_pc = return_to
    t.after_call = result


def _args_tuple(t: Tracer, boxed: list[tuple[Value, bool]]) -> Value:
    """A new tuple of the boxed arguments (it takes over the new boxes)."""
    tup = t.emit("call_r", [const_int(len(boxed))], helpers.new_tuple())
    t.emit("guard_nonnull", [tup])  # out of memory: CPython redoes the CALL
    for k, (box, new_box) in enumerate(boxed):  # the tuple takes a reference
        if not new_box:
            t.emit("incref", [box])
        t.emit("setfield_r", [tup, box], cp.TUPLE_ITEMS + 8 * k)
    return tup


def _call_with_keywords(t: Tracer, f: Value, boxed: list[tuple[Value, bool]], npos: int,
                        kwnames: tuple) -> Value:
    """``PyObject_Vectorcall`` with the call's keyword names, as CPython's
    ``CALL`` does; the arguments are the items of a tuple made for it."""
    tup = _args_tuple(t, boxed)
    t.keepalive.append(kwnames)
    items = t.emit("int_add", [t.emit("ref_address", [tup]), const_int(cp.TUPLE_ITEMS)])
    res = t.emit("call_r", [f, items, const_int(npos), const_ref(kwnames)],
                 helpers.vectorcall())
    t.emit("decref", [tup])
    return res


def frames_above(frame: Any) -> int:
    """How many frames the caller of this function is above ``frame``."""
    n = 0
    f = sys._getframe(1)
    while f is not None and f is not frame:
        n += 1
        f = f.f_back
    return n


def raising_snapshot(t: Tracer, ins: Any, base: int, exc: Value) -> Any:
    """The state in which CPython raises ``exc`` at this ``CALL``: the frame
    at the call with the callable replaced by a raiser, ``exc`` as its first
    argument."""
    snap = t.snapshot()
    fs = snap.innermost
    nargs = len(fs.stack) - base - 2 - (1 if ins.opname == "CALL_KW" else 0)
    raiser = RAISE_MANY if nargs > 0 else RAISE_ONE
    callable_, first = fs.stack[base], fs.stack[base + 1]
    fs.release = list(fs.release) + [v for v in (callable_, first)
                                     if v.kind == K_REF and v.owned]
    fs.stack = list(fs.stack)
    fs.stack[base] = const_tvalue(raiser)
    fs.stack[base + 1] = TValue(K_REF, exc, None, owned=True)
    if ins.opname == "CALL_KW":  # (3.13) the arguments all positional
        fs.stack[-1] = const_tvalue(())
    fs.offset = ins.offset  # (3.12: at the CALL after KW_NAMES: no names)
    snap.raising = True
    return snap


def raise_at_call(t: Tracer, ins: Any, base: int, exc: BaseException) -> None:
    """The call raised at trace time: tracing ends with the frame at the
    call, set to raise ``exc`` when CPython executes it."""
    st = t.top.stack
    stack = [v.frozen() for v in st]
    nargs = len(stack) - base - 2
    if ins.opname == "CALL_KW":
        nargs -= 1
        stack[-1] = const_tvalue(())
    stack[base] = const_tvalue(RAISE_MANY if nargs > 0 else RAISE_ONE)
    stack[base + 1] = const_tvalue(exc)
    e = TraceAbort(Abort.RAISES, f"the call raises {type(exc).__name__}")
    e.resume_at = (ins.offset, stack)
    raise e


def finish_call(t: Tracer) -> None:
    """Before the bytecode after a residual call: guard the result's class,
    mark where the trace's assumptions are checked again, and end tracing if
    the call broke one of them (it did so at trace time)."""
    result = t.after_call
    t.after_call = None
    t.unguarded = result  # (its class is not known: a bridge from here guards it)
    t.rec.begin_bytecode("<after a call>", (t.top.code, t.top.pc))
    t.recheck_points.append((len(t.rec.ops), t.snapshot()))
    broken = broken_assumption(t)
    if broken:
        raise TraceAbort(Abort.UNSTABLE, f"a call changed {broken}, which the trace relies on")
    st = t.top.stack
    k = next(i for i in range(len(st) - 1, -1, -1) if st[i] is result)
    py = result.py
    unboxed = t.unbox(result.box, py)
    t.unguarded = None
    if unboxed.kind == K_REF and unboxed.box is result.box:
        return  # an object: the stack keeps the reference
    unboxed.ref = None  # the object goes now
    t.emit("decref", [result.box])
    result.owned = False
    st[k] = unboxed


def broken_assumption(t: Tracer) -> str:
    """What the trace assumed that is no longer so ("" if nothing)."""
    for a in t.assumptions.items:
        if isinstance(a, FieldAssumption):
            now = ctypes.c_void_p.from_address(id(a.obj) + a.offset).value or 0
            if now != (0 if a.value is None else id(a.value)):
                return f"a field of {type(a.obj).__name__} {getattr(a.obj, '__name__', '')}"
        elif a.namespace.get(a.key, ABSENT) is not a.value:
            return f"the global {a.key!r}"
    return ""


def expand_rechecks(t: Tracer, closure: list) -> None:
    """Insert the assumption checks after each residual call (now that the
    trace's assumptions and those of its target are all known)."""
    if not t.recheck_points or not closure:
        return
    ops = t.rec.ops
    for index, snapshot in reversed(t.recheck_points):
        ops[index:index] = assumption_checks(t, closure, snapshot)


def assumption_checks(t: Tracer, closure: list, snapshot: Any) -> list[Op]:
    """The ops that check ``closure``, their guards exiting with ``snapshot``."""
    from tracejit.entry import check_assumptions

    new: list[Op] = []

    def emit(name: str, args: list, descr: Any = None) -> Op:
        op = Op(name, args, descr)
        new.append(op)
        return op

    def guard(name: str, args: list) -> None:
        op = emit(name, args)
        op.snapshot = snapshot
        op.exit = ExitDescr()
        t.rec.guards.append(op)

    check_assumptions(closure, guard, emit)
    return new
