"""What the tracer records, after optimization, for each bytecode family.

Each test runs one small loop under the JIT (reference backend), takes the
compiled loop trace and pins the exact number of each operation in its body
(``loop_body``: after the ``label``, before the ``jump``) and, where code is
hoisted, in its preamble or entry trace.  The counts are today's: a test
fails when an optimization is lost (an overflow guard, a box, a global
lookup or a bounds check comes back) and should be updated, deliberately,
when one is gained.

Every loop body ends with the periodic pause for CPython (``PAUSE``), and a
``for`` over a range steps a real range iterator (``RANGE_NEXT``); the tests
add to these what their family records.  The counts are the same on 3.12 and
3.13 unless a test says otherwise.
"""

from __future__ import annotations

import copy
import math
import sys
from collections import Counter

import pytest

from tracejit.testing.resops import (
    calls,
    check_resops,
    loop_body,
    op_counts,
    preamble,
    run_and_collect,
)

PY312 = sys.version_info[:2] == (3, 12)

# every loop: count the pause counter down, leave for CPython at zero
PAUSE = {"raw_load_i": 1, "int_sub": 1, "raw_store_i": 1, "int_gt": 1, "guard_true": 1}
# FOR_ITER on a range iterator: load length and start, guard length > 0,
# store start + step and length - 1 (the step itself is loaded once, before
# the label, unless the loop holds an op that may run arbitrary code)
RANGE_NEXT = {"getfield_i": 2, "int_gt": 1, "guard_true": 1, "int_add": 1, "setfield_i": 2,
              "int_sub": 1}
# FOR_ITER on a list or tuple iterator whose sequence and length are hoisted:
# load the index, guard it against the length, load the item, store index + 1
SEQ_NEXT = {"getfield_i": 1, "int_lt": 1, "guard_true": 1, "int_add": 1, "setfield_i": 1}
UNBOX_INT = {"guard_class": 1, "unbox_int": 1}


def counts(*parts: dict, **extra: int) -> dict:
    """The sum of several count tables."""
    total: Counter = Counter()
    for part in (*parts, extra):
        total.update(part)
    return dict(total)


def collect(func, *args, **params):
    """Run ``func`` under the JIT; check it returns what plain CPython does."""
    expected = func(*copy.deepcopy(args))
    run = run_and_collect(func, *args, **params)
    assert run.result == expected
    return run


def body_of(func, *args, **params):
    return loop_body(collect(func, *args, **params).loop())


# ---------------------------------------------------------------------------
# check_resops itself


def _count(n):
    total = 0
    for i in range(n):
        total += i
    return total


def test_check_resops_fails_on_a_wrong_count_and_lists_the_ops():
    body = body_of(_count, 100)
    assert op_counts(body)["int_add_ovf"] == 1
    check_resops(body, int_add_ovf=1)  # other ops are not checked
    with pytest.raises(AssertionError) as e:
        check_resops(body, int_add_ovf=2)
    message = str(e.value)
    assert "int_add_ovf: expected 2, found 1" in message
    assert "int_add_ovf(" in message  # the dump of the ops follows
    # only=True: an op of a kind not named fails too
    with pytest.raises(AssertionError, match="setfield_i: expected none, found 2"):
        check_resops(body, only=True, **counts(PAUSE, int_add_ovf=1))
    with pytest.raises(ValueError, match="no such operation: int_add_ovf_"):
        check_resops(body, int_add_ovf_=0)


# ---------------------------------------------------------------------------
# loops, locals, constants


def _while(n):
    i = 0
    while i < n:
        i += 1
    return i


def test_while_loop_is_an_add_a_compare_and_the_pause():
    run = collect(_while, 1000)
    check_resops(preamble(run.loop()), only=True)
    check_resops(loop_body(run.loop()), only=True,
                 **counts(PAUSE, int_add_ovf=1, int_lt=1, guard_true=1))


def test_range_sum_has_one_overflow_checked_add():
    run = collect(_count, 1000)
    check_resops(preamble(run.loop()), only=True, getfield_i=1)  # the step
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, int_add_ovf=1))


