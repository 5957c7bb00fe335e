"""Entry traces and assumption checks.

An entry trace is how CPython gets into a compiled loop version: it reads
the frame slots the loop takes as inputs, checks their classes, the globals,
builtins and module attributes the trace assumed and the inlined functions'
code and defaults, unboxes numbers,
and jumps into the loop.  A failed check leaves through exit
:data:`ENTRY_FAIL` and the runtime tries the next version.  Bridges start
with the same assumption checks, resuming at the bridge's first bytecode.
"""

from __future__ import annotations

from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.builder import IRBuilder
from tracejit.ir import CONST_NULL, ExitDescr, Op, Trace, Value, const_int, const_ref
from tracejit.values import (
    ABSENT,
    K_BOOL,
    K_FLOAT,
    K_INT,
    K_NULL,
    FieldAssumption,
    GlobalAssumption,
    InSlot,
    Snapshot,
)

ENTRY_FAIL = 0


def make_entry(code: Any, signature: list[InSlot], closure: list[GlobalAssumption],
               loop: Trace, greens: list[tuple[int, Any]] = ()) -> Trace:
    """The entry trace of the compiled loop ``loop`` of ``code``; ``greens``:
    the frame slots and values of a dispatch loop's greens (tracejit.meta),
    constants of the loop."""
    b = IRBuilder()
    fail = ExitDescr(number=ENTRY_FAIL, slot_address=0)
    nlocals = cp.nlocalsplus(code)
    args: list[Value] = []
    for idx, value in greens:
        r = b.load_frame_slot(idx)
        if type(value) is int and -2**63 <= value < 2**63:
            b.guard_to(fail, "guard_nonnull", [r])
            b.guard_to(fail, "guard_class", [r, const_int(id(int))])
            v = b.guard_to(fail, "unbox_int", [r], cp.long_layout())
            b.guard_to(fail, "guard_value_i", [v, const_int(value)])
        else:  # the very object (the trace keeps it alive)
            b.guard_to(fail, "guard_value_r", [r, const_ref(value)])
    for slot in signature:
        r = b.load_frame_slot(slot.index if slot.where == "local" else nlocals + slot.index)
        if slot.kind == K_NULL:
            b.guard_to(fail, "guard_true", [b.emit("ptr_eq", [r, CONST_NULL])])
            continue
        b.guard_to(fail, "guard_nonnull", [r])
        b.guard_to(fail, "guard_class", [r, const_int(id(slot.pytype))])
        if slot.kind == K_INT:
            args.append(b.guard_to(fail, "unbox_int", [r], cp.long_layout()))
        elif slot.kind == K_FLOAT:
            args.append(b.emit("getfield_f", [r], cp.FLOAT_VALUE))
        elif slot.kind == K_BOOL:
            args.append(b.emit("ptr_eq", [r, const_ref(True)]))
        else:
            args.append(r)
    check_assumptions(closure, lambda name, args_: b.guard_to(fail, name, args_), b.emit)
    b.emit("jump", args, descr=loop)
    return Trace([], b.ops, name="entry")


def check_assumptions(closure: list[GlobalAssumption | FieldAssumption], guard: Any,
                      emit: Any) -> None:
    """One dictionary lookup or field load, and one guard, per assumption."""
    for a in closure:
        if isinstance(a, FieldAssumption):
            v = emit("raw_load_i", [const_int(id(a.obj))], a.offset)
            expected = 0 if a.value is None else id(a.value)
        else:
            v = emit("call_i", [const_ref(a.namespace), const_ref(a.key)], helpers.dict_lookup())
            expected = 0 if a.value is ABSENT else id(a.value)
        guard("guard_value_i", [v, const_int(expected)])


def prepend_checks(trace: Trace, closure: list[GlobalAssumption], initial: Snapshot) -> None:
    """Start a bridge with the checks of the assumptions it and its target
    rely on; a failed check resumes at the bridge's start."""
    ops: list[Op] = []

    def emit(name: str, args: list[Value], descr: Any = None) -> Op:
        op = Op(name, args, descr)
        ops.append(op)
        return op

    def guard(name: str, args: list[Value]) -> None:
        op = emit(name, args)
        op.exit = ExitDescr()
        op.snapshot = initial

    check_assumptions(closure, guard, emit)
    trace.ops[:0] = ops
