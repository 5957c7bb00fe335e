"""Scenario cases of the backend conformance suite: memory, reference counts,
calls, exits with many values, register pressure, loops, bridges and jumps
between traces (see :mod:`tracejit.testing.conformance`).

Each scenario names the operations of ``OPS`` it covers; expected values are
computed here with Python ints wrapped to int64, Python floats and ctypes.
"""

from __future__ import annotations

import ctypes
import math
import sys
import weakref
from collections.abc import Callable
from typing import Any

from tracejit.backend import c_function, c_symbol
from tracejit.ir import FLOAT, INT, REF, CallDescr, FieldOffset, bits_float, float_bits, parse
from tracejit.testing.conformance import (
    FRAME,
    INT64_MAX,
    INT64_MIN,
    Case,
    Expr,
    Harness,
    K,
    Var,
    run_exprs,
    wrap,
)

MAX, MIN = INT64_MAX, INT64_MIN
NAN, INF = math.nan, math.inf

_incref = c_function("Py_IncRef", None, ctypes.c_void_p)
_decref = c_function("Py_DecRef", None, ctypes.c_void_p)

SCENARIOS: list[Case] = []


def scenario(name: str, *ops: str) -> Callable[[Callable[[Harness], None]], Callable]:
    def register(body: Callable[[Harness], None]) -> Callable[[Harness], None]:
        SCENARIOS.append(Case(name, body, ops, (body.__doc__ or "").strip()))
        return body

    return register


class _Obj:
    """A plain weak-referenceable object."""


def _refcnt(obj: object) -> int:
    return ctypes.c_int64.from_address(id(obj)).value


def _is_immortal(obj: object) -> bool:
    return ctypes.c_int32.from_address(id(obj)).value < 0


def _ptr_at(address: int) -> int:
    return ctypes.c_void_p.from_address(address).value or 0


# ---------------------------------------------------------------------------
# integers


@scenario("int_mod.min_by_minus_one", "int_mod")
def min_mod_minus_one(h: Harness) -> None:
    """INT64_MIN % -1 == 0 (x86's idiv traps on it: the quotient overflows)."""

    def mod(a: int, b: int) -> int:
        return a % b

    run_exprs(h, "int_mod(INT64_MIN, -1)", [
        Expr("int_mod", (Var(INT), Var(INT)), mod, [(MIN, -1), (MIN, 1), (MIN + 1, -1)]),
        Expr("int_mod", (Var(INT), K(INT, -1)), mod, [(MIN,), (MAX,)]),
        Expr("int_mod", (K(INT, MIN), Var(INT)), mod, [(-1,), (3,)]),
    ])


@scenario("int.same_operand", "int_sub", "int_xor", "float_sub")
def same_operand(h: Harness) -> None:
    """One value used as both operands (a register allocator corner)."""
    (t,) = h.compile("""
    [i0, f1]
    i2 = int_sub(i0, i0)
    i3 = int_add(i0, i0)
    i4 = int_mul(i0, i0)
    i5 = int_xor(i0, i0)
    i6 = int_eq(i0, i0)
    i7 = int_lshift(i0, i0)
    f8 = float_sub(f1, f1)
    f9 = float_mul(f1, f1)
    i10 = float_eq(f1, f1)
    i11 = float_ne(f1, f1)
    f12 = float_add(f1, f1)
    finish() [i2, i3, i4, i5, i6, i7, f8, f9, i10, i11, f12]
    """)
    for a, f in [(0, 0.0), (1, -0.0), (7, 1.5), (63, INF), (2, NAN), (32, -INF), (33, 1e308)]:
        got = h.run(t, [a, f])
        h.expect(f"same operand i={a} f={f!r}", got, h.exit_number(t, 0), [
            0, wrap(2 * a), wrap(a * a), 0, 1, wrap(a << a), f - f, f * f,
            int(f == f), int(f != f), f + f])


# ---------------------------------------------------------------------------
# memory


@scenario("memory.fields", "getfield_i", "getfield_f", "getfield_r", "setfield_i",
          "setfield_r", "raw_load_i", "raw_load_r", "raw_store_i", "raw_store_r")