def test_entry_trace_unboxes_int_inputs_and_checks_classes():
    run = collect(_count, 1000)
    # inputs: the range iterator (on the stack), total and i (locals): each
    # loaded from the frame, checked non-NULL and of its class; ints unboxed
    check_resops(run.entries[0].ops, only=True, get_frame=1, raw_load_i=1, raw_load_r=3,
                 guard_nonnull=3, guard_class=3, unbox_int=2, jump=1)


def _locals_and_constants(n):
    t = 0
    for i in range(n):
        a = i
        b = a
        k = 3
        t += k * 2 + b
    return t


def test_int_locals_cost_nothing_and_constant_arithmetic_is_folded():
    # stores and loads of unboxed locals record no op; k * 2 is folded to 6
    # while tracing: what is left is (6 + b) and t + that
    check_resops(body_of(_locals_and_constants, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_add_ovf=2))


# ---------------------------------------------------------------------------
# int arithmetic


def _sub_mul_mask(n):
    t = 0
    for i in range(n):
        t = t * 3 - i
        t = t & 0xFFFF
    return t


def test_int_sub_and_mul_check_overflow_and_a_mask_does_not():
    check_resops(body_of(_sub_mul_mask, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_mul_ovf=1, int_sub_ovf=1, int_and=1))


def _bitops(n):
    t = 0
    for i in range(n):
        t = ((t ^ i) | (i & 5) | ~i) + (i << 2) + (i >> 1)
    return t


def test_bitwise_ops_and_shifts_by_constants_guard_only_the_left_shift():
    # a constant shift count needs no range guard; << still checks overflow
    check_resops(body_of(_bitops, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_xor=1, int_and=1, int_or=2, int_invert=1,
                          int_lshift_ovf=1, int_rshift=1, int_add_ovf=2))


def _div_by_constants(n):
    t = 0
    for i in range(n):
        t += i % 7 + i // 3
    return t


def test_floordiv_and_modulo_by_constants_need_no_guards():
    check_resops(body_of(_div_by_constants, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_mod=1, int_floordiv=1, int_add_ovf=2))


def _floordiv_by(n, m):
    t = 0
    for i in range(n):
        t += i // m
    return t


def test_floordiv_by_an_invariant_checks_zero_before_the_loop():
    run = collect(_floordiv_by, 1000, 7)
    # m != 0 is loop-invariant: hoisted; i != MIN (for MIN // -1) is not
    check_resops(preamble(run.loop()), only=True, getfield_i=1, int_ne=1, guard_true=1)
    check_resops(loop_body(run.loop()), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_ne=1, guard_true=1, int_floordiv=1,
                          int_add_ovf=1))


def _cube(n):
    t = 0
    for i in range(n):
        t += i ** 3
    return t


def test_int_power_by_a_constant_is_two_multiplications():
    check_resops(body_of(_cube, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_mul_ovf=2, int_add_ovf=1))


def _harmonic(n):
    t = 0.0
    for i in range(1, n):
        t += 1 / i
    return t


def test_int_true_division_guards_zero_and_exact_conversion():
    # i != 0, then -2**53 <= i <= 2**53 so that float(i) is exact
    check_resops(body_of(_harmonic, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_ne=1, int_le=1, int_ge=1, guard_true=3,
                          cast_int_to_float=1, float_truediv=1, float_add=1))


# ---------------------------------------------------------------------------
# float arithmetic


def _float_recurrence(n):
    x = 0.0
    for _i in range(n):
        x = x * 0.5 + 1.0
    return x


def test_float_loop_boxes_nothing():
    run = collect(_float_recurrence, 1000)
    body = loop_body(run.loop())
    check_resops(body, only=True, **counts(PAUSE, RANGE_NEXT, float_mul=1, float_add=1))
    assert calls(body) == []
    check_resops(run.entries[0].ops, getfield_f=1, unbox_int=1)  # x and i unboxed on entry


def _divide_by(n, y):
    x = 0.0
    for _i in range(n):
        x = x + 1.0 / y
    return x


