"""Operations on constants of immutable types, done at trace time.

Where every operand of ``BINARY_SUBSCR``, ``BINARY_SLICE``, ``BINARY_OP``,
``COMPARE_OP``, ``CONTAINS_OP`` or ``UNPACK_SEQUENCE`` is a constant of the trace of an immutable
type (``int``, ``float``, ``str``, ``bytes``, ``tuple`` of those...), the
tracer computes the result now and it is a constant too: nothing is
recorded.  That is what makes an interpreter's dispatch fold away
(``program[pc]`` and ``op == "+"`` with ``program`` and ``pc`` green).

A field that an instance's class declares immutable (``_immutable_fields_ =
["code", "consts[*]"]``, as in RPython) reads as a constant from a constant
object; ``name[*]`` says that the list or tuple in it never changes either,
so that indexing it with a constant folds as well.

An operation that would raise is left to its handler.  Folded results are
shared between iterations: as with CPython's own constant folding, only
``id()`` could tell.
"""

from __future__ import annotations

import dis
import operator
import types
from typing import Any

from tracejit import cpython as cp
from tracejit.ir import Const
from tracejit.tracer.compare import CMP
from tracejit.values import K_NULL, K_TUPLE, TValue

_ATOMS = (int, float, bool, str, bytes, complex, type(None), range, types.CodeType)
_MEMBER = types.MemberDescriptorType  # a __slots__ field (getset descriptors run code)

_BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "%": operator.mod,
           "//": operator.floordiv, "/": operator.truediv, "**": operator.pow,
           "&": operator.and_, "|": operator.or_, "^": operator.xor,
           "<<": operator.lshift, ">>": operator.rshift}
_COMPARE = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
            ">": operator.gt, ">=": operator.ge}