def memory_fields(h: Harness) -> None:
    """Loads and stores at small, large, named and negative offsets of a ctypes block."""
    mem = (ctypes.c_int64 * 600)()
    base = ctypes.addressof(mem)
    a, b = _Obj(), _Obj()
    h.keepalive += [mem, a, b]
    ns = {"F": FieldOffset(32, "conformance.f"), "G": FieldOffset(4160, "conformance.far"),
          "X": a}
    (t,) = h.compile("""
    [r0, i1, r2, i3]
    i4 = getfield_i(r0) descr=8
    f5 = getfield_f(r0) descr=16
    r6 = getfield_r(r0) descr=24
    i7 = getfield_i(r0) descr=G
    setfield_i(r0, i1) descr=F
    setfield_r(r0, r2) descr=40
    i8 = getfield_i(r0) descr=F
    setfield_i(r0, -81985529216486896) descr=4168
    setfield_r(r0, ConstPtr(X)) descr=48
    setfield_r(r0, NULL) descr=56
    i9 = raw_load_i(i3) descr=64
    r10 = raw_load_r(i3) descr=72
    raw_store_i(i3, i1) descr=80
    raw_store_r(i3, r2) descr=88
    raw_store_i(i3, 1234567890123456789) descr=0
    raw_store_r(i3, ConstPtr(X)) descr=104
    i11 = raw_load_i(i3) descr=0
    r12 = getfield_r(r0) descr=40
    i13 = int_add(i3, 16)
    i14 = raw_load_i(i13) descr=-8
    raw_store_i(i13, 5) descr=4096
    finish() [i4, f5, r6, i7, i8, i9, r10, i11, r12, i14]
    """, ns=ns)
    for k, (iv, rv, fv) in enumerate([(MAX, id(b), -0.0), (MIN, id(a), NAN), (-1, 0, 5e-324),
                                      (0x123456789ABCDEF0, id(None), -INF)]):
        ctypes.memset(base, 0x5A, 600 * 8)
        mem[1] = wrap(iv ^ 0x5555)
        mem[2] = float_bits(fv)
        mem[3] = id(b) if k % 2 else id(a)
        mem[520] = wrap(MIN + k)
        mem[8] = wrap(-k - 77)
        mem[9] = id(a) if k % 2 else 0
        before = list(mem)
        got = h.run(t, [base, iv, rv, base])
        h.expect(f"memory loads/stores, run {k}", got, h.exit_number(t, 0), [
            before[1], fv, before[3], before[520], iv, before[8], before[9],
            1234567890123456789, rv, before[1]])
        after = list(mem)
        want = list(before)
        want[4], want[5] = iv, rv
        want[521] = -81985529216486896
        want[6], want[7] = id(a), 0
        want[10], want[11] = iv, rv
        want[0], want[13] = 1234567890123456789, id(a)
        want[514] = 5
        diff = [i for i in range(600) if wrap(after[i]) != wrap(want[i])]
        h.check(f"memory after run {k}", not diff,
                ", ".join(f"cell {i} (offset {8 * i}) is {after[i]:#x}, expected "
                          f"{wrap(want[i]):#x}" for i in diff[:4]))


@scenario("memory.aliasing", "getfield_i", "getfield_f", "setfield_i", "setfield_r")
def memory_aliasing(h: Harness) -> None:
    """A field store is seen by later loads of the same address: plain offsets
    may alias named ones, and an int64 store is seen by a double load."""
    mem = (ctypes.c_int64 * 8)()
    base = ctypes.addressof(mem)
    h.keepalive.append(mem)
    (t,) = h.compile("""
    [r0, i1]
    f2 = getfield_f(r0) descr=16
    setfield_i(r0, i1) descr=16
    f3 = getfield_f(r0) descr=16
    i4 = getfield_i(r0) descr=A
    setfield_i(r0, 9) descr=16
    i5 = getfield_i(r0) descr=A
    setfield_i(r0, -9) descr=A
    i6 = getfield_i(r0) descr=16
    setfield_r(r0, r0) descr=24
    i7 = getfield_i(r0) descr=24
    finish() [f2, f3, i4, i5, i6, i7]
    """, ns={"A": FieldOffset(16, "conformance.a")})
    for start, bits in [(0, float_bits(2.0)), (float_bits(-0.0), 1), (-1, MIN)]:
        mem[2] = start
        got = h.run(t, [base, bits])
        h.expect(f"field stores and loads at one address (bits {bits:#x})", got,
                 h.exit_number(t, 0), [bits_float(start), bits_float(bits), bits, 9, -9, base])


@scenario("memory.raw_field_aliasing", "getfield_i", "setfield_i", "raw_load_i",
          "raw_store_i")
def raw_field_aliasing(h: Harness) -> None:
    """raw_load/raw_store and getfield/setfield on one address see each
    other's stores (raw offsets are plain: they may alias any field there)."""
    mem = (ctypes.c_int64 * 8)()
    base = ctypes.addressof(mem)
    h.keepalive.append(mem)
    (t,) = h.compile("""
    [r0, i1]
    i2 = getfield_i(r0) descr=A
    raw_store_i(i1, 99) descr=16
    i3 = getfield_i(r0) descr=A
    setfield_i(r0, 5) descr=16
    i4 = getfield_i(r0) descr=A
    setfield_i(r0, 7) descr=A
    i5 = raw_load_i(i1) descr=16
    i6 = int_add(i1, 8)
    raw_store_i(i6, 11) descr=8
    i7 = getfield_i(r0) descr=16
    finish() [i2, i3, i4, i5, i7]
    """, ns={"A": FieldOffset(16, "conformance.a")})
    for start in (0, -3, MAX):
        mem[2] = start
        got = h.run(t, [base, base])
        h.expect(f"raw and field stores and loads at one address (cell starting at {start})",
                 got, h.exit_number(t, 0), [start, 99, 5, 7, 11])
        h.check("memory after the run", mem[2] == 11, f"cell is {mem[2]}")