def test_float_division_by_an_invariant_is_hoisted_with_its_zero_check():
    run = collect(_divide_by, 1000, 3.0)
    check_resops(preamble(run.loop()), only=True, getfield_i=1, float_ne=1, guard_true=1,
                 float_truediv=1)
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, float_add=1))


def _float_square(n):
    x = 0.0
    for i in range(n):
        x = (x - 1.5) ** 2 * 0.0001 + i * 0.5
    return x


def test_float_square_is_a_multiplication_and_int_operands_are_converted():
    # no call_f to pow; the square is checked finite (CPython raises
    # OverflowError where it is inf)
    check_resops(body_of(_float_square, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, float_sub=1, float_mul=3, float_add=1,
                          cast_int_to_float=1, float_abs=1, float_lt=1, guard_true=1))


def _negate(n):
    t = 0
    x = 1.0
    for i in range(n):
        t += -i
        x = -x
    return t, x


def test_unary_minus_is_a_checked_subtraction_for_ints_and_float_neg_for_floats():
    check_resops(body_of(_negate, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_sub_ovf=1, int_add_ovf=1, float_neg=1))


# ---------------------------------------------------------------------------
# comparisons, branches, truth, identity


def _branch(n):
    t = 0
    for i in range(n):
        if i < 1000000:
            t += 1
        else:
            t -= 1
    return t


def _float_threshold(n):
    x = 0.0
    c = 0
    for _i in range(n):
        x += 0.25
        if x > 1e9:
            c += 1
    return c


def test_branch_on_a_comparison_is_one_guard():
    check_resops(body_of(_branch, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_lt=1, guard_true=1, int_add_ovf=1))
    check_resops(body_of(_float_threshold, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, float_add=1, float_gt=1, guard_false=1))


def _int_below_float(n):
    c = 0
    for i in range(n):
        if i < 1e9:
            c += 1
    return c


def test_int_compared_with_a_float_guards_exact_conversion():
    check_resops(body_of(_int_below_float, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_le=1, int_ge=1, cast_int_to_float=1,
                          float_lt=1, guard_true=3, int_add_ovf=1))


def _toggle(n):
    flag = False
    for _i in range(n):
        flag = not flag
    return flag


def test_not_of_a_bool_is_one_xor():
    check_resops(body_of(_toggle, 1000), only=True, **counts(PAUSE, RANGE_NEXT, int_xor=1))


def _if_list(xs):
    t = 0
    for _i in range(1000):
        if xs:
            t += len(xs)
    return t


def test_truth_and_len_of_an_unchanged_list_are_hoisted():
    run = collect(_if_list, [1, 2, 3])
    # the range step, then the list's size (once for both) and its test
    check_resops(preamble(run.loop()), only=True, getfield_i=2, int_ne=1, guard_true=1)
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, int_add_ovf=1))


def _is_none(n):
    t = 0
    y = None
    for _i in range(n):
        if y is None:
            t += 1
    return t


def test_is_none_of_a_known_none_records_nothing():
    check_resops(body_of(_is_none, 1000), only=True, **counts(PAUSE, RANGE_NEXT, int_add_ovf=1))


def _count_not_none(xs):
    t = 0
    for x in xs:
        if x is not None:
            t += 1
    return t


def test_is_not_none_of_a_list_item_is_decided_by_its_class_guard():
    body = body_of(_count_not_none, [[1]] * 1000)
    # no ptr_eq: the item's class is guarded, which decides `is not None`.
    # Storing the item in the local x writes it through to the frame (load
    # the old value, incref, store, Py_DecRef the old): the call may run any
    # code, so the iterator's sequence and length are reloaded every time
    check_resops(body, only=True,
                 **counts(PAUSE, SEQ_NEXT, getfield_r=1, guard_nonnull=1, getfield_i=1,
                          getlistitem_r=1, guard_class=1, raw_load_i=1, raw_load_r=1,
                          incref=1, raw_store_r=1, call_v=1, int_add_ovf=1))
    assert calls(body) == ["Py_DecRef"]


# ---------------------------------------------------------------------------
# iteration


def _sum_items(xs):
    t = 0
    for x in xs:
        t += x
    return t


