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


def _opt(text, ns=None, header=None):
    """Optimize a text trace (``header``: a loop's header snapshot, for LICM)."""
    t = parse(text, ns)
    keep = []
    for op in t.ops:
        if op.fail_args:
            keep += op.fail_args
    resolve = optimize(t, lambda: keep, header)
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
    # a store through another object at the same offset may be the same memory
    t = _opt("""
    [r0, r5, i1]
    i2 = getfield_i(r0) descr=16
    setfield_i(r5, i1) descr=16
    i3 = getfield_i(r0) descr=16
    i4 = int_add(i2, i3)
    finish(i4)
    """)
    assert [op.name for op in t.ops].count("getfield_i") == 2


def test_a_load_after_a_store_reads_the_stored_value():
    t = _opt("""
    [r0, r5, i1, i6]
    setfield_i(r0, i1) descr=16
    i3 = getfield_i(r0) descr=16
    setfield_i(r0, i6) descr=24
    i7 = getfield_i(r0) descr=16
    setfield_i(r5, i6) descr=16
    i8 = getfield_i(r0) descr=16
    i4 = int_add(i3, i7)
    i9 = int_add(i4, i8)
    finish(i9)
    """)
    names = [op.name for op in t.ops]
    # the first two loads read i1 (a store elsewhere in r0 does not touch it);
    # a store at that offset through r5, which may be r0, makes the third load stay
    assert names.count("getfield_i") == 1, names
    first_add = next(op for op in t.ops if op.name == "int_add")
    assert first_add.args[0] is first_add.args[1] is t.inputargs[2]


def test_a_fresh_int_box_is_not_unboxed_again():
    from tracejit import cpython as cp
    from tracejit import helpers

    t = _opt("""
    [r0, i1]
    r2 = call_r(i1) descr=BOX
    setlistitem_r(r0, 0, r2) descr=24
    r3 = getlistitem_r(r0, 0) descr=24
    guard_class(r3, %d) []
    i4 = unbox_int(r3) descr=LONG
    finish(i4)
    """ % id(int), {"BOX": helpers.box_int(), "LONG": cp.long_layout()})
    names = [op.name for op in t.ops]
    assert "unbox_int" not in names and "guard_class" not in names, names


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
    "cast_float_to_int", "ptr_eq", "ptr_ne", "ref_address", "get_frame",
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


# ---------------------------------------------------------------------------
# the passes ask the table: an op added to it is optimized by its entry

HEADER = object()  # stands for a loop's header snapshot: LICM runs


def _names(t):
    return [op.name for op in t.ops]


def _add_ops(monkeypatch, *defs):
    for d in defs:
        monkeypatch.setitem(OPS, d.name, d)


def test_a_new_pure_op_is_folded_merged_dropped_and_hoisted(monkeypatch):
    _add_ops(monkeypatch, ir.OpDef("test_avg", "ii", "i", Effect.PURE, doc="(a + b) >> 1",
                                   evaluate=lambda a, b: (a + b) >> 1))
    t = _opt("""
    [i0]
    i1 = test_avg(4, 8)
    i2 = test_avg(i0, i1)
    i3 = test_avg(i0, i1)
    i4 = test_avg(i0, 100)
    i5 = int_add(i2, i3)
    finish(i5)
    """)
    assert _names(t) == ["test_avg", "int_add", "finish"]
    assert t.ops[0].args[1].value == 6
    t = _opt("""
    [i0, i1]
    label(i0, i1)
    i2 = test_avg(i0, 10)
    i3 = int_add(i1, i2)
    jump(i0, i3)
    """, header=HEADER)
    assert _names(t) == ["test_avg", "label", "int_add", "jump"]


def _load_and_store_ops(monkeypatch, heap=ir.HEAP_FIELD):
    _add_ops(
        monkeypatch,
        ir.OpDef("test_load", "r", "i", Effect.LOAD, heap=heap, descr="offset",
                 doc="int64 at a + offset"),
        ir.OpDef("test_store", "ri", "v", Effect.STORE, heap=heap, descr="offset",
                 doc="store int64 at a + offset"),
    )


def test_a_new_load_op_is_merged_until_a_store_may_overwrite_it(monkeypatch):
    _load_and_store_ops(monkeypatch)
    text = """
    [r0, i1]
    i2 = test_load(r0) descr=A
    {between}
    i3 = test_load(r0) descr=A
    i4 = test_load(r0) descr=B
    i5 = int_add(i2, i3)
    finish(i5)
    """
    ns = {"A": ir.FieldOffset(16, "test.a"), "B": ir.FieldOffset(24, "test.b"),
          "C": ir.FieldOffset(16, "test.c")}
    quiet = _opt(text.format(between="test_store(r0, i1) descr=C"), ns)  # another field
    # merged; the unused one dropped
    assert _names(quiet) == ["test_load", "test_store", "int_add", "finish"]
    written = _opt(text.format(between="test_store(r0, i1) descr=A"), ns)
    assert _names(written).count("test_load") == 2
    plain = _opt(text.format(between="test_store(r0, i1) descr=16"), ns)  # unnamed: may alias
    assert _names(plain).count("test_load") == 2


