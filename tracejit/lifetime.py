"""How long compiled code lives, and when it is freed.

Everything the JIT keeps for one code object belongs to that code's
:class:`CodeRecord`: its loops' records and versions, the traces (with the
constants their machine code refers to by address), the exits with their
resume data, bridges and write-back stubs.  Lookup tables (``runtime.loops``,
``runtime.exits``) point into records; caches elsewhere hold code objects
weakly (:mod:`tracejit.codemap`).

**The usual way a dead function stays alive** is a cycle through the JIT: a
trace constant (the globals dict a global lookup checks, a class) -> the
function -> its code, while the record holds the constant.  CPython's
collector cannot see that the record belongs to the function, so before
every full collection the JIT lets go of its records (:func:`_on_gc`): each
goes behind a fresh *holder* that only refers to itself, and the lookup
tables forget it.  The collection then finds every holder unreachable and
runs its finalizer (PEP 442).  By then the collector has cleared the weak
references to everything it is about to free; a record whose function (the
one whose frame was traced, held weakly) is among them dies with it, in this
same collection.  The other holders put their records back (resurrection),
and the lookup tables get them again when the collection stops.  A record
none of whose functions is known alive (a closure whose function objects
all died) is freed too: its loops are traced again if they get hot.

**The rules for freeing machine code**:

* Constants live exactly as long as the machine code: the traces keep every
  object whose address is in machine code, and a record keeps its traces.
* Machine code is never freed while it may run.  An entry into compiled code
  announces itself in the record (``active``) before it looks at the
  record's state, and gives up if the record is being let go of; a record
  with an entry in progress on any thread (an outer frame that called back
  into Python, another thread) is not let go of.  Compiled loops jump only
  into loops of their own code object, so running code never reaches a
  record that is not active.
* Nothing is let go of while a thread traces or a compilation is in flight.
* :func:`tracejit.reset` retires every record at once; they are freed when
  no machine code runs anywhere (``running`` is empty), until then their
  exits still resolve.
"""

from __future__ import annotations

import ctypes
import gc
import time
import types
import weakref
from typing import Any

from tracejit import cpython as cp
from tracejit.untracked import track, untrack

IFRAME_FUNCOBJ = 16  # _PyInterpreterFrame.f_funcobj, 3.12 and 3.13

# one item per entry into machine code in progress, any thread (list append
# and pop are atomic under the GIL, ``x += 1`` is not)
running: list[None] = []


class CodeRecord:
    """The JIT state of one code object, kept and freed as one."""

    __slots__ = ("code", "loops", "exits", "saved_exits", "traces", "slots", "funcs",
                 "active", "detached", "__weakref__")

    def __init__(self, code: types.CodeType) -> None:
        self.code = code
        self.loops: list[Any] = []  # LoopInfo
        self.exits: list[int] = []  # exit numbers
        self.saved_exits: list[Any] = []  # their ExitInfo while let go of
        self.traces: list[Any] = []  # compiled (or being compiled) traces
        self.slots: list[int] = []  # bridge slot addresses of its exits
        self.funcs: list[weakref.ref] = []  # functions whose frames were traced
        self.active: list[None] = []  # entries into its machine code in progress
        self.detached = False  # let go of for a collection: do not enter


class _Holder:
    """Keeps a record during one collection only if its function survives it."""

    __slots__ = ("rec", "me", "__weakref__")

    def __init__(self, rec: CodeRecord) -> None:
        self.rec = rec
        self.me = self

    def __del__(self) -> None:
        rec, self.rec, self.me = self.rec, None, None
        if rec is None:
            return
        # (the collector clears weak references it finds unreachable, so the
        # record's own list is not read here: its copy in _watched is reachable)
        if any(f() is not None for f in _watched.get(id(rec), ())):
            _kept.append(rec)
        else:  # never entered again, even through a LoopInfo left somewhere
            _dying.append((list(rec.exits), list(rec.slots),
                           [info.key.counter_id(rec.code, info.header) for info in rec.loops]))
            for info in rec.loops:
                info.versions.clear()
                info.blacklisted = True
            release(rec)  # nothing runs it: detached while not active
            rec.loops.clear()  # (an untracked record: no cycle left behind)


