"""The IR table, its text form, and the optimizer passes, tested on text traces."""

from __future__ import annotations

import math

import pytest

from tracejit import ir
from tracejit.ir import OPS, dump, parse
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
