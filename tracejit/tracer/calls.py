"""Handlers for calls: ``CALL`` (with 3.12's ``KW_NAMES`` and 3.13's
``CALL_KW``), inlining of Python functions, and which callees may be inlined.

A Python callee is traced as a new frame on the tracer's frame stack.
Builtins are recorded by their entries in :mod:`tracejit.tracer.builtins`.
"""

from __future__ import annotations

import types
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers, objects
from tracejit.aborts import Abort, TraceAbort
from tracejit.codemap import CodeMap
from tracejit.hints import UNROLL_SAFE
from tracejit.ir import CONST_NULL, Const, const_ref
from tracejit.params import params
from tracejit.tracer import hintcalls, residual, virtuals
from tracejit.tracer.builtins import call_builtin
from tracejit.tracer.core import Tracer, needs_reference
from tracejit.tracer.folding import fold_call
from tracejit.tracer.frame import Frame
from tracejit.tracer.table import BYTECODES, bytecode
from tracejit.values import K_NULL, K_REF, K_TUPLE, K_VIRTUAL, TValue, const_tvalue, virtual_tvalue


@bytecode("KW_NAMES", raw=True)
def kw_names(t: Tracer, ins: Any) -> None:
    # 3.12: KW_NAMES leaves the names in a C variable of the eval loop that
    # the next CALL consumes, so the pair is one instruction for us: every
    # guard and abort inside the call resumes CPython at the KW_NAMES
    frame = t.top
    t.kwnames = ins.argval if isinstance(ins.argval, tuple) else frame.code.co_consts[ins.arg]
    call_ins = frame.instruction(frame.offset_after(ins.offset))
    if call_ins.opname != "CALL":
        raise TraceAbort(Abort.BYTECODE, "KW_NAMES not followed by CALL")
    call(t, call_ins)


@bytecode("CALL_KW", raw=True)
def call_kw(t: Tracer, ins: Any) -> None:
    # 3.13: the names tuple stays on the stack until the call is made, so
    # that guards inside the call resume CPython at this CALL_KW
    names = t.peek()
    if names.kind != K_TUPLE:
        raise TraceAbort(Abort.CALL, "CALL_KW without constant names")
    t.kwnames = names.py
    call(t, ins, names_on_stack=1)


@bytecode("CALL", raw=True)
def call(t: Tracer, ins: Any, names_on_stack: int = 0) -> None:
    n = ins.arg
    kwnames = t.kwnames
    t.kwnames = ()
    frame = t.top
    st = frame.stack
    top = len(st) - names_on_stack
    args = st[top - n:top]
    func, bound_self = cp.split_callable(st[top - n - 2], st[top - n - 1],
                                         lambda v: v.kind == K_NULL)
    if bound_self is not None:
        args = [bound_self] + args
    nkw = len(kwnames)
    pos_args = args[:len(args) - nkw]
    kw_args = dict(zip(kwnames, args[len(args) - nkw:]))
    return_to = frame.offset_after(ins.offset)
    why = ""
    if func.kind == K_VIRTUAL:
        virtuals.force(t, func)
    if func.kind == K_REF and isinstance(func.box, Const):
        f = func.py
        if isinstance(f, types.FunctionType):
            hint = hintcalls.hint_of(f)
            if hint is not None:
                virtuals.force_all(t, args)
                res = hintcalls.record(t, f, hint, pos_args, kw_args)
                if res is not hintcalls.NOT_A_HINT:
                    _replace_call(t, top - n - 2, res, return_to)
                    return
            why = hintcalls.refusal(hint)
            why = f"cannot inline {f.__qualname__}: {why}" if why else inline_refusal(t, f)
            if not why:
                inline_call(t, f, pos_args, kw_args, n + names_on_stack + 2, return_to)
                return
        elif isinstance(f, type) and f not in BUILTIN_CLASSES:
            why = construct_refusal(f, pos_args, kw_args)
            if not why:
                construct(t, f, pos_args, kw_args, n + names_on_stack, return_to)
                return
            why = f"call to {f.__qualname__} ({why})"
        else:
            virtuals.force_all(t, args)
            res = fold_call(t, f, pos_args, kw_args)
            if res is None:
                res = call_builtin(t, f, pos_args, kw_args)
            if res is not None:
                _replace_call(t, top - n - 2, res, return_to)
                return
            why = f"call to {getattr(f, '__qualname__', type(f).__name__)}"
    elif func.kind != K_REF:
        raise TraceAbort(Abort.CALL, f"call of a {func.kind}")
    if kwnames and not all(type(k) is str for k in kwnames):
        raise TraceAbort(Abort.CALL, f"{why or 'a residual call'} with unusual keywords")
    virtuals.force_all(t, [func] + args)
    residual.residual_call(t, ins, func, args, top - n - 2, len(st), return_to, kwnames)