@scenario("memory.items", "getarrayitem_r", "getlistitem_r", "setlistitem_r", "getfield_i",
          "getfield_r")
def memory_items(h: Harness) -> None:
    """Items of a real tuple and a real list, by variable and constant index."""
    from tracejit import cpython as cp

    tup = tuple(_Obj() for _ in range(40))
    lst = [_Obj() for _ in range(40)]
    new = [_Obj() for _ in range(4)]
    h.keepalive += [tup, lst, new]
    ns = {"L": cp.LIST_ITEMS, "T": cp.TUPLE_ITEMS}
    (t,) = h.compile("""
    [r0, i1, r2, i3, r4]
    r5 = getarrayitem_r(r0, i1) descr=T
    r6 = getarrayitem_r(r0, 39) descr=T
    r7 = getlistitem_r(r2, i3) descr=L
    r8 = getlistitem_r(r2, 0) descr=L
    setlistitem_r(r2, i3, r4) descr=L
    r9 = getlistitem_r(r2, i3) descr=L
    setlistitem_r(r2, 1, r5) descr=L
    r10 = getlistitem_r(r2, 1) descr=L
    i11 = getfield_i(r0) descr=8
    r12 = getfield_r(r0) descr=T
    finish() [r5, r6, r7, r8, r9, r10, i11, r12]
    """, ns=ns)
    items = _ptr_at(id(lst) + int(cp.LIST_ITEMS))
    for k, (ti, li) in enumerate([(0, 5), (39, 39), (17, 1), (3, 0)]):
        before = list(lst)  # holds its own references to the old items
        expected_list = list(before)
        expected_list[li] = new[k]
        expected_list[1] = tup[ti]
        got = h.run(t, [id(tup), ti, id(lst), li, id(new[k])])
        h.expect(f"tuple[{ti}], list[{li}] = new, list[1] = tuple item", got,
                 h.exit_number(t, 0),
                 [id(tup[ti]), id(tup[39]), id(before[li]), id(before[0]), id(new[k]),
                  id(tup[ti]), id(tuple), id(tup[0])])
        raw = [_ptr_at(items + 8 * i) for i in range(40)]
        bad = [i for i in range(40) if raw[i] != id(expected_list[i])]
        h.check("list contents after setlistitem_r", not bad, f"wrong items at {bad[:5]}")
        # setlistitem_r does no reference counting: give the list the references
        # it now holds, whatever the backend wrote, so that nothing leaks or dies
        for i in range(40):
            if raw[i] != id(before[i]):
                _incref(raw[i])
                _decref(id(before[i]))
        if bad:
            lst[:] = before  # restore a sane list
        del before


# ---------------------------------------------------------------------------
# reference counts


@scenario("refcount.incref_decref", "incref", "decref")
def refcounts(h: Harness) -> None:
    """incref/decref change ob_refcnt by exactly what the trace says."""
    x = _Obj()
    h.keepalive.append(x)
    (t,) = h.compile("""
    [r0, r1, i2]
    incref(r0)
    incref(r0)
    decref(r0)
    incref(ConstPtr(X))
    decref(r1)
    i3 = int_add(i2, 1)
    finish() [r0, i3]
    """, ns={"X": x})
    a, b = _Obj(), [1, 2]
    rc = sys.getrefcount
    for k in range(3):
        ca, cb, cx = rc(a), rc(b), rc(x)
        _incref(id(b))  # the trace's decref(r1) consumes this one
        got = h.run(t, [id(a), id(b), k])
        h.expect(f"incref/decref run {k}", got, h.exit_number(t, 0), [id(a), k + 1])
        h.check(f"refcount of r0 after run {k}", rc(a) == ca + 1, f"{rc(a)}, expected {ca + 1}")
        h.check(f"refcount of r1 after run {k}", rc(b) == cb, f"{rc(b)}, expected {cb}")
        h.check(f"refcount of the constant after run {k}", rc(x) == cx + 1,
                f"{rc(x)}, expected {cx + 1}")
        # give back what the trace took, whatever it did
        for _ in range(rc(a) - ca):
            _decref(id(a))
        for _ in range(rc(x) - cx):
            _decref(id(x))


@scenario("refcount.decref_frees", "decref")
def decref_frees(h: Harness) -> None:
    """A decref that drops the last reference deallocates the object."""
    (t,) = h.compile("""
    [r0, i1]
    decref(r0)
    finish() [i1]
    """)
    died: list[int] = []
    for k in range(3):
        obj = _Obj()
        ref = weakref.ref(obj, lambda _, k=k: died.append(k))
        address = id(obj)
        _incref(address)
        del obj  # only the reference taken above is left
        got = h.run(t, [address, k])
        h.expect(f"decref of the last reference, run {k}", got, h.exit_number(t, 0), [k])
        h.check(f"object freed by decref, run {k}", died[-1:] == [k] and ref() is None,
                "the weakref callback did not run")


