"""Tests specific to the C backend: hand-written IR traces compared with the
reference backend, tail calls that must not grow the C stack, and a clear
error when no C compiler works."""

from __future__ import annotations

import ctypes
import math
import os
import subprocess
import sys
import weakref

import pytest

from tracejit.backend import BackendUnavailable, Trace, bits_float, float_bits
from tracejit.helpers import box_float, libm
from tracejit.ir import parse
from tracejit.registry import available_backends, get_backend

pytestmark = pytest.mark.skipif("c" not in available_backends(), reason="c backend unusable")

# the repository root: this file is backends/tracejit_c/tests/test_c_backend.py
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Run:
    """Compiles IR text with one backend and runs it through the calling convention."""

    def __init__(self, backend: str) -> None:
        self.backend = get_backend(backend)
        self.buf = (ctypes.c_int64 * 64)()
        self.keep: list[object] = []

    def compile(self, text: str, ns: dict | None = None) -> Trace:
        trace = parse(text, ns)
        slots = (ctypes.c_int64 * max(1, len(trace.guards())))()
        for k, op in enumerate(trace.guards()):
            op.exit.number = k + 1
            # odd guards have a bridge slot (empty), even ones return directly
            op.exit.slot_address = ctypes.addressof(slots) + 8 * k if k % 2 else 0
        trace.compiled = self.backend.compile(trace)
        self.keep += [trace, slots, ns]
        return trace

    def __call__(self, trace: Trace, *inputs: object) -> tuple[int, list]:
        for k, (a, v) in enumerate(zip(trace.inputargs, inputs)):
            self.buf[k] = float_bits(v) if a.type == "f" else v
        number = trace.compiled.run(0x1234, ctypes.addressof(self.buf))
        op = trace.guards()[number - 1]
        return number, [_value(a.type, self.buf[k]) for k, a in enumerate(op.fail_args)]


def _value(type_: str, raw: int) -> object:
    if type_ == "f":
        v = bits_float(raw)
        return "nan" if math.isnan(v) else (v, math.copysign(1, v))
    return raw


def same_as_reference(text: str, inputs: list[tuple], ns: dict | None = None) -> None:
    c, ref = Run("c"), Run("reference")
    ct, rt = c.compile(text, ns), ref.compile(text, ns)
    for args in inputs:
        assert c(ct, *args) == ref(rt, *args), (args, ct.compiled.c_source)


INTS = [0, 1, -1, 7, -7, 3, 1 << 40, -(1 << 40), INT64_MAX, INT64_MIN, 123456789, -98765]


def test_int_ops():
    text = """
    [i0, i1]
    i2 = int_add(i0, i1)
    i3 = int_sub(i0, i1)
    i4 = int_mul(i0, i1)
    i5 = int_and(i0, i1)
    i6 = int_or(i0, i1)
    i7 = int_xor(i0, i1)
    i8 = int_and(i1, 63)
    i9 = int_lshift(i0, i8)
    i10 = int_rshift(i0, i8)
    i11 = int_neg(i0)
    i12 = int_invert(i0)
    i13 = int_lt(i0, i1)
    i14 = int_le(i0, i1)
    i15 = int_eq(i0, i1)
    i16 = int_ne(i0, i1)
    i17 = int_gt(i0, i1)
    i18 = int_ge(i0, i1)
    guard_false(i15) [i0, i1]
    i19 = int_mod(i0, i1)
    i20 = int_eq(i1, -1)
    guard_false(i20) [i19]
    i21 = int_floordiv(i0, i1)
    finish() [i2, i3, i4, i5, i6, i7, i9, i10, i11, i12, i13, i14, i16, i17, i18, i19, i21]
    """
    pairs = [(a, b) for a in INTS for b in INTS if b != 0] + [(INT64_MIN, -1)]
    same_as_reference(text, pairs)


def test_overflow_guards():
    text = """
    [i0, i1]
    i2 = int_add_ovf(i0, i1) [i0, i1]
    i3 = int_sub_ovf(i0, i1) [i0, i1, i2]
    i4 = int_mul_ovf(i0, i1) [i0, i2, i3]
    i5 = int_and(i1, 63)
    i6 = int_lshift_ovf(i0, i5) [i4, i5]
    finish() [i2, i3, i4, i6]
    """
    same_as_reference(text, [(a, b) for a in INTS for b in INTS])