def test_list_iteration_hoists_the_sequence_and_its_length():
    run = collect(_sum_items, list(range(1000)))
    check_resops(preamble(run.loop()), only=True, getfield_r=1, guard_nonnull=1, getfield_i=1)
    check_resops(loop_body(run.loop()), only=True,
                 **counts(PAUSE, SEQ_NEXT, UNBOX_INT, getlistitem_r=1, int_add_ovf=1))


def test_tuple_iteration_reads_items_inline():
    check_resops(body_of(_sum_items, tuple(range(1000))), only=True,
                 **counts(PAUSE, SEQ_NEXT, UNBOX_INT, getarrayitem_r=1, int_add_ovf=1))


def _sum_floats(xs):
    t = 0.0
    for x in xs:
        t += x
    return t


def test_float_list_iteration_unboxes_with_getfield_f():
    body = body_of(_sum_floats, [0.5] * 1000)
    check_resops(body, only=True,
                 **counts(PAUSE, SEQ_NEXT, getlistitem_r=1, guard_class=1, getfield_f=1,
                          float_add=1))
    assert calls(body) == []


def _weighted(xs):
    t = 0
    for k, x in enumerate(xs):
        t += k * x
    return t


def test_enumerate_keeps_its_pair_virtual():
    run = collect(_weighted, list(range(1000)))
    # the inner list iterator's class and sequence are checked once
    check_resops(preamble(run.loop()), only=True, getfield_r=2, guard_class=1,
                 guard_nonnull=1, getfield_i=1)
    body = loop_body(run.loop())
    # the enumerate counter is one more getfield_i, int_add and setfield_i,
    # and a guard that it is below 2**63 - 1 (CPython then counts in a
    # Python int); no tuple is allocated
    check_resops(body, only=True,
                 **counts(PAUSE, SEQ_NEXT, UNBOX_INT, getlistitem_r=1, getfield_i=1,
                          int_add=1, setfield_i=1, int_mul_ovf=1, int_add_ovf=1,
                          int_lt=1, guard_true=1))
    assert calls(body) == []


def _nested_fixed(n):
    t = 0
    for _i in range(n):
        for j in range(3):
            t += j
    return t


def test_outer_loop_builds_the_inner_range_iterator_without_calls_to_range():
    run = collect(_nested_fixed, 300)
    [inner] = run.loops
    [outer] = run.headers  # the outer loop's trace ends by jumping into the inner loop
    assert outer.ops[-1].descr is inner
    # iter(range(3)) is allocated and filled in the trace; its length is
    # computed with int ops on constants, all folded away (overflow checks
    # that cannot overflow included).  Before the jump, the outer `_i` (no
    # input of the inner loop) is boxed into its frame slot and the iterator
    # stored in its stack slot
    check_resops(outer.ops, only=True,
                 **counts(RANGE_NEXT, getfield_i=1, call_r=2, setfield_i=3, get_frame=1,
                          raw_load_i=1, raw_load_r=1, raw_store_r=2, call_v=1, jump=1))
    assert calls(outer.ops) == ["_PyObject_New", "PyLong_FromLongLong", "Py_DecRef"]
    # the inner loop's exit when it is exhausted grew a bridge back into the
    # outer loop's trace: the nest stays in compiled code.  The bridge checks
    # the outer trace's assumption (`range` not a global, still the builtin)
    # with two dictionary lookups each time it runs, then drops the exhausted
    # iterator from the frame
    [bridge] = [b for b in run.bridges() if b.ops[-1].descr is outer]
    check_resops(bridge.ops, only=True, call_i=2, guard_value_i=2, getfield_i=1, int_gt=1,
                 guard_false=1, get_frame=1, raw_load_i=1, raw_load_r=1, raw_store_r=1,
                 call_v=1, jump=1)
    assert calls(bridge.ops) == ["PyDict_GetItem", "PyDict_GetItem", "Py_DecRef"]


# ---------------------------------------------------------------------------
# subscripts


def _sum_indexed(xs):
    t = 0
    for i in range(len(xs)):
        t += xs[i]
    return t