@scenario("refcount.immortal", "incref", "decref")
def immortal(h: Harness) -> None:
    """incref/decref leave immortal objects (None, True, small ints) unchanged."""
    (t,) = h.compile("""
    [r0]
    incref(r0)
    incref(r0)
    decref(r0)
    decref(r0)
    decref(r0)
    decref(ConstPtr(N))
    incref(ConstPtr(N))
    incref(ConstPtr(N))
    finish() [r0]
    """, ns={"N": None})
    objs = [o for o in (None, True, False, 5, ()) if _is_immortal(o)]
    if not objs:
        return  # before 3.12: no immortal objects to check
    for o in objs:
        counts = (_refcnt(o), _refcnt(None))
        for _ in range(3):
            got = h.run(t, [id(o)])
            h.expect(f"incref/decref of immortal {o!r}", got, h.exit_number(t, 0), [id(o)])
        h.check(f"ob_refcnt of immortal {o!r} unchanged", (_refcnt(o), _refcnt(None)) == counts,
                f"{counts} became {(_refcnt(o), _refcnt(None))}")


# ---------------------------------------------------------------------------
# calls

_CALLBACKS: list[Any] = []
_CT = {INT: ctypes.c_int64, FLOAT: ctypes.c_double, REF: ctypes.c_void_p}


def callback(name: str, argtypes: str, restype: str, fn: Callable[..., Any]) -> CallDescr:
    """A C-callable function (a ctypes callback) wrapped in a CallDescr; no
    ``pyimpl``, so the reference backend calls the real address too."""
    proto = ctypes.PYFUNCTYPE(_CT.get(restype), *[_CT[t] for t in argtypes])
    cb = proto(fn)
    _CALLBACKS.append(cb)
    return CallDescr(name, ctypes.cast(cb, ctypes.c_void_p).value or 0, argtypes, restype)


def _libm(name: str, arity: int) -> CallDescr:
    return CallDescr(name, c_symbol(name), FLOAT * arity, FLOAT, pure=True)


@scenario("calls.libm", "call_f")
def calls_libm(h: Harness) -> None:
    """call_f to libm functions by address, variable and constant arguments."""
    floats = [0.0, -0.0, 0.5, 2.0, -3.5, 10.0, 1e-300, 1e300, INF, -INF, NAN]

    def domain(fn: Callable, *args: float) -> bool:
        try:
            fn(*args)
        except (ValueError, OverflowError):
            return False
        return True

    exprs = []
    for name, fn, arity in [("pow", math.pow, 2), ("atan2", math.atan2, 2),
                            ("sqrt", math.sqrt, 1), ("fmod", math.fmod, 2),
                            ("exp", math.exp, 1)]:
        d = _libm(name, arity)
        if arity == 2:
            pairs = [(a, b) for a in floats for b in floats if domain(fn, a, b)]
            exprs.append(Expr("call_f", (Var(FLOAT), Var(FLOAT)), fn, pairs, descr=d))
            exprs.append(Expr("call_f", (Var(FLOAT), K(FLOAT, 3.0)), fn,
                              [(a,) for a in floats if domain(fn, a, 3.0)], descr=d))
            exprs.append(Expr("call_f", (K(FLOAT, -2.5), Var(FLOAT)), fn,
                              [(b,) for b in floats if domain(fn, -2.5, b)], descr=d))
        else:
            exprs.append(Expr("call_f", (Var(FLOAT),), fn,
                              [(a,) for a in floats if domain(fn, a)], descr=d))
    run_exprs(h, "libm calls", exprs)


def _mix(*args: Any) -> int:
    acc = 0x12345
    for k, v in enumerate(args):
        bits = float_bits(v) if isinstance(v, float) else v
        acc = wrap(acc * 1000003 + (bits ^ k))
    return acc


@scenario("calls.mixed_arguments", "call_i", "call_f")
def calls_mixed(h: Harness) -> None:
    """Many interleaved int and float arguments (some on the stack), int64 and
    double results with extreme values."""
    types = "ififiifffiiffifif"  # 8 ints, 9 floats: more than fit in registers
    d_i = callback("mix_i", types, INT, _mix)
    d_f = callback("mix_f", "fif", FLOAT, lambda x, i, y: x * i + y)
    d_min = callback("ret_min", "i", INT, lambda a: MIN + (a & 1))
    d_nz = callback("ret_neg_zero", "f", FLOAT, lambda a: -0.0 if a == a else NAN)
    ints = [0, -1, MAX, MIN, 2**32, -7, 123456789012345, 2**31]
    floats = [0.0, -0.0, 1.5, NAN, INF, -1e308, 5e-324, 2.0**53, -7.25]
    ins = []
    for r in range(len(ints) + len(floats)):
        it, fl = iter(ints[r % 8:] + ints[:r % 8]), iter(floats[r % 9:] + floats[:r % 9])
        ins.append(tuple(next(it) if t == "i" else next(fl) for t in types))
    exprs = [
        Expr("call_i", tuple(Var(t) for t in types), _mix, ins, descr=d_i),
        Expr("call_i", tuple(Var(t) if k % 3 else K(t, 5 if t == "i" else -0.5)
                             for k, t in enumerate(types)), _mix,
             [tuple(v for k, v in enumerate(x) if k % 3) for x in ins], descr=d_i),
        Expr("call_f", (Var(FLOAT), Var(INT), Var(FLOAT)), lambda x, i, y: x * i + y,
             [(f, i, g) for f in floats[:5] for i in ints[:4] for g in floats[4:6]], descr=d_f),
        Expr("call_i", (Var(INT),), lambda a: MIN + (a & 1), [(0,), (1,)], descr=d_min),
        Expr("call_f", (Var(FLOAT),), lambda a: -0.0 if a == a else NAN, [(1.0,), (NAN,)],
             descr=d_nz),
    ]
    run_exprs(h, "mixed-argument calls", exprs)