def immutable(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` and everything it holds can never change."""
    if type(value) in _ATOMS:
        return True
    if type(value) in (tuple, frozenset) and depth < 4 and len(value) <= 64:
        return all(immutable(v, depth + 1) for v in value)
    return False


def constant(tv: TValue) -> bool:
    if tv.kind == K_TUPLE:
        return all(constant(i) for i in tv.items)
    return tv.kind != K_NULL and tv.box is not None and isinstance(tv.box, Const)


def _operands(stack: list[TValue], n: int) -> list[TValue] | None:
    if len(stack) < n:
        return None
    ops = stack[len(stack) - n:]
    return ops if all(constant(v) for v in ops) else None


def try_fold(t: Any, ins: Any, stack: list[TValue]) -> bool:
    """Fold the instruction if it can be: its operands leave the stack and
    its constant result goes on; False: nothing was done."""
    name = ins.opname
    if name == "LOAD_ATTR":
        return _fold_immutable_field(t, ins, stack)
    if name == "UNPACK_SEQUENCE":
        return _fold_unpack(t, ins, stack)
    arity = {"BINARY_SUBSCR": 2, "BINARY_OP": 2, "COMPARE_OP": 2, "CONTAINS_OP": 2,
             "BINARY_SLICE": 3}.get(name)
    if arity is None:
        return False
    ops = _operands(stack, arity)
    if ops is None:
        return False
    values = [v.py for v in ops]
    container_ok = name in ("BINARY_SUBSCR", "BINARY_SLICE") and id(values[0]) in t.frozen_ids
    if not all(immutable(v) or (k == 0 and container_ok) for k, v in enumerate(values)):
        return False
    try:
        if name == "BINARY_SUBSCR":
            result = values[0][values[1]]
        elif name == "BINARY_SLICE":
            result = values[0][values[1]:values[2]]
        elif name == "BINARY_OP":
            fn = _BINARY.get(dis._nb_ops[ins.arg][1].rstrip("="))
            if fn is None or all(type(v) in (int, float, bool) for v in values):
                return False  # (numbers: the handlers fold them, with their own checks)
            result = fn(values[0], values[1])
        elif name == "COMPARE_OP":
            result = _COMPARE[CMP[cp.compare_op_index(ins.arg)]](values[0], values[1])
            if cp.compare_op_to_bool(ins.arg):
                result = bool(result)
        else:
            result = (values[0] in values[1]) != bool(ins.arg)
    except Exception:
        return False  # CPython raises it: the handler records the way there
    if not immutable(result) and not (container_ok and name == "BINARY_SUBSCR"
                                      and type(values[1]) is int):
        return False  # (an item of a frozen list may be any object; a slice is a new list)
    _replace(t, stack, arity, result)
    return True


def _replace(t: Any, stack: list[TValue], n: int, result: Any) -> None:
    operands = stack[len(stack) - n:]
    del stack[len(stack) - n:]
    out = t.green_value(result)
    t.release_consumed(operands, (out,))
    stack.append(out)


def _fold_hint_method(t: Any, ins: Any, stack: list[TValue]) -> bool:
    """``driver.jit_merge_point`` of a constant JitDriver: [method, self],
    with no guard on the driver's class (it is tracejit's own)."""
    from tracejit.hints import JitDriver

    owner = stack[-1]
    name = t.top.code.co_names[ins.arg >> 1]
    if type(owner.py) is not JitDriver or name not in ("jit_merge_point", "can_enter_jit") \
            or name in vars(owner.py):
        return False
    stack.pop()
    stack.extend([t.green_value(getattr(JitDriver, name)), owner])
    return True


def _fold_unpack(t: Any, ins: Any, stack: list[TValue]) -> bool:
    if not stack or not constant(stack[-1]) or stack[-1].kind == K_TUPLE:
        return False  # (virtual tuples unpack in their handler)
    seq = stack[-1].py
    if type(seq) not in (tuple, list) or len(seq) != ins.arg or \
            not (immutable(seq) or id(seq) in t.frozen_ids):
        return False
    operand = stack.pop()
    items = [t.green_value(v) for v in reversed(seq)]
    t.release_consumed([operand], tuple(items))
    stack.extend(items)
    return True


def _fold_immutable_field(t: Any, ins: Any, stack: list[TValue]) -> bool:
    if not stack:
        return False
    owner = stack[-1]
    if not constant(owner) or owner.kind == K_TUPLE:
        return False
    if ins.arg & 1:  # a method load: only of the hints themselves
        return _fold_hint_method(t, ins, stack)
    obj = owner.py
    name = t.top.code.co_names[ins.arg >> 1]
    cls = type(obj)
    fields = immutable_fields(cls)
    if name not in fields and name + "[*]" not in fields:
        return False
    if cls.__getattribute__ is not object.__getattribute__:
        return False
    found = _class_attribute(cls, name)
    if found is not None and not isinstance(found, _MEMBER):
        return False  # a property or other descriptor: code runs
    try:
        value = object.__getattribute__(obj, name)
    except AttributeError:
        return False
    if name + "[*]" in fields and type(value) in (list, tuple):
        t.frozen_ids.add(id(value))  # (the trace keeps it alive: the id stays its own)
    _replace(t, stack, 1, value)
    return True


def immutable_fields(cls: type) -> frozenset[str]:
    """The ``_immutable_fields_`` of a class and its bases."""
    out: set[str] = set()
    for base in cls.__mro__:
        declared = base.__dict__.get("_immutable_fields_")
        if isinstance(declared, (list, tuple)):
            out.update(f for f in declared if isinstance(f, str))
    return frozenset(out)


def _class_attribute(cls: type, name: str) -> Any:
    for base in cls.__mro__:
        if name in base.__dict__:
            return base.__dict__[name]
    return None


# builtins whose result depends only on their (immutable) arguments
PURE_BUILTINS = frozenset({len, ord, chr, abs, min, max, int, float, str, bool, hash, round,
                           divmod, pow, repr, isinstance, type})


def fold_call(t: Any, f: Any, args: list[TValue], kw: dict[str, TValue]) -> TValue | None:
    """``f(*args, **kw)`` of a pure builtin on constants: its constant result
    (None: not folded)."""
    try:
        if f not in PURE_BUILTINS:
            return None
    except TypeError:
        return None
    operands = list(args) + list(kw.values())
    if not all(constant(a) for a in operands):
        return None
    values = [a.py for a in args]
    named = {k: v.py for k, v in kw.items()}
    ok = all(immutable(v) or (f is len and k == 0 and id(v) in t.frozen_ids)
             or (f in (isinstance, type) and isinstance(v, type))
             for k, v in enumerate(values + list(named.values())))
    if not ok or (f is isinstance and len(values) == 2 and not isinstance(values[1], type)):
        return None
    try:
        result = f(*values, **named)
    except Exception:
        return None
    if not immutable(result) and not isinstance(result, type):
        return None
    return t.green_value(result)