def test_list_index_has_two_bounds_guards_and_a_hoisted_length():
    run = collect(_sum_indexed, list(range(1000)))
    check_resops(preamble(run.loop()), only=True, getfield_i=2)  # the step and len(xs)
    # i >= 0 is guarded although i comes from range(len(xs)): no int bounds yet
    check_resops(loop_body(run.loop()), only=True,
                 **counts(PAUSE, RANGE_NEXT, UNBOX_INT, int_ge=1, int_lt=1, guard_true=2,
                          getlistitem_r=1, int_add_ovf=1))


def test_tuple_index_reads_the_item_inline():
    check_resops(body_of(_sum_indexed, tuple(range(1000))), only=True,
                 **counts(PAUSE, RANGE_NEXT, UNBOX_INT, int_ge=1, int_lt=1, guard_true=2,
                          getarrayitem_r=1, int_add_ovf=1))


def _sum_last(xs):
    t = 0
    for _i in range(len(xs)):
        t += xs[-1]
    return t


def test_constant_negative_index_of_an_unchanged_list_is_hoisted():
    run = collect(_sum_last, list(range(1000)))
    check_resops(preamble(run.loop()), only=True,
                 **counts(UNBOX_INT, getfield_i=2, int_add=1, int_ge=1, guard_true=1,
                          getlistitem_r=1))
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, int_add_ovf=1))


def _fill(xs):
    for i in range(len(xs)):
        xs[i] = i
    return xs


def test_store_subscr_boxes_the_int_and_releases_the_old_item():
    body = body_of(_fill, [0] * 1000)
    # the decref of the old item may run any code: the range step and the
    # list's length are loaded again every iteration
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, getfield_i=2, int_ge=1, int_lt=1, guard_true=2,
                          call_r=1, getlistitem_r=1, setlistitem_r=1, decref=1))
    assert calls(body) == ["PyLong_FromLongLong"]


def _double(xs):
    for i in range(len(xs)):
        xs[i] = xs[i] * 2.0
    return xs


def test_store_subscr_of_a_computed_float_boxes_it_once():
    body = body_of(_double, [1.0] * 1000)
    # xs[i] is loaded once, for the value and as the old item to release:
    # the heap cache keeps it across PyFloat_FromDouble, which writes nothing
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, getfield_i=2, int_ge=1, int_lt=1, guard_true=2,
                          getlistitem_r=1, guard_class=1, getfield_f=1, float_mul=1,
                          call_r=1, setlistitem_r=1, decref=1))
    assert calls(body) == ["PyFloat_FromDouble"]


# ---------------------------------------------------------------------------
# lists built in the loop


def _pairs(n):
    t = 0
    for i in range(n):
        pair = [i, t]
        t = len(pair) + t
    return t


def test_list_display_allocates_the_list_and_boxes_its_items():
    body = body_of(_pairs, 1000)
    # PyList_New(2), two boxes stored into it, the list written through to
    # the local `pair` (releasing the previous one); len() reads its size
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, getfield_i=2, call_r=3, setlistitem_r=2,
                          raw_load_i=1, raw_load_r=1, raw_store_r=1, call_v=1, int_add_ovf=1))
    assert calls(body) == ["PyList_New", "PyLong_FromLongLong", "PyLong_FromLongLong",
                           "Py_DecRef"]


def _doubled(xs):
    return [x * 2 for x in xs]


def test_list_comprehension_appends_each_boxed_item():
    body = body_of(_doubled, list(range(1000)))
    # PyList_Append may run code: the iterator's sequence and length are
    # reloaded each time (comprehensions are inlined on 3.12 and 3.13 alike)
    check_resops(body, only=True,
                 **counts(PAUSE, SEQ_NEXT, UNBOX_INT, getfield_r=1, guard_nonnull=1,
                          getfield_i=1, getlistitem_r=1, int_mul_ovf=1, call_r=1, call_i=1,
                          decref=1))
    assert calls(body) == ["PyLong_FromLongLong", "PyList_Append"]


def _rows(n):
    t = 0
    for _i in range(n):
        row = [0.0] * 3
        t += len(row)
    return t