@scenario("calls.new_references", "call_r", "decref")
def calls_new_refs(h: Harness) -> None:
    """call_r to CPython's boxing functions; the results are owned references."""
    box_f = CallDescr("PyFloat_FromDouble", c_symbol("PyFloat_FromDouble"), FLOAT, REF)
    box_i = CallDescr("PyLong_FromLongLong", c_symbol("PyLong_FromLongLong"), INT, REF)
    (t,) = h.compile("""
    [f0, i1]
    r2 = call_r(f0) descr=BF
    r3 = call_r(i1) descr=BI
    r4 = call_r(-0.0) descr=BF
    r5 = call_r(-9223372036854775808) descr=BI
    decref(r4)
    finish() [r2, r3, r5, f0, i1]
    """, ns={"BF": box_f, "BI": box_i})
    for f, i in [(1.5, 7), (-0.0, MAX), (NAN, MIN), (1e308, -1), (5e-324, 2**40)]:
        got = h.run(t, [f, i])
        if got.exit != h.exit_number(t, 0) or len(got.values) != 5:
            h.expect(f"boxing {f!r}, {i}", got, h.exit_number(t, 0), [0, 0, 0, f, i])
            continue
        objs = [ctypes.cast(a, ctypes.py_object).value for a in got.values[:3]]
        for a in got.values[:3]:
            _decref(a)  # the trace's own references
        ok = (isinstance(objs[0], float) and float_bits(objs[0]) == float_bits(f)
              or (math.isnan(f) and math.isnan(objs[0]))) and objs[1] == i and objs[2] == MIN
        h.check(f"boxed values of {f!r}, {i}", ok, f"got {objs!r}")
        h.expect(f"values live across the calls ({f!r}, {i})",
                 type(got)(got.exit, got.values[3:], got.types[3:]), got.exit, [f, i])


@scenario("calls.void_and_live_values", "call_v", "call_i")
def calls_void(h: Harness) -> None:
    """call_v with int, float and ref arguments; 40 values live across calls."""
    seen: list[tuple] = []
    d_v = callback("record", "ifr", "v", lambda i, f, r: seen.append((i, f, r or 0)))
    d_id = callback("ident", "i", INT, lambda i: i)
    n = 20
    lines = ["[i0, f1, r2]"]
    for k in range(n):
        lines.append(f"i{10 + k} = int_add(i0, {k * 0x100000001})")
        lines.append(f"f{40 + k} = float_add(f1, {k + 0.25})")
    lines.append("call_v(i0, f1, r2) descr=V")
    lines.append("i70 = call_i(i10) descr=ID")
    lines.append("call_v(-5, -0.0, NULL) descr=V")
    live = [f"i{10 + k}" for k in range(n)] + [f"f{40 + k}" for k in range(n)]
    lines.append(f"finish() [i70, {', '.join(live)}, r2]")
    (t,) = h.compile("\n".join(lines), ns={"V": d_v, "ID": d_id})
    obj = _Obj()
    for i, f in [(0, 0.0), (MAX, NAN), (-123, -2.5), (2**40, 1e300)]:
        seen.clear()
        got = h.run(t, [i, f, id(obj)])
        want = [i] + [wrap(i + k * 0x100000001) for k in range(n)] + \
            [f + (k + 0.25) for k in range(n)] + [id(obj)]
        h.expect(f"values live across calls (i={i}, f={f!r})", got, h.exit_number(t, 0), want)
        ok = len(seen) == 2 and seen[0][0] == i and seen[0][2] == id(obj) and \
            (float_bits(seen[0][1]) == float_bits(f) or math.isnan(f) and math.isnan(seen[0][1])) \
            and seen[1][0] == -5 and float_bits(seen[1][1]) == float_bits(-0.0) and seen[1][2] == 0
        h.check(f"arguments received by call_v (i={i}, f={f!r})", ok, f"got {seen!r}")


# ---------------------------------------------------------------------------
# exits


def _values(count: int, seed: int, kind: str) -> list[Any]:
    out = []
    x = seed
    for k in range(count):
        x = wrap(x * 6364136223846793005 + 1442695040888963407)
        if kind == "i":
            out.append([x, MIN, MAX, 0, -1][k % 5] if k % 7 == 3 else x)
        else:
            out.append([NAN, -0.0, INF, 5e-324][k % 4] if k % 6 == 1 else x / 2.0**40)
    return out


