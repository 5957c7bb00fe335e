"""The cases of the backend conformance suite (see :mod:`tracejit.testing.conformance`).

``OP_CASES`` maps an operation of ``OPS`` to the body of its own case (the
operations that need memory, objects or control flow are covered by the
scenarios of :mod:`tracejit.testing.conformance_scenarios`, which name the
operations they cover).

Expected values come from Python: ints wrapped to int64, float operators,
``math``/``struct`` for bit patterns, ctypes for memory.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

from tracejit.backend import c_symbol
from tracejit.ir import FLOAT, INT, REF, LongLayout
from tracejit.testing.conformance import (
    EXITS,
    INT64_MAX,
    INT64_MIN,
    NULL,
    Expr,
    Harness,
    K,
    Var,
    run_exprs,
    wrap,
)

MAX, MIN = INT64_MAX, INT64_MIN
INF, NAN = math.inf, math.nan

INT_EDGES = [
    0, 1, -1, 2, -2, 3, 7, -7, 64,
    2**31 - 1, 2**31, -(2**31), 2**32, 2**32 + 1, -(2**32),
    0x123456789ABCDEF0, -0x0FEDCBA987654321,
    MAX, MAX - 1, MIN, MIN + 1,
]
SMALL_INTS = [0, 1, -1, 7, 2**31, 2**32, -(2**32), MAX, MIN]
SHIFTS = [0, 1, 2, 7, 31, 32, 33, 62, 63]
FLOAT_EDGES = [
    0.0, -0.0, 1.0, -1.0, 1.5, -2.5, 3.0, 7.0, -7.0, 0.1,
    1e308, -1e308, 5e-324, -5e-324, 2.2250738585072014e-308, 2.0**53,
    INF, -INF, NAN,
]
SMALL_FLOATS = [0.0, -0.0, 1.0, -2.5, 5e-324, INF, -INF, NAN]

Fn = Callable[..., Any]


def _ok(fn: Fn, args: tuple) -> bool:
    """``args`` is in ``fn``'s domain (Python does not raise for it)."""
    try:
        fn(*args)
    except (ZeroDivisionError, OverflowError, ValueError):
        return False
    except Exception:  # noqa: BLE001 - Exits: in the domain, the op leaves the trace
        return True
    return True


def binop_exprs(name: str, fn: Fn, t: str, left: list, right: list,
                domain: Callable[[Any, Any], bool] = lambda a, b: True) -> list[Expr]:
    """var op var, var op const (every right value) and const op var (every
    left value), each on every input of its domain."""

    def good(a: Any, b: Any) -> bool:
        return domain(a, b) and _ok(fn, (a, b))

    exprs = [Expr(name, (Var(t), Var(t)), fn,
                  [(a, b) for a in left for b in right if good(a, b)])]
    for c in right:
        ins = [(a,) for a in left if good(a, c)]
        if ins:
            exprs.append(Expr(name, (Var(t), K(t, c)), fn, ins))
    for c in left:
        ins = [(b,) for b in right if good(c, b)]
        if ins:
            exprs.append(Expr(name, (K(t, c), Var(t)), fn, ins))
    return exprs


def guarded_exprs(name: str, fn: Fn, t: str, values: list) -> list[Expr]:
    """A comparison feeding guard_true / guard_false (compare-and-branch fusion),
    with variables and with constants on either side."""
    pairs = [(a, b) for a in values for b in values]
    exprs = [Expr(name, (Var(t), Var(t)), fn, pairs, guard="guard_true"),
             Expr(name, (Var(t), Var(t)), fn, pairs, guard="guard_false")]
    for c in values[::2]:
        exprs.append(Expr(name, (Var(t), K(t, c)), fn, [(a,) for a in values],
                          guard="guard_true"))
        exprs.append(Expr(name, (K(t, c), Var(t)), fn, [(a,) for a in values],
                          guard="guard_false"))
    return exprs


# ---------------------------------------------------------------------------
# integer semantics


def _ovf(v: int) -> int:
    if not MIN <= v <= MAX:
        raise EXITS
    return v


def _lshift_ovf(a: int, b: int) -> int:
    r = wrap(a << b)
    if r >> b != a:
        raise EXITS
    return r


def _floordiv(a: int, b: int) -> int:
    return a // b