def test_list_times_int_calls_sequence_repeat():
    body = body_of(_rows, 1000)
    # the display [0.0] is built (and the constant 0.0 boxed anew each
    # iteration), its size times the count is checked (a huge list is
    # CPython's to build or refuse), repeated, released; the result goes to
    # the local `row`
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, getfield_i=3, call_r=3, setlistitem_r=1,
                          guard_nonnull=1, decref=1, raw_load_i=1, raw_load_r=1, raw_store_r=1,
                          call_v=1, int_add_ovf=1, int_mul_ovf=1, int_le=1, guard_true=1))
    assert calls(body) == ["PyList_New", "PyFloat_FromDouble", "PySequence_Repeat",
                           "Py_DecRef"]


# ---------------------------------------------------------------------------
# tuples


def _fib_masked(n):
    a, b = 0, 1
    for _i in range(n):
        a, b = b, (a + b) & 0xFFFF
    return a


def test_swap_through_a_tuple_allocates_nothing():
    # the compiler turns `a, b = b, c` into SWAP on 3.12 and 3.13
    check_resops(body_of(_fib_masked, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_add_ovf=1, int_and=1))


def _quot_rem(a, b):
    return a // b, a % b


def _sum_quot_rem(n):
    t = 0
    for i in range(n):
        q, r = _quot_rem(i, 7)
        t += q + r
    return t


def test_tuple_returned_by_an_inlined_call_stays_virtual():
    body = body_of(_sum_quot_rem, 1000)
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, int_floordiv=1, int_mod=1, int_add_ovf=2))
    assert calls(body) == []


def _sum_pairs(xs):
    t = 0
    for a, b in xs:
        t += a * b
    return t


def test_unpacking_a_real_tuple_guards_its_length_once():
    # the item's class, its size == 2, then each of its two ints
    check_resops(body_of(_sum_pairs, [(1, 2)] * 1000), only=True,
                 **counts(PAUSE, SEQ_NEXT, getlistitem_r=1, guard_class=3, getfield_i=1,
                          guard_value_i=1, getarrayitem_r=2, unbox_int=2, int_mul_ovf=1,
                          int_add_ovf=1))


# ---------------------------------------------------------------------------
# globals, module attributes, builtins

SCALE = 7


def _add_global(n):
    t = 0
    for _i in range(n):
        t += SCALE
    return t


def test_global_is_a_constant_checked_once_on_entry():
    run = collect(_add_global, 1000)
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, int_add_ovf=1))
    assert any(op.name == "int_add_ovf" and any(getattr(a, "value", None) == 7 for a in op.args)
               for op in loop_body(run.loop()))
    entry = run.entries[0].ops
    check_resops(entry, call_i=1, guard_value_i=1)
    assert calls(entry) == ["PyDict_GetItem"]


def _add_pi(n):
    x = 0.0
    for _i in range(n):
        x += math.pi
    return x


def test_module_attribute_is_a_constant_checked_on_entry():
    run = collect(_add_pi, 1000)
    check_resops(loop_body(run.loop()), only=True, **counts(PAUSE, RANGE_NEXT, float_add=1))
    # `math` in the module's globals, then `pi` in math's dict
    check_resops(run.entries[0].ops, call_i=2, guard_value_i=2)


def _abs_distance(n):
    t = 0
    x = 0.0
    for i in range(n):
        t += abs(i - 500)
        x += abs(x - 3.0)
    return t + x


def test_abs_is_branch_free_for_ints_and_float_abs_for_floats():
    # int: guard i != MIN, then (i ^ (i >> 63)) - (i >> 63)
    check_resops(body_of(_abs_distance, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_sub_ovf=1, int_ne=1, guard_true=1,
                          int_rshift=1, int_xor=1, int_sub=1, int_add_ovf=1, float_sub=1,
                          float_abs=1, float_add=1))


def _clamped(n):
    t = 0
    for i in range(n):
        t += min(i, 500) + max(i, 10)
    return t