@scenario("exit.many_values", "guard_false", "finish")
def exit_many_values(h: Harness) -> None:
    """A guard and a finish with 60 ints, 40 floats, computed values and
    constants of every type as fail values."""
    x = _Obj()
    h.keepalive.append(x)
    ints = [f"i{k}" for k in range(60)]
    floats = [f"f{60 + k}" for k in range(40)]
    consts = ["7", "-9223372036854775808", "1311768467463790320", "2.5", "-0.0", "nan", "-inf",
              "ConstPtr(X)", "NULL"]
    text = f"""
    [{', '.join(ints + floats)}, r100]
    i101 = int_add(i0, i59)
    f102 = float_mul(f60, f99)
    i103 = int_ne(i1, 0)
    guard_false(i103) [{', '.join(ints + floats)}, {', '.join(consts)}, i101, f102, r100]
    finish() [r100, f102, i101, {', '.join(reversed(consts))}, {', '.join(floats[::-1])},
              {', '.join(ints[::-1])}]
    """.replace("\n              ", " ")
    (t,) = h.compile(text, ns={"X": x})
    cvals = [7, MIN, 1311768467463790320, 2.5, -0.0, NAN, -INF, id(x), 0]
    for seed in range(4):
        iv, fv = _values(60, seed, "i"), _values(40, seed, "f")
        iv[1] = 0 if seed % 2 else iv[1] | 1
        computed = [wrap(iv[0] + iv[59]), fv[0] * fv[39]]
        got = h.run(t, iv + fv + [id(x)])
        if seed % 2:
            h.expect(f"finish with 110 values (seed {seed})", got, h.exit_number(t, 1),
                     [id(x), computed[1], computed[0]] + cvals[::-1] + fv[::-1] + iv[::-1])
        else:
            h.expect(f"guard exit with 112 values (seed {seed})", got, h.exit_number(t, 0),
                     iv + fv + cvals + computed + [id(x)])


@scenario("exit.finish_constants", "finish")
def finish_constants(h: Harness) -> None:
    """finish with only constants, then with constants and variables mixed."""
    x = _Obj()
    h.keepalive.append(x)
    (t,) = h.compile("""
    [i0, f1]
    finish() [7, -9223372036854775808, 9223372036854775807, 1311768467463790320, -1, 0, \
    2.5, -0.0, nan, inf, 5e-324, ConstPtr(X), NULL, i0, f1, 2147483648]
    """, ns={"X": x})
    for i, f in [(0, 0.0), (-1, NAN)]:
        got = h.run(t, [i, f])
        h.expect("finish with constants", got, h.exit_number(t, 0),
                 [7, MIN, MAX, 1311768467463790320, -1, 0, 2.5, -0.0, NAN, INF, 5e-324,
                  id(x), 0, i, f, 2**31])
    (t2,) = h.compile("""
    []
    finish() []
    """)
    got = h.run(t2, [])
    h.expect("finish without values or inputs", got, h.exit_number(t2, 0), [])


@scenario("get_frame", "get_frame")
def get_frame(h: Harness) -> None:
    """get_frame returns the frame argument, also in a loop and after a call."""
    d = callback("ident", "i", INT, lambda i: i)
    (t,) = h.compile("""
    [i0]
    i1 = get_frame()
    label(i0)
    i2 = get_frame()
    i3 = call_i(i0) descr=ID
    i4 = get_frame()
    i5 = int_le(i3, 0)
    guard_false(i5) [i1, i2, i4, i3]
    i6 = int_sub(i0, 1)
    jump(i6)
    """, ns={"ID": d})
    for frame in (FRAME, 0, -1, 0x1000):
        h.frame = frame
        got = h.run(t, [3])
        h.expect(f"get_frame with frame {frame:#x}", got, h.exit_number(t, 0),
                 [frame, frame, frame, 0])
    h.frame = FRAME


# ---------------------------------------------------------------------------
# loops and register pressure