def _replace_call(t: Tracer, base: int, res: TValue, return_to: int) -> None:
    """A call recorded without a frame of its own (a builtin's recorder, a
    hint): its result takes the place of the callable and its operands."""
    st = t.top.stack
    consumed = st[base:]
    del st[base:]
    t.release_consumed(consumed, (res,))
    t.push(res)
    t.top.next_pc = return_to


# classes whose calls are builtins' recorders (int(x), float(x), range(...))
BUILTIN_CLASSES = {int, float, bool, list, tuple, range, str, dict, set, type, object}
_OBJECT_NEW = object.__dict__["__new__"]
_OBJECT_INIT = object.__dict__["__init__"]


def construct_refusal(cls: type, args: list[TValue], kw: dict) -> str:
    """Why ``cls(*args, **kw)`` cannot be traced into ("" if it can)."""
    why = objects.why_not(cls) if objects.instance_layout(cls) is None else ""
    if not why and objects.mro_lookup(cls, "__new__") is not _OBJECT_NEW:
        why = "its own __new__"
    if not why and objects.found(objects.mro_lookup(cls, "__del__")):
        # (the object the tracer makes to run the call would be finalized
        # if the trace aborts, where CPython makes it anew)
        why = "a __del__"
    init = objects.mro_lookup(cls, "__init__")
    if not why and init is not _OBJECT_INIT and not isinstance(init, types.FunctionType):
        why = f"__init__ is a {type(init).__name__}"
    if not why and init is _OBJECT_INIT and (args or kw):
        why = "arguments to object.__init__"
    if not why and isinstance(init, types.FunctionType):
        why = code_refusal(init.__code__)
    if not why and not objects.type_version(cls):
        why = "no version tag"
    return why


def construct(t: Tracer, cls: type, args: list[TValue], kw: dict, n: int,
              return_to: int) -> None:
    """``cls(*args)`` of a plain class: the new object is made in the trace
    (object.__new__'s C slot) and its ``__init__`` inlined.  While that
    ``__init__`` runs, its stores may only go to objects the trace made, and
    its guards resume before the call (see Tracer.snapshot): CPython then
    makes the object anew.  (:func:`construct_refusal` said it can.)"""
    init = objects.mro_lookup(cls, "__init__")
    if init is not _OBJECT_INIT and len(t.frames) - 1 >= t.inline_depth:
        raise TraceAbort(Abort.INLINE, "inlining too deep (recursion)")
    version = objects.type_version(cls)
    objects.emit_guard_type_version(t.emit, const_ref(cls), version)
    t.keepalive.append(cls)
    if virtuals.eligible(cls):
        # not built until something needs it (tracer.virtuals)
        made = virtuals.new_instance(cls, object.__new__(cls))
        this = virtual_tvalue(made.virt, made.py)
    else:
        r = t.emit("call_r", [const_ref(cls), const_ref(()), CONST_NULL], helpers.object_new())
        t.emit("guard_nonnull", [r])  # MemoryError: CPython redoes the call and raises
        made = TValue(K_REF, r, object.__new__(cls), owned=True)
        this = TValue(K_REF, r, made.py)
    if init is _OBJECT_INIT:
        frame = t.top
        st = frame.stack
        del st[len(st) - n - 2:]
        t.push(made)
        frame.next_pc = return_to
        return
    inline_call(t, init, [this] + args, kw, n + 2, return_to)
    t.top.constructed = made


def inline_call(t: Tracer, f: types.FunctionType, args: list[TValue], kw: dict,
                consumed: int, return_to: int) -> None:
    """Continue tracing in ``f``'s code, on a new frame with bound arguments;
    the call's ``consumed`` stack entries leave the caller's stack."""
    bound = bind_arguments(t, f, args, kw)
    caller = t.top
    # as it is now, ownership included: what a guard in the callee resumes with
    # (virtuals stay live: a snapshot freezes them as they are then)
    caller.stack_before_call = [v if v.kind == K_VIRTUAL else v.frozen() for v in caller.stack]
    del caller.stack[len(caller.stack) - consumed:]
    t.keepalive.append(f)
    callee = Frame.callee(f, bound, return_to)
    callee.effects_at_call = t.rec.effects
    for a in bound:  # the callee's frame takes over references passed to it
        if a is not None and a.kind == K_REF and a.owned:
            a.owned = False
            callee.owned_refs.append(a.box)
            callee.transferred.append(a.box)
        elif a is not None and needs_reference(a) and \
                not any(b is a.box for b in callee.owned_refs) and not t.held_by_outer(a):
            # and holds its own to those it was lent (as CPython's frame does)
            t.emit("incref", [a.box])
            callee.owned_refs.append(a.box)
            callee.lent.append(a.box)
    t.frames.append(callee)