_records: dict[int, CodeRecord] = {}
_retired: list[CodeRecord] = []
_old_generations: list[Any] = []  # exit tables and slots of runtimes given up by reset()
_holders: list[weakref.ref] = []
_watched: dict[int, list[weakref.ref]] = {}  # id(record) -> its functions, while let go of
_kept: list[CodeRecord] = []
_dying: list[tuple[list[int], list[int], list[int]]] = []
_state = {"sweeping": False, "installed": False, "wanted": False, "t0": 0.0, "new_traces": 0}
# traces made since the last full collection past which the JIT's own work
# counts on the program's collection clock again (see tracejit.gcclock):
# dead functions' machine code is freed only by full collections, and a
# program that makes few objects itself would seldom have one
TRACE_BUDGET = 200
stats = {"freed": 0, "kept": 0, "sweeps": 0, "sweep_seconds": 0.0}


def sweeping() -> bool:
    return _state["sweeping"]


def wanted() -> bool:
    return _state["wanted"]


def pressure() -> bool:
    """Many traces made since the last full collection (``TRACE_BUDGET``)."""
    return _state["new_traces"] >= TRACE_BUDGET


def record_for(code: types.CodeType) -> CodeRecord:
    rec = _records.get(id(code))
    if rec is None or rec.code is not code:
        rec = _records[id(code)] = CodeRecord(code)
        untrack(_records)  # a root table: nothing is hidden from the collector
        _set_tracking(rec, False)
        install()
    return rec


def _parts(rec: CodeRecord) -> list[Any]:
    parts: list[Any] = [rec, rec.loops, rec.exits, rec.saved_exits, rec.traces, rec.slots,
                        rec.funcs, rec.active]
    for info in rec.loops:
        parts += [info, info.key, info.versions]
        if hasattr(info, "__dict__"):
            parts.append(info.__dict__)
    return parts


def _set_tracking(rec: CodeRecord, on: bool) -> None:
    """A record without traces refers to nothing of the program's (code
    objects, numbers, weak references): the collector need not see it (see
    tracejit.untracked).  With traces it must, for the cycles through them."""
    if on:
        track(*_parts(rec))
    else:
        untrack(*_parts(rec))


def adopt_loop(info: Any) -> None:
    rec = info.record = record_for(info.code)
    rec.loops.append(info)
    _set_tracking(rec, bool(rec.traces or rec.exits))


def adopt_exit(code: types.CodeType, number: int, slot: int) -> None:
    rec = record_for(code)
    if not rec.exits and not rec.traces:
        _set_tracking(rec, True)
    rec.exits.append(number)
    rec.slots.append(slot)


def adopt_trace(code: types.CodeType, trace: Any) -> None:
    rec = record_for(code)
    if not rec.exits and not rec.traces:
        _set_tracking(rec, True)
    rec.traces.append(trace)
    _state["new_traces"] += 1


def adopt_function(rec: CodeRecord, frame: types.FrameType) -> None:
    """Remember (weakly) the function running ``frame``: the record lives as
    long as one of its functions does."""
    iframe = cp.iframe_of(frame)
    address = ctypes.c_void_p.from_address(iframe + IFRAME_FUNCOBJ).value if iframe else 0
    if not address:
        return
    func = ctypes.cast(address, ctypes.py_object).value
    if not isinstance(func, types.FunctionType) or func.__code__ is not rec.code:
        return
    if any(f() is None for f in rec.funcs):
        rec.funcs[:] = [f for f in rec.funcs if f() is not None]
    if not any(f() is func for f in rec.funcs):
        ref = weakref.ref(func)
        untrack(ref)
        rec.funcs.append(ref)


def live_records() -> list[CodeRecord]:
    return list(_records.values())


# -- retiring and freeing (tracejit.reset) -------------------------------------

def _forget_lookups(rec: CodeRecord, runtime: Any) -> None:
    """The runtime's tables stop pointing into ``rec``."""
    from tracejit import hooks

    for info in rec.loops:
        if runtime.loops.get(info.key) is info:
            del runtime.loops[info.key]
        counter = info.key.counter_id(rec.code, info.header)
        if runtime._by_counter.get(counter) is info:
            del runtime._by_counter[counter]
        hooks._counts.pop(counter, None)


