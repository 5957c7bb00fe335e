"""The IR table, its text form, and the optimizer passes, tested on text traces."""

from __future__ import annotations

import math

import pytest

from tracejit import ir
from tracejit.ir import OPS, Effect, Writes, dump, parse
from tracejit.opt import optimize


def test_every_op_is_described():
    for name, d in OPS.items():
        assert d.result in "ifrv", name
        assert d.args == "*" or set(d.args) <= set("ifr"), name
        assert d.doc, name
        assert not (d.guard and d.releases), name


def test_dump_parse_roundtrip():
    text = """
    [i0, f1]
    label(i0, f1)
    i2 = int_add_ovf(i0, 1)
    f3 = float_mul(f1, 2.5)
    i4 = int_lt(i2, 100)
    guard_true(i4) [i2, f3]
    jump(i2, f3)
    """
    t = parse(text)
    t.check()
    again = parse(dump(t))
    assert [op.name for op in again.ops] == [op.name for op in t.ops]
    assert dump(again) == dump(t)


def test_check_rejects_bad_types_and_undefined_values():
    with pytest.raises(ValueError):
        parse("[i0]\nf1 = float_neg(i0)\nfinish()").check()
    t = parse("[i0]\ni1 = int_neg(i0)\nfinish()")
    t.ops[0].args = [ir.InputArg("i")]
    with pytest.raises(ValueError):
        t.check()
    with pytest.raises(ValueError):
        parse("[i0]\ni1 = int_neg(i0)").check()


def test_parse_rejects_unknown_ops():
    with pytest.raises(ValueError):
        parse("[i0]\ni1 = int_frobnicate(i0)\nfinish()")


def _opt(text):
    t = parse(text)
    keep = []
    for op in t.ops:
        if op.fail_args:
            keep += op.fail_args
    resolve = optimize(t, lambda: keep)
    for op in t.ops:
        if op.fail_args:
            op.fail_args = [resolve(v) for v in op.fail_args]
    return t


def test_constant_folding_and_true_guards_vanish():
    t = _opt("""
    [i0]
    i1 = int_add(3, 4)
    i2 = int_lt(i1, 10)
    guard_true(i2) []
    i3 = int_mul(i0, i1)
    finish(i3)
    """)
    names = [op.name for op in t.ops]
    assert names == ["int_mul", "finish"]
    assert t.ops[0].args[1].value == 7


def test_fold_respects_python_semantics_and_overflow():
    from tracejit.opt.fold import evaluate

    assert evaluate("int_floordiv", [-7, 2]) == -4
    assert evaluate("int_mod", [-7, 2]) == 1
    assert evaluate("float_mod", [-1.0, 3.0]) == 2.0
    assert evaluate("int_add", [ir.INT64_MAX, 1]) == ir.INT64_MIN  # wrapping op
    assert evaluate("int_floordiv", [1, 0]) is None
    assert math.isnan(evaluate("float_add", [math.nan, 1.0]))


def test_cse_and_duplicate_guards():
    t = _opt("""
    [i0, r1]
    i2 = int_add(i0, 1)
    i3 = int_add(i0, 1)
    guard_class(r1, 77) []
    guard_class(r1, 77) []
    i4 = getfield_i(r1) descr=16
    i5 = getfield_i(r1) descr=16
    i6 = int_add(i3, i5)
    i7 = int_add(i6, i4)
    finish(i2, i7)
    """)
    names = [op.name for op in t.ops]
    assert names.count("int_add") == 3
    assert names.count("guard_class") == 1
    assert names.count("getfield_i") == 1


def test_heap_cache_is_invalidated_by_stores():
    t = _opt("""
    [r0, i1]
    i2 = getfield_i(r0) descr=16
    setfield_i(r0, i1) descr=16
    i3 = getfield_i(r0) descr=16
    i4 = int_add(i2, i3)
    finish(i4)
    """)
    assert [op.name for op in t.ops].count("getfield_i") == 2


def test_dce_keeps_values_needed_by_guards():
    t = _opt("""
    [i0]
    i1 = int_mul(i0, 3)
    i2 = int_mul(i0, 5)
    i3 = int_lt(i0, 10)
    guard_true(i3) [i1]
    finish()
    """)
    names = [op.name for op in t.ops]
    assert names == ["int_mul", "int_lt", "guard_true", "finish"]
    assert t.ops[0].args[1].value == 3


# ---------------------------------------------------------------------------
# the op table's effect answers