def bind_arguments(t: Tracer, f: types.FunctionType, args: list[TValue], kw: dict
                   ) -> list[TValue | None]:
    """The callee's locals: arguments by position and name, then defaults."""
    code = f.__code__
    nparams = code.co_argcount + code.co_kwonlyargcount
    names = tuple(code._varname_from_oparg(i) for i in range(nparams))
    if len(args) > code.co_argcount:
        raise TraceAbort(Abort.INLINE, "too many positional arguments")
    bound: list[Any] = [None] * cp.nlocalsplus(code)
    for i, a in enumerate(args):
        bound[i] = a
    for k, v in kw.items():
        if k not in names or (names.index(k) < code.co_posonlyargcount):
            raise TraceAbort(Abort.INLINE, "bad keyword argument")
        i = names.index(k)
        if bound[i] is not None:
            raise TraceAbort(Abort.INLINE, "duplicate argument")
        bound[i] = v
    # the trace depends on these fields of the function: a changed __code__,
    # __defaults__ or __kwdefaults__ must not enter it (checked on entry)
    t.assumptions.assume_field(f, cp.FUNC_CODE, code)
    t.assumptions.assume_field(f, cp.FUNC_DEFAULTS, f.__defaults__)
    t.assumptions.assume_field(f, cp.FUNC_KWDEFAULTS, f.__kwdefaults__)
    defaults = f.__defaults__ or ()
    first_default = code.co_argcount - len(defaults)
    for i in range(nparams):
        if bound[i] is not None:
            continue
        if first_default <= i < code.co_argcount:
            value = defaults[i - first_default]
        elif i >= code.co_argcount and f.__kwdefaults__ and names[i] in f.__kwdefaults__:
            value = t.assumptions.lookup(f.__kwdefaults__, names[i])
        else:
            raise TraceAbort(Abort.INLINE, "missing argument")
        bound[i] = const_tvalue(value)
        t.keepalive.append(value)
    return bound


# generators, coroutines, *args, **kwargs, nested functions' closures...
_CO_REFUSED_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200
_refusals = CodeMap()  # code -> why it is not inlined ("" if it is)


def inline_refusal(t: Tracer, f: types.FunctionType) -> str:
    """Why this call of ``f`` is not inlined ("" if it is)."""
    if len(t.frames) - 1 >= t.inline_depth:
        return "inlining too deep (recursion)"
    why = code_refusal(f.__code__) or _learnt_refusals.get(f.__code__) or ""
    if not why and not params["callee_loop_unroll"] and has_loop(f.__code__) \
            and hintcalls.hint_of(f) != UNROLL_SAFE:
        why = "it has a loop (callee_loop_unroll is 0)"
    return f"cannot inline {f.__qualname__}: {why}" if why else ""


_has_loop = CodeMap()


def has_loop(code: types.CodeType) -> bool:
    hit = _has_loop.get(code)
    if hit is None:
        hit = any(i.opname.startswith("JUMP_BACKWARD") for i in cp.instructions(code))
        _has_loop[code] = hit
    return hit


# code -> why it is no longer inlined, learnt while tracing (a loop that ran
# too long to unroll); forgotten by tracejit.reset()
_learnt_refusals = CodeMap()


def refuse_inlining(code: types.CodeType, why: str) -> None:
    """Calls to ``code`` are not inlined from now on (a loop in it that runs
    too long to unroll): they become residual calls."""
    _learnt_refusals[code] = why


def forget_learnt_refusals() -> None:
    _learnt_refusals.clear()


def code_refusal(code: types.CodeType) -> str:
    """Why calls to ``code`` cannot be inlined ("" if they can).

    Inlined functions must be free of the side effects the tracer does not
    record: the bytecode table says which instructions qualify.  Their
    loops are unrolled (see ``control.jump_backward``).  (A guard failing
    after a callee's recorded side effect resumes inside the callee, see
    :mod:`tracejit.reentry`.)
    """
    hit = _refusals.get(code)
    if hit is not None:
        return hit
    why = ""
    if code.co_flags & _CO_REFUSED_FLAGS:
        why = "generator, coroutine or *args/**kwargs"
    elif cp.makes_cells(code):
        why = "its locals are captured by a nested function (cells)"
    else:
        for ins in cp.instructions(code):
            entry = BYTECODES.get(ins.opname)
            if entry is not None and not entry.in_callee:
                why = f"contains {ins.opname}"
                break
            if entry is None or entry.handler is None:
                why = f"unsupported bytecode {ins.opname}"
                break
    _refusals[code] = why
    return why