def test_a_new_load_op_is_hoisted_only_from_loops_that_cannot_write_it(monkeypatch):
    _load_and_store_ops(monkeypatch)
    loop = """
    [r0, i1]
    label(r0, i1)
    i2 = test_load(r0) descr=16
    i3 = int_add(i1, i2)
    {store}
    jump(r0, i3)
    """
    hoisted = _opt(loop.format(store="test_store(r0, i3) descr=24"), header=HEADER)
    assert _names(hoisted)[:2] == ["test_load", "label"]
    stays = _opt(loop.format(store="test_store(r0, i3) descr=16"), header=HEADER)
    assert _names(stays)[:2] == ["label", "test_load"]


def test_a_new_guard_op_is_deduplicated_proved_by_constants_and_kept(monkeypatch):
    _add_ops(monkeypatch, ir.OpDef("test_guard_pos", "i", "v", Effect.GUARD,
                                   guard=True, doc="exit unless a > 0",
                                   evaluate=lambda a: True if a > 0 else None))
    t = _opt("""
    [i0]
    test_guard_pos(i0) []
    test_guard_pos(i0) []
    test_guard_pos(5) []
    test_guard_pos(-5) []
    finish()
    """)
    assert _names(t) == ["test_guard_pos", "test_guard_pos", "finish"]
    assert t.ops[1].args[0].value == -5  # always exits: stays


# ---------------------------------------------------------------------------
# what calls write, as their descriptors say

ALLOC = ir.CallDescr("alloc", 0, "f", "r", allocates=True, writes=Writes.NOTHING)
APPEND = ir.CallDescr("append", 0, "rr", "i", writes=Writes.ARGS)
ANYTHING = ir.CallDescr("anything", 0, "r", "v", releases=True)
SQRT = ir.CallDescr("sqrt", 0, "f", "f", pure=True)
CALLS = {"ALLOC": ALLOC, "APPEND": APPEND, "ANYTHING": ANYTHING, "SQRT": SQRT,
         "L": ir.LongLayout(16, 24, 3, 0), "T": ir.FieldOffset(16, "test.t")}


@pytest.mark.parametrize("between,loads", [
    ("r9 = call_r(1.5) descr=ALLOC", 1),
    ("r9 = call_r(f1) descr=ALLOC", 1),
    ("incref(r0)", 1),
    ("i9 = call_i(r0, r0) descr=APPEND", 2),
    ("call_v(r0) descr=ANYTHING", 2),
    ("decref(r0)", 2),
    ("f9 = call_f(f1) descr=SQRT", 1),
])
def test_cached_loads_survive_calls_that_write_nothing(between, loads):
    t = _opt(f"""
    [r0, f1]
    i2 = getfield_i(r0) descr=T
    {between}
    i3 = getfield_i(r0) descr=T
    i4 = int_add(i2, i3)
    finish(i4)
    """, CALLS)
    assert _names(t).count("getfield_i") == loads


def test_pure_calls_are_merged_dropped_and_hoisted_allocations_are_not():
    t = _opt("""
    [f0]
    f1 = call_f(f0) descr=SQRT
    f2 = call_f(f0) descr=SQRT
    f3 = call_f(2.0) descr=SQRT
    r4 = call_r(f0) descr=ALLOC
    r5 = call_r(f0) descr=ALLOC
    r6 = call_r(f0) descr=ALLOC
    f7 = float_add(f1, f2)
    finish(f7, r4, r5)
    """, CALLS)
    assert _names(t) == ["call_f", "call_r", "call_r", "call_r", "float_add", "finish"]
    loop = _opt("""
    [f0, f1]
    label(f0, f1)
    f2 = call_f(f0) descr=SQRT
    r3 = call_r(f0) descr=ALLOC
    f4 = float_add(f1, f2)
    decref(r3)
    jump(f0, f4)
    """, CALLS, header=HEADER)
    assert _names(loop) == ["call_f", "label", "call_r", "float_add", "decref", "jump"]