INT_BINOPS: dict[str, tuple[Fn, Callable[[int, int], bool] | None]] = {
    "int_add": (lambda a, b: wrap(a + b), None),
    "int_sub": (lambda a, b: wrap(a - b), None),
    "int_mul": (lambda a, b: wrap(a * b), None),
    "int_and": (lambda a, b: a & b, None),
    "int_or": (lambda a, b: a | b, None),
    "int_xor": (lambda a, b: a ^ b, None),
    "int_lshift": (lambda a, b: wrap(a << b), None),
    "int_rshift": (lambda a, b: a >> b, None),
    "int_floordiv": (_floordiv, lambda a, b: b != 0 and not (a == MIN and b == -1)),
    # INT64_MIN % -1 has its own case (it traps in x86's idiv): see
    # conformance_scenarios.min_mod_minus_one
    "int_mod": (lambda a, b: a % b, lambda a, b: b != 0 and not (a == MIN and b == -1)),
    "int_add_ovf": (lambda a, b: _ovf(a + b), None),
    "int_sub_ovf": (lambda a, b: _ovf(a - b), None),
    "int_mul_ovf": (lambda a, b: _ovf(a * b), None),
    "int_lshift_ovf": (_lshift_ovf, None),
}
INT_CMPS: dict[str, Fn] = {
    "int_lt": lambda a, b: int(a < b),
    "int_le": lambda a, b: int(a <= b),
    "int_eq": lambda a, b: int(a == b),
    "int_ne": lambda a, b: int(a != b),
    "int_gt": lambda a, b: int(a > b),
    "int_ge": lambda a, b: int(a >= b),
}


def _int_binop_case(name: str) -> Callable[[Harness], None]:
    fn, domain = INT_BINOPS[name]
    right = SHIFTS if "shift" in name else INT_EDGES
    # divisors that exercise the sign rules and the power-of-two paths
    if name in ("int_floordiv", "int_mod"):
        right = INT_EDGES + [3, -3, 10, -10, 16, -16, 2**62]

    def body(h: Harness) -> None:
        run_exprs(h, name, binop_exprs(name, fn, INT, INT_EDGES, right,
                                       domain or (lambda a, b: True)))

    return body


def _cmp_case(name: str, fn: Fn, t: str, edges: list, small: list) -> Callable[[Harness], None]:
    def body(h: Harness) -> None:
        run_exprs(h, name, binop_exprs(name, fn, t, edges, edges))
        run_exprs(h, f"{name} + guard", guarded_exprs(name, fn, t, small))

    return body


def _unary_case(name: str, fn: Fn, t: str, values: list,
                domain: Callable[[Any], bool] = lambda a: True) -> Callable[[Harness], None]:
    def body(h: Harness) -> None:
        good = [v for v in values if domain(v) and _ok(fn, (v,))]
        exprs = [Expr(name, (Var(t),), fn, [(v,) for v in good])]
        exprs += [Expr(name, (K(t, v),), fn, [()]) for v in good]
        run_exprs(h, name, exprs)

    return body


# ---------------------------------------------------------------------------
# float semantics


def _truediv(a: float, b: float) -> float:
    if b == 0.0:  # IEEE: Python raises, the operation does not
        if a == 0.0 or math.isnan(a):
            return NAN
        negative = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        return -INF if negative else INF
    return a / b