def retire_all(runtime: Any) -> None:
    """tracejit.reset(): every record goes, and with them the runtime's exit
    table and bridge slots, kept until no machine code runs."""
    for rec in list(_records.values()):
        _forget_lookups(rec, runtime)
        for info in rec.loops:
            info.versions.clear()
            info.blacklisted = True  # a reference left somewhere must not enter it
        _retired.append(rec)
    _records.clear()
    _old_generations.append((runtime.exits, runtime._slots))
    free_retired()


def free_retired() -> None:
    """Free what reset() retired, if no machine code runs now."""
    if (_retired or _old_generations) and not running:
        for rec in _retired:
            release(rec)
            rec.loops.clear()
        _retired.clear()
        _old_generations.clear()


def release(rec: CodeRecord) -> None:
    """Free the machine code of ``rec``'s traces (see tracejit.backend)."""
    traces, rec.traces = rec.traces, []
    for trace in traces:
        free = getattr(trace.compiled, "release", None)
        if free is not None:
            free()


# -- letting go of records for a full collection --------------------------------

def _busy(runtime: Any) -> bool:
    return bool(runtime._jobs) or runtime.trace_lock.locked()


def _let_go(runtime: Any) -> None:
    """Collection start: every record not running goes behind a holder."""
    _state["sweeping"] = True  # first: tracing and entering check it (see below)
    if _busy(runtime):
        _state["sweeping"] = False
        _state["wanted"] = True  # collect again once the JIT is done (see collect_if_wanted)
        return
    _state["t0"] = time.perf_counter()
    for rec in list(_records.values()):
        rec.detached = True
        if rec.active:  # entered on some thread: it stays
            rec.detached = False
            continue
        del _records[id(rec.code)]
        _forget_lookups(rec, runtime)
        rec.saved_exits = [runtime.exits[n] for n in rec.exits]
        for n in rec.exits:
            runtime.exits[n] = None
        _watched[id(rec)] = rec.funcs
        _holders.append(weakref.ref(_Holder(rec)))
    stats["sweeps"] += 1


def _take_back(runtime: Any) -> None:
    """Collection end: records whose function lives are back in the tables;
    the others' exit numbers and slots are reused."""
    from tracejit import hooks

    for ref in _holders:  # a holder the collection did not reach (not expected)
        holder = ref()
        if holder is not None and holder.rec is not None:
            _kept.append(holder.rec)
            holder.rec = holder.me = None
    _holders.clear()
    _watched.clear()
    for rec in _kept:
        for n, ex in zip(rec.exits, rec.saved_exits):
            runtime.exits[n] = ex
        rec.saved_exits = []
        for info in rec.loops:
            runtime.loops[info.key] = info
        _records[id(rec.code)] = rec
        rec.detached = False
    # a cache that loop_at rebuilds; a thread that raced the collection may
    # have put a fresh LoopInfo there
    runtime._by_counter.clear()
    untrack(runtime.loops, _records)  # root tables (see tracejit.untracked)
    stats["kept"] += len(_kept)
    _kept.clear()
    for exits, slots, counters in _dying:
        for n, slot in zip(exits, slots):
            runtime.free_exit(n, slot)
        for c in counters:
            hooks._counts.pop(c, None)
        stats["freed"] += 1
    _dying.clear()
    stats["sweep_seconds"] += time.perf_counter() - _state["t0"]
    _state["sweeping"] = False
    _state["new_traces"] = 0


def collect_if_wanted() -> None:
    """A full collection came while the JIT was tracing or compiling, so it
    could not let go of JIT state: collect again now (called when the
    hooks' slow path ends)."""
    if _state["wanted"]:
        _state["wanted"] = False
        from tracejit.runtime import runtime

        if not _busy(runtime):
            gc.collect()
        else:
            _state["wanted"] = True


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if info.get("generation") != 2:
        return
    from tracejit.runtime import runtime

    if phase == "start":
        if not _state["sweeping"] and _records:
            _let_go(runtime)
    elif _state["sweeping"]:
        _take_back(runtime)


def install() -> None:
    """Let full collections reach the JIT (at enable(), or with the first record)."""
    if not _state["installed"]:
        gc.callbacks.append(_on_gc)
        _state["installed"] = True