def test_loads_are_hoisted_over_allocating_calls_not_over_writing_ones():
    loop = """
    [r0, f1]
    label(r0, f1)
    f2 = getfield_f(r0) descr=T
    f3 = float_add(f1, f2)
    {call}
    jump(r0, f3)
    """
    moved = _opt(loop.format(call="r4 = call_r(f3) descr=ALLOC\nsetlistitem_r(r0, 0, r4) descr=24"),
                 CALLS, HEADER)
    assert _names(moved)[:2] == ["getfield_f", "label"]
    for call in ["i4 = call_i(r0, r0) descr=APPEND", "call_v(r0) descr=ANYTHING"]:
        stays = _opt(loop.format(call=call), CALLS, HEADER)
        assert _names(stays)[:2] == ["label", "getfield_f"], call


def test_an_int_value_is_never_clobbered():
    t = _opt("""
    [r0]
    i1 = unbox_int(r0) descr=L []
    call_v(r0) descr=ANYTHING
    i2 = unbox_int(r0) descr=L []
    i3 = int_add(i1, i2)
    finish(i3)
    """, CALLS)
    assert _names(t).count("unbox_int") == 1


# ---------------------------------------------------------------------------
# heaps: which store may overwrite which load

@pytest.mark.parametrize("load,store,merged", [
    ("getlistitem_r(r0, 0) descr=LI", "setlistitem_r(r0, 1, r1) descr=LI", True),
    ("getlistitem_r(r0, 0) descr=LI", "setlistitem_r(r0, i2, r1) descr=LI", False),
    ("getlistitem_r(r0, 0) descr=LI", "setlistitem_r(r0, 0, r1) descr=LI", False),
    ("getlistitem_r(r0, 0) descr=LI", "setfield_r(r0, r1) descr=LI", False),  # item array
    ("getlistitem_r(r0, 0) descr=LI", "setfield_i(r0, i2) descr=T", True),
    ("getlistitem_r(r0, 0) descr=LI", "raw_store_i(i2, i2) descr=0", True),
    ("getarrayitem_r(r0, 2) descr=24", "setlistitem_r(r0, 2, r1) descr=LI", True),
    ("getarrayitem_r(r0, 2) descr=24", "setfield_r(r0, r1) descr=40", False),  # item 2
    ("getarrayitem_r(r0, 2) descr=24", "setfield_r(r0, r1) descr=32", True),
    ("getarrayitem_r(r0, i2) descr=24", "setfield_r(r0, r1) descr=32", False),
    ("getarrayitem_r(r0, i2) descr=24", "setfield_r(r0, r1) descr=T", True),
    ("getfield_r(r0) descr=T", "setfield_r(r0, r1) descr=U", True),  # another name
    ("getfield_r(r0) descr=T", "setfield_r(r0, r1) descr=16", False),  # unnamed, same offset
    ("getfield_r(r0) descr=T", "raw_store_r(i2, r1) descr=16", False),  # one address space
    ("getfield_r(r0) descr=T", "raw_store_r(i2, r1) descr=24", True),
    ("raw_load_r(i2) descr=16", "setfield_r(r0, r1) descr=16", False),
    ("raw_load_r(i2) descr=16", "setlistitem_r(r0, 0, r1) descr=LI", True),
])
def test_what_a_store_may_overwrite(load, store, merged):
    ns = {"LI": ir.FieldOffset(24, "list.items"), "T": ir.FieldOffset(16, "test.t"),
          "U": ir.FieldOffset(16, "test.u")}
    t = _opt(f"""
    [r0, r1, i2]
    r3 = {load}
    {store}
    r4 = {load}
    finish(r3, r4)
    """, ns)
    # merged: the second load is the first; else it is loaded again, or is
    # the value the store wrote there
    first, second = t.ops[-1].args
    assert (second is first) == merged
    if not merged and "setlistitem_r(r0, 0," in store:
        assert second is t.inputargs[1]  # (forwarded from the store)


def test_overflow_checks_merge_and_fold_when_they_cannot_fail():
    t = _opt("""
    [i0]
    i1 = int_add_ovf(i0, 1)
    i2 = int_add_ovf(i0, 1)
    i3 = int_mul_ovf(3, 4)
    i4 = int_add_ovf(9223372036854775807, 1)
    i5 = int_add(i1, i2)
    i6 = int_add(i5, i3)
    finish(i6, i4)
    """)
    assert _names(t) == ["int_add_ovf", "int_add_ovf", "int_add", "int_add", "finish"]
    assert t.ops[1].args[0].value == ir.INT64_MAX  # always exits: kept
    assert t.ops[3].args[1].value == 12


