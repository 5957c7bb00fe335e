"""Handlers for iteration: ``GET_ITER``, ``FOR_ITER``, ``END_FOR``.

Range, list, tuple and enumerate iterators are stepped in the trace by
reading and writing their fields; ``iter(range(...))`` of a range built in
the trace is allocated and filled in without a call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tracejit import cpython as cp
from tracejit import helpers
from tracejit.aborts import Abort, TraceAbort
from tracejit.ir import CONST_NULL, INT64_MAX, Const, Value, const_int
from tracejit.tracer.core import Tracer
from tracejit.tracer.table import bytecode
from tracejit.values import K_INT, K_REF, K_TUPLE, TValue

_ITERABLE = (list, tuple, range, enumerate, cp.RANGE_ITER_TYPE)
SEQ_ITER_TYPES = {cp.LIST_ITER_TYPE: list, cp.TUPLE_ITER_TYPE: tuple}


@bytecode("GET_ITER", pops=1, pushes=1)
def get_iter(t: Tracer, ins: Any, tv: TValue) -> TValue:
    if tv.kind == K_TUPLE:  # built for the iterator, which holds it
        tup, _ = t.box(tv)
        r = t.emit("call_r", [tup], helpers.get_iter())
        t.emit("decref", [tup])
        return TValue(K_REF, r, iter(tv.py), owned=True)
    if tv.kind != K_REF or type(tv.py) not in _ITERABLE:
        raise TraceAbort(Abort.ITERATION, "iteration over an unsupported object")
    obj = tv.py
    it = iter(obj)
    if type(obj) is range:
        if type(it) is not cp.RANGE_ITER_TYPE:
            raise TraceAbort(Abort.BIG_INT, "range beyond machine ints")
        if tv.items is not None:  # virtual range(start, stop, step)
            r = new_range_iter(t, *tv.items)
        else:
            r = t.emit("call_r", [tv.box], helpers.get_iter())
    elif type(obj) in (list, tuple):  # the class is guarded: a new iterator, no code
        r = t.emit("call_r", [tv.box], helpers.get_seq_iter())
    else:
        r = t.emit("call_r", [tv.box], helpers.get_iter())
    return TValue(K_REF, r, it, owned=True)


def new_range_iter(t: Tracer, start: TValue, stop: TValue, step: TValue) -> Value:
    """iter(range(start, stop, step)) built in the trace: the length is
    computed with int ops and the iterator allocated and filled in."""
    if not isinstance(step.box, Const):
        return t.emit("call_r", [start.box, stop.box, step.box], helpers.new_range_iter())
    k = step.box.value
    lo, hi = (start.box, stop.box) if k > 0 else (stop.box, start.box)
    span = t.emit("int_sub_ovf", [hi, lo])  # guards: CPython redoes GET_ITER
    rounded = t.emit("int_add_ovf", [span, const_int(abs(k) - 1)])
    count = t.emit("int_floordiv", [rounded, const_int(abs(k))])
    nonempty = t.emit("int_lt", [lo, hi])
    length = t.emit("int_mul", [count, nonempty])
    r = t.emit("call_r", [const_int(id(cp.RANGE_ITER_TYPE))], helpers.new_object())
    t.emit("setfield_i", [r, start.box], cp.RANGEITER_START)
    t.emit("setfield_i", [r, step.box], cp.RANGEITER_STEP)
    t.emit("setfield_i", [r, length], cp.RANGEITER_LEN)
    return r


@bytecode("FOR_ITER", raw=True)
def for_iter(t: Tracer, ins: Any) -> None:
    tv = t.peek()
    it = tv.py
    kind = type(it)
    if tv.kind != K_REF:
        raise TraceAbort(Abort.VIRTUAL, "FOR_ITER on a virtual")
    if kind is cp.RANGE_ITER_TYPE:
        _range_next(t, ins, tv)
    elif kind in SEQ_ITER_TYPES:
        item = seq_iter_next(t, tv)
        if item is None:
            _after_loop(t, ins)
        else:
            t.push(item)
    elif kind is enumerate:
        _enumerate_next(t, ins, tv)
    else:
        raise TraceAbort(Abort.ITERATION, f"iteration over {kind.__name__}")


def _range_next(t: Tracer, ins: Any, tv: TValue) -> None:
    it = tv.py
    n = t.emit("getfield_i", [tv.box], cp.RANGEITER_LEN)
    if it.__length_hint__() <= 0:
        t.guard_true(t.emit("int_gt", [n, const_int(0)]), False)
        next(it, None)
        _after_loop(t, ins)
        return
    t.guard_true(t.emit("int_gt", [n, const_int(0)]))
    start = t.emit("getfield_i", [tv.box], cp.RANGEITER_START)
    step = t.emit("getfield_i", [tv.box], cp.RANGEITER_STEP)
    value = next(it)
    t.emit("setfield_i", [tv.box, t.emit("int_add", [start, step])], cp.RANGEITER_START)
    t.emit("setfield_i", [tv.box, t.emit("int_sub", [n, const_int(1)])], cp.RANGEITER_LEN)
    t.push(TValue(K_INT, start, value))


def seq_iter_next(t: Tracer, tv: TValue, then: Callable[[], None] | None = None
                  ) -> TValue | None:
    """Next item of a list/tuple iterator (None when exhausted); all guards
    come before the stores.  ``then`` runs after the guards, before the
    iterator's index is stored."""
    it = tv.py
    seqtype = SEQ_ITER_TYPES[type(it)]
    seq = t.emit("getfield_r", [tv.box], cp.SEQITER_SEQ)
    concrete_seq = cp.seqiter_seq(it)
    if concrete_seq is None:
        raise TraceAbort(Abort.ITERATION, "exhausted iterator")
    t.emit("guard_nonnull", [seq])
    idx = t.emit("getfield_i", [tv.box], cp.SEQITER_INDEX)
    size = t.emit("getfield_i", [seq], cp.VAR_SIZE)
    in_range = t.emit("int_lt", [idx, size])
    pos = cp.seqiter_index(it)
    if pos >= len(concrete_seq):
        t.guard_true(in_range, False)
        # CPython drops the sequence of an exhausted iterator
        t.emit("setfield_r", [tv.box, CONST_NULL], cp.SEQITER_SEQ)
        t.emit("decref", [seq])
        next(it, None)
        return None
    t.guard_true(in_range)
    obj = concrete_seq[pos]
    if seqtype is list:
        raw = t.emit("getlistitem_r", [seq, idx], cp.LIST_ITEMS)
    else:
        raw = t.emit("getarrayitem_r", [seq, idx], cp.TUPLE_ITEMS)
    item = t.unbox(raw, obj)
    if then is not None:
        then()
    t.emit("setfield_i", [tv.box, t.emit("int_add", [idx, const_int(1)])], cp.SEQITER_INDEX)
    got = next(it)
    assert got is obj
    return item