# what the table answered before effects were added; derived answers must not move
PURE_OPS = {
    "int_add", "int_sub", "int_mul", "int_and", "int_or", "int_xor", "int_lshift",
    "int_rshift", "int_floordiv", "int_mod", "int_lt", "int_le", "int_eq", "int_ne",
    "int_gt", "int_ge", "int_neg", "int_invert", "int_add_ovf", "int_sub_ovf",
    "int_mul_ovf", "int_lshift_ovf", "float_add", "float_sub", "float_mul",
    "float_truediv", "float_floordiv", "float_mod", "float_lt", "float_le", "float_eq",
    "float_ne", "float_gt", "float_ge", "float_neg", "float_abs", "cast_int_to_float",
    "cast_float_to_int", "ptr_eq", "ptr_ne", "get_frame",
}
GUARD_OPS = {
    "int_add_ovf", "int_sub_ovf", "int_mul_ovf", "int_lshift_ovf", "unbox_int", "guard_true",
    "guard_false", "guard_value_i", "guard_value_r", "guard_class", "guard_nonnull", "finish",
}


def test_every_op_has_an_effect_class_consistent_with_its_entry():
    for name, d in OPS.items():
        assert isinstance(d.effect, Effect), name
        if d.effect is Effect.LOAD:
            assert d.heap is not None and d.result != "v", name
        elif d.effect is Effect.STORE:
            assert d.heap is not None and d.result == "v", name
        else:
            assert d.heap is None, name
        if d.effect is Effect.GUARD:
            assert d.guard and d.result == "v", name
        if d.effect is Effect.CALL:
            assert d.descr == "call", name
        if d.evaluate is not None:  # only ops whose result follows from their arguments
            assert d.effect in (Effect.PURE, Effect.GUARD), name
        assert d.pure == (d.effect is Effect.PURE), name


def test_pure_guard_and_releases_answer_as_before():
    assert {n for n, d in OPS.items() if d.pure} == PURE_OPS
    assert {n for n, d in OPS.items() if d.guard} == GUARD_OPS
    assert {n for n, d in OPS.items() if d.releases} == {"decref"}


def test_effects_of_the_ops_that_are_two_things_at_once():
    assert OPS["int_add_ovf"].effect is Effect.PURE and OPS["int_add_ovf"].guard
    unbox = OPS["unbox_int"]
    assert unbox.effect is Effect.LOAD and unbox.guard and unbox.heap in ir.IMMUTABLE_HEAPS
    assert OPS["decref"].effect is Effect.STORE and OPS["decref"].releases
    assert OPS["finish"].effect is Effect.CONTROL and OPS["finish"].guard
    assert OPS["get_frame"].effect is Effect.PURE and OPS["get_frame"].evaluate is None
    assert OPS["guard_class"].evaluate is None  # it reads the object's type
    assert OPS["getlistitem_r"].heap == ir.HEAP_LISTITEM
    assert OPS["getarrayitem_r"].heap == ir.HEAP_ARRAYITEM
    assert OPS["raw_store_i"].heap == ir.HEAP_RAW
    assert OPS["setfield_r"].heap == ir.HEAP_FIELD


def test_call_descriptors_default_to_the_conservative_answer():
    d = ir.CallDescr("f", 0, "i", "i")
    assert d.can_raise and d.writes is Writes.ANYTHING and not d.releases
    p = ir.CallDescr("g", 0, "f", "f", pure=True)
    assert not p.can_raise and p.writes is Writes.NOTHING
    with pytest.raises(ValueError):
        ir.CallDescr("h", 0, "f", "f", pure=True, writes=Writes.ARGS)
    with pytest.raises(ValueError):
        ir.CallDescr("k", 0, "r", "v", releases=True, writes=Writes.NOTHING)


def test_helpers_say_what_they_do():
    from tracejit import helpers

    # (can_raise, releases, writes, allocates)
    expected = {
        "box_float": (True, False, Writes.NOTHING, True),
        "box_int": (True, False, Writes.NOTHING, True),
        "new_list": (True, False, Writes.NOTHING, True),
        "new_tuple": (True, False, Writes.NOTHING, True),
        "new_object": (True, False, Writes.NOTHING, True),
        "sequence_repeat": (True, False, Writes.NOTHING, True),
        "sequence_list": (True, False, Writes.NOTHING, True),
        "list_append": (True, False, Writes.ARGS, False),
        "dict_lookup": (False, False, Writes.NOTHING, False),
        "xincref": (False, False, Writes.NOTHING, False),
        "xdecref": (False, True, Writes.ANYTHING, False),
        "get_iter": (True, True, Writes.ANYTHING, False),
        "new_range_iter": (True, True, Writes.ANYTHING, False),
    }
    for name, (can_raise, releases, writes, allocates) in expected.items():
        d = getattr(helpers, name)()
        assert (d.can_raise, d.releases, d.writes, d.allocates) == \
            (can_raise, releases, writes, allocates), name
        assert not d.pure, name
    for name in helpers.MATH_FUNCTIONS:
        d = helpers.libm(name)
        assert d.pure and not d.can_raise and d.writes is Writes.NOTHING, name