def test_fold_edge_values():
    from tracejit.opt.fold import evaluate

    assert evaluate("float_truediv", [1.0, -0.0]) == -math.inf
    assert math.isnan(evaluate("float_truediv", [0.0, 0.0]))
    assert evaluate("int_lshift", [1, 64]) is None  # outside the domain
    assert evaluate("int_rshift", [-8, 1]) == -4
    assert evaluate("cast_float_to_int", [math.nan]) is None
    assert evaluate("cast_float_to_int", [-2.9]) == -2
    assert evaluate("cast_float_to_int", [2.0**63]) is None
    assert evaluate("int_mul_ovf", [1 << 62, 2]) is None
    assert evaluate("int_lshift_ovf", [3, 62]) is None
    assert evaluate("guard_true", [0]) is None and evaluate("guard_true", [5]) is True
    obj = object()
    assert evaluate("ptr_eq", [obj, obj]) == 1  # objects stand for their addresses
    assert evaluate("ptr_ne", [ir.NULL_VALUE, 0]) == 0
    assert evaluate("guard_class", [id(obj), id(object)]) is None  # reads memory
    assert evaluate("unknown_op", [1]) is None


# ---------------------------------------------------------------------------
# one evaluation: folding computes what the reference backend executes

_EDGE_INTS = [0, 1, -1, 2, -3, 7, 31, 62, 63, 64, -64, 1 << 31, (1 << 32) + 5,
              ir.INT64_MAX, ir.INT64_MIN, ir.INT64_MAX - 1, ir.INT64_MIN + 1, -(10**15)]
_EDGE_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e308, -1e308, 5e-324, math.inf,
                -math.inf, math.nan, 2.0**63, -(2.0**63), 2.0**53 + 1, -7.25]
_OBJECTS = (object(), object())
_EDGE_REFS = [0, id(_OBJECTS[0]), id(_OBJECTS[1])]
_EDGES = {"i": _EDGE_INTS, "f": _EDGE_FLOATS, "r": _EDGE_REFS}
FOLDABLE = [name for name, d in OPS.items() if d.evaluate is not None]


def _bits(type_, v):
    if type_ == "f":
        return "nan" if math.isnan(v) else ir.float_bits(v)
    return v


def _const(type_, v):
    if type_ == "r":
        return ir.CONST_NULL if v == 0 else ir.const_ref(_OBJECTS[_EDGE_REFS.index(v) - 1])
    return ir.Const(type_, v)


def _fold_pass(name, values):
    """The optimizer on ``name`` applied to constants: ("value", v), ("exits",)
    when the op stays, or ("holds",) when a guard without a result vanished."""
    d = OPS[name]
    op = ir.Op(name, [_const(t, v) for t, v in zip(d.args, values)])
    ops = [op, ir.Op("finish", [op] if d.result != "v" else [])]
    for o in ops:
        o.exit, o.fail_args = ir.ExitDescr(), []
    t = ir.Trace([], ops)
    resolve = optimize(t, lambda: [])
    if d.result == "v":
        return ("exits",) if name in _names(t) else ("holds",)
    result = resolve(op)
    return ("value", _bits(d.result, result.value)) if result.is_const() else ("exits",)


@pytest.mark.parametrize("name", FOLDABLE)
def test_folding_and_the_reference_backend_agree_on_edge_values(name):
    import ctypes
    import itertools

    from tracejit.opt.fold import evaluate
    from tracejit.registry import get_backend

    d = OPS[name]
    args = ", ".join(f"{t}{k}" for k, t in enumerate(d.args))
    res = f"{d.result}9 = " if d.result != "v" else ""
    trace = parse(f"""
    [{args}]
    {res}{name}({args}) []
    finish() [{d.result + "9" if res else ""}]
    """)
    for number, guard in enumerate(trace.guards(), 1):  # the op's own exit is 1
        guard.exit.number = number
    finished = len(trace.guards())
    compiled = get_backend("reference").compile(trace)
    buf = (ctypes.c_int64 * 4)()
    checked = 0
    for values in itertools.product(*(_EDGES[t] for t in d.args)):
        try:
            d.evaluate(*values)
        except (ArithmeticError, ValueError):
            continue  # outside the op's domain: undefined, nothing to compare
        folded = evaluate(name, list(values))
        for k, (t, v) in enumerate(zip(d.args, values)):
            buf[k] = ir.float_bits(v) if t == "f" else v
        exit = compiled.run(0, ctypes.addressof(buf))
        where = f"{name}{values}"
        if d.result == "v":
            assert exit == (finished if folded else 1), where
            assert _fold_pass(name, values) == (("holds",) if folded else ("exits",)), where
        elif folded is None:
            assert exit == 1 and d.guard, where
            assert _fold_pass(name, values) == ("exits",), where
        else:
            got = ir.bits_float(buf[0]) if d.result == "f" else buf[0]
            assert exit == finished, where
            assert _bits(d.result, got) == _bits(d.result, folded), where
            assert _fold_pass(name, values) == ("value", _bits(d.result, folded)), where
        checked += 1
    assert checked