def _after_loop(t: Tracer, ins: Any) -> None:
    """The iterator is exhausted: pop it and continue after the loop."""
    if t.mode == "loop" and not t.in_callee and t.key.at(t.code, ins.offset):
        raise TraceAbort(Abort.LOOP_ENDED)
    t.drop(t.pop())
    frame = t.top
    t.jump(frame.instrs[frame.index[ins.argval] + cp.FOR_ITER_EXIT_SKIP].offset)


def _enumerate_next(t: Tracer, ins: Any, tv: TValue) -> None:
    en = tv.py
    inner_it = cp.enum_iter(en)
    if type(inner_it) not in SEQ_ITER_TYPES:
        raise TraceAbort(Abort.ITERATION, "enumerate over an unsupported iterator")
    sit = t.emit("getfield_r", [tv.box], cp.ENUM_ITER)
    t.emit("guard_class", [sit, const_int(id(type(inner_it)))])
    inner = TValue(K_REF, sit, inner_it)
    index_py = cp.enum_index(en)
    if index_py == INT64_MAX:
        # CPython counts in a Python int from here on (en_longindex)
        raise TraceAbort(Abort.BIG_INT, "enumerate counter beyond 64 bits")
    idx = t.emit("getfield_i", [tv.box], cp.ENUM_INDEX)
    t.guard_true(t.emit("int_lt", [idx, const_int(INT64_MAX)]))

    def bump() -> None:
        t.emit("setfield_i", [tv.box, t.emit("int_add", [idx, const_int(1)])], cp.ENUM_INDEX)

    item = seq_iter_next(t, inner, then=bump)
    if item is None:
        next(en, None)
        _after_loop(t, ins)
        return
    # the inner iterator already advanced; advance the enumerate counter
    cp.enum_set_index(en, index_py + 1)
    pair = (index_py, item.py)
    t.push(TValue(K_TUPLE, None, pair, [TValue(K_INT, idx, index_py), item]))


@bytecode("END_FOR", pops=cp.END_FOR_POPS)
def end_for(t: Tracer, ins: Any) -> None:
    return None  # reached only by falling through; the dispatcher releases them
