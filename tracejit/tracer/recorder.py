"""The recorder: every operation the tracer records goes through :meth:`emit`.

Like PyPy's ``execute_and_record`` and LuaJIT's ``emitir``, ``emit`` folds a
pure operation whose arguments are all constants into a constant instead of
recording it.  A guard gets the snapshot of the interpreter state before the
current bytecode.  Since CPython redoes that bytecode when the guard fails,
no guard may follow a side effect of the same bytecode: ``emit`` enforces
this, so a handler that breaks the rule aborts its trace instead of
producing code that would do the effect twice.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from tracejit.aborts import Abort, TraceAbort
from tracejit.builder import IRBuilder
from tracejit.ir import CONST_NULL, OPS, Const, ExitDescr, Op, Value, Writes
from tracejit.opt.fold import evaluate
from tracejit.values import Snapshot

# operations whose effect CPython would see done twice if it redid the bytecode
_FRAME_OR_HEAP_WRITES = {"setfield_i", "setfield_r", "raw_store_i", "raw_store_r",
                         "setlistitem_r", "decref"}




def has_visible_effect(op: Op) -> bool:
    """Whether redoing the bytecode after ``op`` would repeat a side effect."""
    if op.name in _FRAME_OR_HEAP_WRITES:
        return True
    if op.name.startswith("call_"):
        return op.descr.releases or op.descr.writes is not Writes.NOTHING
    return False


class Interpreter(Protocol):
    def snapshot(self) -> Snapshot: ...
    def forget_refs(self) -> None: ...


class Recorder(IRBuilder):
    """Records the trace for ``interpreter``: its ``snapshot()`` describes the
    state for a new guard, its ``forget_refs()`` runs before anything that may
    free objects.  The recorder refers to it weakly, so that the tracer and
    the traced values it holds are freed as soon as tracing ends (a cycle
    would keep the program's objects alive until the next collection)."""

    def __init__(self, interpreter: Interpreter) -> None:
        super().__init__()
        self._interpreter = weakref.ref(interpreter)
        self.guards: list[Op] = []
        self._effect: Op | None = None  # the first side effect of this bytecode
        self._fresh: set[int] = set()  # ops that are objects allocated by the trace
        # of those, instances of classes with a __del__: freeing them runs
        # code (the others' are builtin types', or plain classes')
        self._finalized: set[int] = set()
        # side effects the program could observe, so far: a call whose callee
        # did one cannot be redone from its start
        self.effects = 0
        self.bytecode = ""
        self.position: tuple[Any, int] | None = None

    def begin_bytecode(self, name: str, position: tuple[Any, int]) -> None:
        self._effect = None
        self.bytecode = name
        self.position = position

    def emit(self, name: str, args: list[Value] | tuple = (), descr: Any = None) -> Op:
        d = OPS[name]
        if d.pure and not d.guard and args and all(isinstance(a, Const) for a in args):
            value = evaluate(name, [a.value for a in args])
            if value is not None:
                return Const(d.result, value)  # type: ignore[return-value]
        op = Op(name, args, descr)
        op.pos = self.position
        if d.releases or (name.startswith("call_") and descr.releases):
            self._interpreter().forget_refs()
        if d.guard:
            if self._effect is not None:
                raise TraceAbort(Abort.INTERNAL, f"{name} after {self._effect.name} "
                                 f"in {self.bytecode}")
            op.snapshot = self._interpreter().snapshot()
            op.exit = ExitDescr()
            self.guards.append(op)
        elif has_visible_effect(op):
            if self._effect is None:
                self._effect = op
            target = id(op.args[0]) if op.args else 0
            if not (target in self._fresh and target not in self._finalized):
                self.effects += 1
        elif name == "call_r" and descr.allocates:
            self._fresh.add(id(op))
            if descr.name == "object_new" and args and isinstance(args[0], Const) and \
                    getattr(args[0].value, "__del__", None) is not None:
                self._finalized.add(id(op))
        elif name in ("getfield_i", "raw_load_i") and args and id(args[0]) in self._fresh:
            self._fresh.add(id(op))  # e.g. the values array word of a new instance
        self.ops.append(op)
        return op

    def release_lent(self, ref: Value) -> None:
        """Give back the reference the trace took to an object it was lent
        (an inlined frame's local): the lender still holds one, so nothing is
        freed and nothing the program sees happens."""
        effects = self.effects
        self.emit("decref", [ref])
        self.effects = effects

    def quiet_state(self) -> tuple[Op | None, int]:
        """The effect bookkeeping before operations a redone bytecode cannot
        observe (building a virtual: see tracer.virtuals)."""
        return self._effect, self.effects

    def restore_quiet_state(self, effect: Op | None, effects: int) -> None:
        self._effect, self.effects = effect, effects

    def is_fresh(self, value: Value) -> bool:
        """Whether ``value`` is an object this trace allocated (nothing else
        knows it yet, so writing it is no side effect the program can see)."""
        return id(value) in self._fresh

    def after_effects(self) -> None:
        """The current bytecode's remaining operations come after its side
        effects by design (closing a trace: no bytecode is redone)."""
        self._effect = None

    def guard_raised(self, exc: Value, snapshot: Snapshot) -> None:
        """Exit with ``snapshot`` unless ``exc`` (what a residual call raised)
        is NULL.  It follows the call by design: the snapshot does not redo
        the call, it makes CPython raise ``exc`` at it."""
        op = Op("guard_true", [self.emit("ptr_eq", [exc, CONST_NULL])])
        op.pos = self.position
        op.snapshot = snapshot
        op.exit = ExitDescr()
        self.guards.append(op)
        self.ops.append(op)

    def guard_true(self, cond: Value, expected: bool = True) -> None:
        if isinstance(cond, Const):
            if bool(cond.value) != expected:
                raise TraceAbort(Abort.INTERNAL, "constant guard fails")
            return
        self.emit("guard_true" if expected else "guard_false", [cond])