FLOATS = [0.0, -0.0, 1.5, -1.5, 3.0, -7.25, 1e300, -1e-300, math.inf, -math.inf, math.nan, 10.0]


def test_float_ops():
    text = """
    [f0, f1]
    f2 = float_add(f0, f1)
    f3 = float_sub(f0, f1)
    f4 = float_mul(f0, f1)
    f5 = float_truediv(f0, f1)
    f6 = float_neg(f0)
    f7 = float_abs(f0)
    i8 = float_lt(f0, f1)
    i9 = float_le(f0, f1)
    i10 = float_eq(f0, f1)
    i11 = float_ne(f0, f1)
    i12 = float_gt(f0, f1)
    i13 = float_ge(f0, f1)
    i14 = float_eq(f1, 0.0)
    guard_false(i14) [f2, f3, f4, f5, f6, f7, i8, i9, i10, i11, i12, i13]
    f15 = float_floordiv(f0, f1)
    f16 = float_mod(f0, f1)
    i17 = float_lt(f0, 1e18)
    guard_true(i17) [f15, f16]
    i18 = float_gt(f0, -1e18)
    guard_true(i18) [f15, f16]
    i19 = cast_float_to_int(f0)
    f20 = cast_int_to_float(i19)
    finish() [f2, f3, f4, f5, f15, f16, i19, f20, -0.0, nan, inf]
    """
    same_as_reference(text, [(a, b) for a in FLOATS for b in FLOATS])


def test_memory_ops():
    text = """
    [r0, i1]
    i2 = getfield_i(r0) descr=0
    f3 = getfield_f(r0) descr=16
    r4 = getfield_r(r0) descr=24
    i5 = raw_load_i(i1) descr=8
    r6 = raw_load_r(i1) descr=16
    r7 = getarrayitem_r(r0, 1) descr=16
    r8 = getlistitem_r(r0, 2) descr=24
    setlistitem_r(r0, 3, r4) descr=24
    setfield_i(r0, 99) descr=32
    setfield_r(r0, r8) descr=40
    raw_store_i(i1, -3) descr=8
    raw_store_r(i1, r4) descr=0
    i9 = get_frame()
    finish() [i2, f3, r4, i5, r6, r7, r8, i9]
    """
    for backend in ("c", "reference"):
        items = (ctypes.c_int64 * 4)(11, 22, 33, 44)
        obj = (ctypes.c_int64 * 6)(5, 0, 0, ctypes.addressof(items), 0, 0)
        ctypes.c_double.from_address(ctypes.addressof(obj) + 16).value = 2.5
        run, at = Run(backend), ctypes.addressof(items)
        got = run(run.compile(text), ctypes.addressof(obj), at)
        assert got == (1, [5, (2.5, 1.0), at, 22, 33, at, 33, 0x1234]), backend
        assert list(obj)[4:] == [99, 33] and list(items) == [at, -3, 33, at], backend


def test_unbox_int_and_guard_class():
    values = [0, 5, -7, (1 << 30) - 1, 1 << 30, -(1 << 40), INT64_MAX, INT64_MIN,
              1 << 63, -(1 << 64), 2.5, "x"]
    text = """
    [r0]
    guard_class(r0, %d) [r0]
    i1 = unbox_int(r0) descr=layout [r0]
    finish() [i1]
    """ % id(int)
    from tracejit.cpython import long_layout

    same_as_reference(text, [(id(v),) for v in values], {"layout": long_layout()})


def test_calls_and_reference_counts():
    ns = {"sqrt": libm("sqrt"), "box": box_float()}
    text = """
    [f0, r1]
    f2 = call_f(f0) descr=sqrt
    r3 = call_r(f2) descr=box
    f4 = getfield_f(r3) descr=16
    decref(r3)
    incref(r1)
    incref(r1)
    decref(r1)
    finish() [f2, f4]
    """
    obj: list = []
    for backend in ("c", "reference"):
        run = Run(backend)
        trace = run.compile(text, ns)
        before = sys.getrefcount(obj)
        assert run(trace, 2.25, id(obj))[1] == [(1.5, 1.0), (1.5, 1.0)]
        assert sys.getrefcount(obj) == before + 1
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(obj))
        immortal = sys.getrefcount(None)
        run(trace, 4.0, id(None))
        assert sys.getrefcount(None) == immortal