def test_min_and_max_become_guarded_comparisons():
    run = collect(_clamped, 1000)
    # traced with 3 <= i < 10: min took i (guard_false 500 < i), max took 10
    check_resops(loop_body(run.loop()), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_lt=1, guard_false=1, int_gt=1, guard_true=1,
                          int_add_ovf=2))
    # the two other cases are bridges.  Each bridge checks the globals it and
    # its target loop assumed, every time it runs: two lookups per name
    # (module, then builtins), and `max` twice in the first
    lookups = sorted(op_counts(b.ops)["call_i"] for b in run.bridges())
    assert lookups == [4, 6]


def _conversions(n):
    t = 0
    x = 0.0
    for i in range(n):
        x += float(i)
        t += int(x * 0.5)
    return t


def test_float_and_int_builtins_are_casts():
    # int(x) guards that x fits in 64 bits (two comparisons)
    check_resops(body_of(_conversions, 1000), only=True,
                 **counts(PAUSE, RANGE_NEXT, cast_int_to_float=1, float_add=1, float_mul=1,
                          float_lt=1, float_gt=1, guard_true=2, cast_float_to_int=1,
                          int_add_ovf=1))


def _sum_sqrt_floor(n):
    x = 0.0
    t = 0
    for i in range(n):
        x += math.sqrt(i)
        t += math.floor(i * 0.5)
    return x, t


def test_math_functions_call_libm_between_guards():
    run = collect(_sum_sqrt_floor, 1000)
    body = loop_body(run.loop())
    # sqrt: argument finite; result not nan and finite (else CPython raises).
    # floor: its result must fit in 64 bits (two comparisons) to become an int.
    # float(i) is computed once for both (common subexpression)
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, cast_int_to_float=1, float_abs=2, float_lt=3,
                          float_eq=1, float_gt=1, guard_true=5, call_f=2, float_add=1,
                          float_mul=1, cast_float_to_int=1, int_add_ovf=1))
    assert calls(body) == ["sqrt", "floor"]
    # `math` is a global, sqrt and floor attributes of it: checked on entry
    assert calls(run.entries[0].ops) == ["PyDict_GetItem"] * 3


# ---------------------------------------------------------------------------
# calls inlined into the trace


def _square(x):
    return x * x


def _plus(a, b=1, *, c=2):
    return _square(a) + b + c


def _sum_calls(n):
    t = 0
    for i in range(n):
        t += _square(i) + _plus(i, c=3)
    return t


def test_inlined_calls_leave_no_call_and_no_frame():
    run = collect(_sum_calls, 1000)
    body = loop_body(run.loop())
    # _square twice (once nested in _plus, with a default and a keyword
    # argument) of the same value: one int_mul_ovf, the second merged with it;
    # the adds of _plus and of the caller
    check_resops(body, only=True,
                 **counts(PAUSE, RANGE_NEXT, int_mul_ovf=1, int_add_ovf=4))
    assert calls(body) == []
    # the functions are globals, each looked up once on entry (_square's
    # second use, inside _plus, is the same assumption); each function's
    # __code__, __defaults__ and __kwdefaults__ are checked too (3 loads
    # each; c is passed, so no keyword-only default is looked up)
    check_resops(run.entries[0].ops, call_i=2, guard_value_i=8)


# ---------------------------------------------------------------------------
# bridges


def _parity(n):
    t = 0
    for i in range(n):
        if i % 2:
            t += 1
        else:
            t += 2
    return t


def test_a_branch_that_flips_grows_a_bridge_back_into_the_loop():
    run = collect(_parity, 1000)
    loop = run.loop()
    check_resops(loop_body(loop), only=True,
                 **counts(PAUSE, RANGE_NEXT, int_mod=1, int_ne=1, guard_true=1, int_add_ovf=1))
    [bridge] = run.bridges()
    assert bridge.ops[-1].name == "jump" and bridge.ops[-1].descr is loop
    if PY312:
        # 3.12 branches on the int `i % 2` itself: the bridge resumes before
        # POP_JUMP_IF_FALSE and tests its truth again
        check_resops(bridge.ops, only=True, int_ne=1, guard_false=1, int_add_ovf=1, jump=1)
    else:
        # 3.13 has a TO_BOOL first: the bridge starts with the bool computed
        check_resops(bridge.ops, only=True, guard_false=1, int_add_ovf=1, jump=1)