@scenario("loop.iterations", "label", "jump")
def loop_iterations(h: Harness) -> None:
    """A counting loop run 0, 1, 2 and 1,000,000 times."""
    (t,) = h.compile("""
    [i0, i1, f2]
    label(i0, i1, f2)
    i3 = int_le(i0, 0)
    guard_false(i3) [i0, i1, f2]
    i4 = int_add(i1, i0)
    f5 = float_add(f2, 1.0)
    i6 = int_sub(i0, 1)
    jump(i6, i4, f5)
    """)
    for n in (0, 1, 2, -5, h.iterations(1_000_000)):
        got = h.run(t, [n, 10, 0.5])
        m = max(n, 0)
        h.expect(f"loop of {n} iterations", got, h.exit_number(t, 0),
                 [min(n, 0), wrap(10 + m * (m + 1) // 2), 0.5 + m])


@scenario("loop.parallel_moves", "label", "jump")
def parallel_moves(h: Harness) -> None:
    """Back-edges that permute the loop-carried values: cycles, swaps,
    constants and computed values, for ints and floats."""
    (rot, swap) = h.compile("""
    [i0, i1, i2, i3, f4, f5, f6]
    label(i0, i1, i2, i3, f4, f5, f6)
    i7 = int_le(i0, 0)
    guard_false(i7) [i0, i1, i2, i3, f4, f5, f6]
    i8 = int_sub(i0, 1)
    jump(i8, i2, i3, i1, f5, f6, f4)
    """, """
    [i0, i1, i2, f3, f4, r5, r6]
    label(i0, i1, i2, f3, f4, r5, r6)
    i7 = int_le(i0, 0)
    guard_false(i7) [i0, i1, i2, f3, f4, r5, r6]
    i8 = int_sub(i0, 1)
    i9 = int_add(i1, i2)
    f10 = float_sub(f3, f4)
    jump(i8, i2, i9, f4, f10, r6, r5)
    """)
    (consts,) = h.compile("""
    [i0, i1, i2, f3]
    label(i0, i1, i2, f3)
    i4 = int_le(i0, 0)
    guard_false(i4) [i0, i1, i2, f3]
    i5 = int_sub(i0, 1)
    jump(i5, 1311768467463790320, i1, -0.0)
    """)
    a, b = _Obj(), _Obj()
    for n in (0, 1, 2, 3, 4, 5, 10, 1001):
        i, f = [7, MIN, 2**40], [1.5, NAN, -0.0]
        for _ in range(n):
            i, f = [i[1], i[2], i[0]], [f[1], f[2], f[0]]
        got = h.run(rot, [n, 7, MIN, 2**40, 1.5, NAN, -0.0])
        h.expect(f"rotating back-edge, {n} iterations", got, h.exit_number(rot, 0),
                 [0] + i + f)
        x, y, p, q, r, s = 3, MAX, 0.75, -2.0, id(a), id(b)
        for _ in range(n):
            x, y, p, q, r, s = y, wrap(x + y), q, p - q, s, r
        got = h.run(swap, [n, 3, MAX, 0.75, -2.0, id(a), id(b)])
        h.expect(f"swapping back-edge, {n} iterations", got, h.exit_number(swap, 0),
                 [0, x, y, p, q, r, s])
        want = [0, 5, 6, 2.5] if n == 0 else \
            [0, 1311768467463790320, 5 if n == 1 else 1311768467463790320, -0.0]
        got = h.run(consts, [n, 5, 6, 2.5])
        h.expect(f"constants on the back-edge, {n} iterations", got,
                 h.exit_number(consts, 0), want)


@scenario("loop.register_pressure", "label", "jump", "call_f", "guard_false")
def register_pressure(h: Harness) -> None:
    """132 values live at once: across a call and around the back-edge."""
    ni, nf = 70, 60
    sqrt = _libm("sqrt", 1)
    consts = [wrap(k * 0x9E3779B97F4A7C15) for k in range(ni)]
    a = [f"ia{k}" for k in range(ni)]
    b = [f"fb{k}" for k in range(nf)]
    lines = ["[in, iseed, fseed]"]
    lines += [f"{a[k]} = int_add(iseed, {consts[k]})" for k in range(ni)]
    lines += [f"{b[k]} = float_mul(fseed, {k + 0.5})" for k in range(nf)]
    lines += ["fabs0 = float_abs(fb0)", "fs = call_f(fabs0) descr=SQRT"]
    loop_vars = ["in"] + a + b + ["fs"]
    lines.append(f"label({', '.join(loop_vars)})")
    lines.append("iz = int_le(in, 0)")
    lines.append(f"guard_false(iz) [{', '.join(loop_vars)}]")
    lines += ["fabs1 = float_abs(fb3)", "ft = call_f(fabs1) descr=SQRT"]
    lines += [f"ix{k} = int_add({a[k]}, {a[(k + 1) % ni]})" for k in range(ni)]
    lines += [f"fy{k} = float_add({b[k]}, {b[(k + 1) % nf]})" for k in range(nf)]
    lines += [f"fz{k} = float_mul(fy{k}, 0.5)" for k in range(nf)]
    lines += ["fs2 = float_add(fs, ft)", "in2 = int_sub(in, 1)"]
    lines.append(f"jump(in2, {', '.join(f'ix{k}' for k in range(ni))}, "
                 f"{', '.join(f'fz{k}' for k in range(nf))}, fs2)")
    (t,) = h.compile("\n".join(lines), ns={"SQRT": sqrt})
    for n, seed, fseed in [(0, 1, 0.5), (1, -7, -3.25), (3, MAX, 1e300),
                           (h.iterations(1000) if not h.slow else 50, 12345, -0.001)]:
        iv = [wrap(seed + c) for c in consts]
        fv = [fseed * (k + 0.5) for k in range(nf)]
        s = math.sqrt(abs(fv[0]))
        for _ in range(n):
            t_ = math.sqrt(abs(fv[3]))
            iv = [wrap(iv[k] + iv[(k + 1) % ni]) for k in range(ni)]
            fv = [(fv[k] + fv[(k + 1) % nf]) * 0.5 for k in range(nf)]
            s = s + t_
        got = h.run(t, [n, seed, fseed])
        h.expect(f"132 live values, {n} iterations", got, h.exit_number(t, 0),
                 [0] + iv + fv + [s])


# ---------------------------------------------------------------------------
# bridges and jumps between traces


@scenario("bridge.into_loop", "jump", "label", "finish", "get_frame")
def bridge_into_loop(h: Harness) -> None:
    """A bridge on a guard of a loop, jumping back into the loop; entered a
    million times (a tail call that grew the stack would overflow it)."""
    (loop,) = h.compile("""
    [i0, i1, i2, f3]
    label(i0, i1, i2, f3)
    i4 = int_ge(i0, i1)
    guard_false(i4) [i0, i2, f3]
    i5 = int_and(i0, 1)
    guard_false(i5) [i0, i1, i2, f3]
    i6 = int_add(i2, i0)
    i7 = int_add(i0, 1)
    jump(i7, i1, i6, f3)
    """)
    (bridge, done) = h.compile(f"""
    [i0, i1, i2, f3]
    i4 = int_mul(i0, 3)
    i5 = int_sub(i2, i4)
    i6 = int_add(i0, 1)
    f7 = float_add(f3, 0.5)
    i8 = get_frame()
    i9 = int_eq(i8, {FRAME})
    guard_true(i9) [i8]
    jump(i6, i1, i5, f7) descr=LOOP
    """, """
    [i0, i1, f2]
    i3 = int_neg(i1)
    finish() [i3, f2, i0]
    """, ns={"LOOP": loop})

    def expected(n: int) -> tuple[int, float]:
        evens = (n + 1) // 2  # 0, 2, 4, ... < n
        odds = n // 2
        s = 2 * (evens - 1) * evens // 2 - 3 * odds * odds
        return wrap(s), 0.5 * odds

    got = h.run(loop, [0, 10, 0, 0.0])
    h.expect("loop without a bridge exits at the odd guard", got, h.exit_number(loop, 1),
             [1, 10, 0, 0.0])
    h.attach(loop, 1, bridge)
    for n in (0, 1, 2, 9, h.iterations(2_000_000)):
        s, f = expected(n)
        got = h.run(loop, [0, n, 0, 0.0])
        h.expect(f"loop of {n} iterations with a bridge on odd numbers", got,
                 h.exit_number(loop, 0), [n, s, f])
    h.attach(loop, 0, done)
    s, f = expected(101)
    got = h.run(loop, [0, 101, 0, 0.0])
    h.expect("a bridge on the loop's end guard that finishes", got, h.exit_number(done, 0),
             [wrap(-s), f, 101])
    h.frame = 0x1234
    got = h.run(loop, [0, 5, 0, 0.0])
    h.expect("the bridge sees the frame it was entered with", got, h.exit_number(bridge, 0),
             [0x1234])
    h.frame = FRAME
    h.attach(loop, 1, None)
    h.attach(loop, 0, None)
    got = h.run(loop, [4, 10, 3, 0.0])
    h.expect("bridges detached again", got, h.exit_number(loop, 1), [5, 10, 7, 0.0])


@scenario("jump.to_other_trace", "jump", "label")
def jump_to_other_trace(h: Harness) -> None:
    """jump with a descriptor into another compiled trace (compiled earlier,
    and compiled in the same batch), passing ints, floats and refs."""
    x = _Obj()
    h.keepalive.append(x)
    target = """
    [i0, f1, r2, i3]
    label(i0, f1, r2, i3)
    i4 = int_le(i3, 0)
    guard_false(i4) [i0, f1, r2, i3]
    i5 = int_add(i0, i3)
    f6 = float_mul(f1, -2.0)
    i7 = int_sub(i3, 1)
    jump(i5, f6, r2, i7)
    """
    entry = """
    [f0, i1]
    i2 = int_mul(i1, 3)
    f3 = float_add(f0, 0.25)
    i4 = int_lt(i1, 0)
    guard_false(i4) [i1, f0]
    jump(i2, f3, ConstPtr(X), 4) descr=T
    """
    for batch in (False, True):
        if batch:
            tgt = parse(target)
            (tgt, ent) = h.compile(tgt, parse(entry, {"T": tgt, "X": x}), batch=True)
        else:
            (tgt,) = h.compile(target)
            (ent,) = h.compile(entry, ns={"T": tgt, "X": x})
        what = "same batch" if batch else "compiled earlier"
        for i, f in [(5, 1.0), (MAX, -0.0), (-1, 2.0), (0, NAN)]:
            got = h.run(ent, [f, i])
            if i < 0:
                h.expect(f"entry guard before the jump ({what})", got, h.exit_number(ent, 0),
                         [i, f])
                continue
            v, g = wrap(3 * i), f + 0.25
            for c in (4, 3, 2, 1):
                v, g = wrap(v + c), g * -2.0
            h.expect(f"jump into another trace ({what}), {i}, {f!r}", got,
                     h.exit_number(tgt, 0), [v, g, id(x), 0])