def test_decref_frees_the_last_reference():
    class Thing:
        pass

    thing = Thing()
    alive = weakref.ref(thing)
    address = id(thing)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(thing))  # the reference the trace drops
    del thing
    run = Run("c")
    run(run.compile("[r0]\ndecref(r0)\nfinish()"), address)
    assert alive() is None


def test_loop_with_swapped_carried_values():
    text = """
    [i0, i1, i2, f3]
    label(i0, i1, i2, f3)
    i4 = int_add(i0, i1)
    f5 = float_add(f3, 0.5)
    i6 = int_sub(i2, 1)
    i7 = int_gt(i6, 0)
    guard_true(i7) [i1, i4, f5]
    jump(i1, i4, i6, f5)
    """
    same_as_reference(text, [(0, 1, 50, 0.0), (3, -4, 7, 1.25)])


def test_jumps_between_traces_compiled_together():
    c = get_backend("c")
    loop = parse("""
    [i0]
    label(i0)
    i1 = int_add(i0, 3)
    i2 = int_lt(i1, 100)
    guard_true(i2) [i1]
    jump(i1)
    """)
    entry = parse("[i0]\ni1 = int_mul(i0, 2)\njump(i1) descr=loop", {"loop": loop})
    for op in loop.guards():
        op.exit.number = 7
    loop.compiled, entry.compiled = c.compile_many([loop, entry])
    assert "return tj" in entry.compiled.c_source  # a direct call to its sibling
    buf = (ctypes.c_int64 * 4)(5)
    assert entry.compiled.run(0, ctypes.addressof(buf)) == 7 and buf[0] == 100
    bridge = parse("[i0]\ni1 = int_sub(i0, 1000)\njump(i1) descr=loop", {"loop": loop})
    bridge.compiled = c.compile(bridge)
    buf[0] = 1090
    assert bridge.compiled.run(0, ctypes.addressof(buf)) == 7 and buf[0] == 102


# A loop whose guard fails on every iteration and whose bridge jumps back to
# the loop: a million round trips.  Without tail calls every round trip would
# leave two C frames on the stack (8 MB would be exhausted after ~100k).
STACK_SCRIPT = """
import ctypes, sys
sys.path[:0] = [{root!r}, {root!r} + "/backends"]
from tracejit.ir import parse
from tracejit.registry import get_backend

c = get_backend("c")
loop = parse('''
[i0, i1]
label(i0, i1)
i2 = int_add(i0, 1)
i3 = int_lt(i2, i1)
guard_true(i3) [i2, i1]
i4 = int_lt(i2, 0)
guard_true(i4) [i2, i1]
jump(i2, i1)
''')
slot = ctypes.c_int64(0)
done, taken = loop.guards()
done.exit.number, taken.exit.number = 1, 2
taken.exit.slot_address = ctypes.addressof(slot)
loop.compiled = c.compile(loop)
bridge = parse("[i0, i1]\\njump(i0, i1) descr=loop", {{"loop": loop}})
bridge.compiled = c.compile(bridge)
slot.value = bridge.compiled.address
buf = (ctypes.c_int64 * 4)(0, 1_000_000)
print(loop.compiled.run(0, ctypes.addressof(buf)), buf[0])
"""


def test_a_million_bridge_round_trips_do_not_grow_the_stack():
    script = STACK_SCRIPT.format(root=ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr  # a stack overflow is a SIGSEGV
    assert done.stdout.split() == ["1", "1000000"]


def test_no_compiler_is_a_clear_error(monkeypatch):
    import tracejit_c

    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(BackendUnavailable, match="C compiler"):
        tracejit_c.Backend().check_available()


def test_background_compilation():
    """The compiler runs as a subprocess, so the backend offers compiling on
    the runtime's helper thread while CPython goes on interpreting."""
    import tracejit
    from tests import programs
    from tests.test_differential import run

    _, func, make_args, _ = next(p for p in programs.PROGRAMS if p[0] == "nested3")
    expected = run(func, make_args())
    tracejit.reset()
    tracejit.set_param(backend="c", threshold=3, bridge_threshold=3, background_compile=1)
    tracejit.enable()
    try:
        for _ in range(3):
            assert run(func, make_args()) == expected
            tracejit.wait_for_compiler()
    finally:
        tracejit.disable()
        tracejit.set_param(background_compile=0)
    assert tracejit.stats()["loops_compiled"] >= 1