FLOAT_BINOPS: dict[str, tuple[Fn, Callable[[float, float], bool] | None]] = {
    "float_add": (lambda a, b: a + b, None),
    "float_sub": (lambda a, b: a - b, None),
    "float_mul": (lambda a, b: a * b, None),
    "float_truediv": (_truediv, None),
    "float_floordiv": (lambda a, b: a // b, lambda a, b: b != 0.0),
    "float_mod": (lambda a, b: a % b, lambda a, b: b != 0.0),
}
FLOAT_CMPS: dict[str, Fn] = {
    "float_lt": lambda a, b: int(a < b),
    "float_le": lambda a, b: int(a <= b),
    "float_eq": lambda a, b: int(a == b),
    "float_ne": lambda a, b: int(a != b),
    "float_gt": lambda a, b: int(a > b),
    "float_ge": lambda a, b: int(a >= b),
}


def _float_binop_case(name: str) -> Callable[[Harness], None]:
    fn, domain = FLOAT_BINOPS[name]
    right = FLOAT_EDGES + ([0.3, -0.3, 1e-300, 2.0, -2.0] if name in (
        "float_floordiv", "float_mod") else [])

    def body(h: Harness) -> None:
        run_exprs(h, name, binop_exprs(name, fn, FLOAT, FLOAT_EDGES, right,
                                       domain or (lambda a, b: True)))

    return body


INT_TO_FLOAT = INT_EDGES + [
    2**53, 2**53 + 1, 2**53 + 2, 2**53 + 3, -(2**53 + 1), -(2**53 + 3),
    2**62 + 2**9, 2**62 + 2**10 + 2**9, 2**62 + 1, 2**63 - 512, 2**63 - 513,
]
FLOAT_TO_INT = [
    0.0, -0.0, 0.5, -0.5, 0.9999999999999999, 1.5, -1.5, 2.5, -2.5, 1e18, -1e18,
    123456789.987, -987654321.123, 5e-324, -5e-324, 2.0**31, 2.0**32 + 0.5,
    -(2.0**31) - 0.5, 9.223372036854774784e18, -9.223372036854775808e18,
    4503599627370495.5, -4503599627370495.5,
]


def _fits(v: float) -> bool:
    return not math.isnan(v) and not math.isinf(v) and MIN <= int(v) <= MAX


# ---------------------------------------------------------------------------
# references


class _Thing:
    """Instances with a known class, weak-referenceable."""


class _SubThing(_Thing):
    pass


_OBJECTS = [_Thing(), _Thing(), "text", (1, 2), None]


def _ptr_case(name: str, fn: Fn) -> Callable[[Harness], None]:
    def body(h: Harness) -> None:
        addrs = [id(o) for o in _OBJECTS] + [0]
        exprs = [Expr(name, (Var(REF), Var(REF)), fn, [(a, b) for a in addrs for b in addrs])]
        for c in (_OBJECTS[0], None, NULL):
            ins = [(a,) for a in addrs]
            exprs.append(Expr(name, (Var(REF), K(REF, c)), fn, ins))
            exprs.append(Expr(name, (K(REF, c), Var(REF)), fn, ins))
        exprs.append(Expr(name, (Var(REF), Var(REF)), fn, [(a, b) for a in addrs for b in addrs],
                          guard="guard_true"))
        run_exprs(h, name, exprs)

    return body


# ---------------------------------------------------------------------------
# guards


def _guard_case(name: str) -> Callable[[Harness], None]:
    big = 0x123456789ABCDEF0

    def body(h: Harness) -> None:
        if name == "guard_true":
            vals = [(v,) for v in (1, 0, -1, 2**32, 2**31, MIN, 0, MAX, 256)]
            exprs = [Expr(name, (Var(INT),), lambda a: None if a else _raise(), vals)]
        elif name == "guard_false":
            vals = [(v,) for v in (0, 1, -1, 2**32, 2**31, MIN, 0, 256)]
            exprs = [Expr(name, (Var(INT),), lambda a: _raise() if a else None, vals)]
        elif name == "guard_value_i":
            fn = _eq_guard
            close = [(big,), (big ^ (1 << 40),), (big & 0xFFFFFFFF,), (big ^ 1,), (0,), (MIN,)]
            exprs = [
                Expr(name, (Var(INT), K(INT, big)), fn, close),
                Expr(name, (Var(INT), K(INT, MIN)), fn, [(MIN,), (0,), (MAX,)]),
                Expr(name, (Var(INT), K(INT, -1)), fn, [(-1,), (0xFFFFFFFF,), (1,)]),
                Expr(name, (Var(INT), K(INT, 0)), fn, [(0,), (2**32,), (1,)]),
                Expr(name, (Var(INT), Var(INT)), fn,
                     [(a, b) for a in SMALL_INTS for b in SMALL_INTS]),
            ]
        elif name == "guard_value_r":
            a, b = _OBJECTS[0], _OBJECTS[1]
            ins = [(id(a),), (id(b),), (id(None),), (0,)]
            exprs = [
                Expr(name, (Var(REF), K(REF, a)), _eq_guard, ins),
                Expr(name, (Var(REF), K(REF, None)), _eq_guard, ins),
                Expr(name, (Var(REF), Var(REF)), _eq_guard,
                     [(x, y) for (x,) in ins for (y,) in ins]),
            ]
        elif name == "guard_class":
            objs = [_Thing(), _SubThing(), 5, 2**100, "s", None, _Thing]
            h.keepalive.append(objs)
            ins = [(id(o),) for o in objs]

            def cls(a: int, t: int) -> None:
                if id(type(ctypes.cast(a, ctypes.py_object).value)) != t:
                    raise EXITS

            exprs = [
                Expr(name, (Var(REF), K(INT, id(_Thing))), cls, ins),
                Expr(name, (Var(REF), K(INT, id(int))), cls, ins),
                Expr(name, (Var(REF), Var(INT)), cls,
                     [(id(o), id(t)) for o in objs for t in (_Thing, int, type, type(None))]),
            ]
        else:  # guard_nonnull
            ins = [(id(_OBJECTS[0]),), (0,), (id(None),)]
            exprs = [Expr(name, (Var(REF),), lambda a: None if a else _raise(), ins)]
        # a value computed before the guards, written to their fail values
        exprs.insert(0, Expr("int_add", (Var(INT), K(INT, 1)), lambda a, b: wrap(a + b),
                             [(5,), (MAX,)]))
        run_exprs(h, name, exprs)

    return body


def _raise() -> None:
    raise EXITS


def _eq_guard(a: Any, b: Any) -> None:
    if a != b:
        raise EXITS


# ---------------------------------------------------------------------------
# unbox_int


def long_layout() -> LongLayout:
    """The ``unbox_int`` descriptor for this CPython (as the tracer builds it)."""
    from tracejit import cpython as cp

    return LongLayout(cp.LONG_TAG, cp.LONG_DIGITS, cp.LONG_NON_SIZE_BITS,
                      c_symbol("PyLong_AsLongAndOverflow"))


def _unbox_case(h: Harness) -> None:
    values = [0, 1, -1, 5, -5, 2**30 - 1, 2**30, -(2**30), -(2**30) + 1, 2**31, 2**32,
              2**60 + 12345, -(2**60), 0x123456789ABCDEF0, MAX, MIN, MIN + 1, MAX - 1,
              MAX + 1, MIN - 1, 2**64, -(2**64), 2**100 + 7, -(3**80)]
    # fresh objects, not cached small ints only
    objs = [int(str(v)) for v in values]
    h.keepalive.append(objs)

    def unbox(a: int) -> int:
        v = ctypes.cast(a, ctypes.py_object).value
        if not MIN <= v <= MAX:
            raise EXITS
        return v

    lay = long_layout()
    ins = [(id(o),) for o in objs]
    exprs = [Expr("unbox_int", (Var(REF),), unbox, ins, descr=lay) for _ in range(2)]
    exprs.append(Expr("unbox_int", (K(REF, objs[values.index(0x123456789ABCDEF0)]),), unbox,
                      [()], descr=lay))
    exprs.append(Expr("unbox_int", (K(REF, objs[values.index(-5)]),), unbox, [()], descr=lay))
    run_exprs(h, "unbox_int", exprs)


# ---------------------------------------------------------------------------
# the table of per-op cases

OP_CASES: dict[str, Callable[[Harness], None]] = {}
for _n in INT_BINOPS:
    OP_CASES[_n] = _int_binop_case(_n)
for _n, _f in INT_CMPS.items():
    OP_CASES[_n] = _cmp_case(_n, _f, INT, INT_EDGES, SMALL_INTS)
OP_CASES["int_neg"] = _unary_case("int_neg", lambda a: wrap(-a), INT, INT_EDGES)
OP_CASES["int_invert"] = _unary_case("int_invert", lambda a: ~a, INT, INT_EDGES)
for _n in FLOAT_BINOPS:
    OP_CASES[_n] = _float_binop_case(_n)
for _n, _f in FLOAT_CMPS.items():
    OP_CASES[_n] = _cmp_case(_n, _f, FLOAT, FLOAT_EDGES, SMALL_FLOATS)
OP_CASES["float_neg"] = _unary_case("float_neg", lambda a: -a, FLOAT, FLOAT_EDGES)
OP_CASES["float_abs"] = _unary_case("float_abs", abs, FLOAT, FLOAT_EDGES)
OP_CASES["cast_int_to_float"] = _unary_case("cast_int_to_float", float, INT, INT_TO_FLOAT)
OP_CASES["cast_float_to_int"] = _unary_case("cast_float_to_int", int, FLOAT,
                                            FLOAT_TO_INT + FLOAT_EDGES, _fits)
def _ref_address_case(h: Harness) -> None:
    addrs = [id(o) for o in _OBJECTS] + [0]
    exprs = [Expr("ref_address", (Var(REF),), lambda a: a, [(a,) for a in addrs])]
    exprs += [Expr("ref_address", (K(REF, c),), lambda a: a, [()])
              for c in (_OBJECTS[0], None, NULL)]
    run_exprs(h, "ref_address", exprs)


OP_CASES["ref_address"] = _ref_address_case
OP_CASES["ptr_eq"] = _ptr_case("ptr_eq", lambda a, b: int(a == b))
OP_CASES["ptr_ne"] = _ptr_case("ptr_ne", lambda a, b: int(a != b))
for _n in ("guard_true", "guard_false", "guard_value_i", "guard_value_r", "guard_class",
           "guard_nonnull"):
    OP_CASES[_n] = _guard_case(_n)
OP_CASES["unbox_int"] = _unbox_case
