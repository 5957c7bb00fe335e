"""Residual calls (tracejit.tracer.residual): callables the tracer does not
trace into are called from compiled code.

Each program runs with and without the JIT on every backend; what it
returns, raises (type, message, every traceback entry, ``__context__``),
prints and does to reference counts must be the same.  The tests also check
that the path under test is really taken: the loop compiled with a residual
call in it, the exception left compiled code through the raising exit, the
assumption check after the call failed.
"""

from __future__ import annotations

import sys
import threading
import traceback

import pytest

import tracejit
from tracejit import runtime as rt
from tracejit.testing.oracle import jit_enabled, observe

BACKENDS = tracejit.backend_names()


def _usable(backend: str) -> None:
    if backend not in tracejit.available_backends():
        pytest.skip(f"backend {backend} unusable here")


def outcome(fn, *args):
    """What ``fn(*args)`` returns or raises, traceback entries included."""
    try:
        return ("return", fn(*args))
    except Exception as e:
        entries = [(f.name, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        context = e.__context__
        return ("raise", type(e).__name__, str(e), entries[1:],
                None if context is None else (type(context).__name__, str(context)))


def run_jit(fn, *args, backend, **params):
    # the programs' helpers with loops are residual calls here, not unrolled
    params.setdefault("callee_loop_unroll", 0)
    with jit_enabled(backend, **params):
        got = outcome(fn, *args)
    return got, tracejit.stats()


def residual_ops(code):
    """The residual calls in the compiled traces of the loops of ``code``."""
    found = []
    for info in list(rt.runtime.loops.values()):
        if info.code is not code:
            continue
        for version in info.versions:
            found += [op for op in version.trace.ops
                      if op.descr is not None and getattr(op.descr, "calls_program", False)]
    return found


# -- the programs ------------------------------------------------------------------------

def triangle(x):  # a loop: not inlined, called
    s = 0
    for i in range(x % 7):
        s += i
    return s


def long_triangle(x):
    s = 0
    for i in range(300 + x % 3):
        s += i * x
    return s


def sum_of_triangles(n):
    t = 0
    for i in range(n):
        t += triangle(i)
    return t


def raises_at(x, k):
    if x == k:
        raise ValueError(f"bad {x}")
    return sorted([x, 3, 1])[1]


def uncaught(n, k):
    t = 0
    for i in range(n):
        t += raises_at(i, k)
    return t


def caught(n, k):
    t = 0
    for i in range(n):
        try:
            t += raises_at(i, k)
        except ValueError as e:
            t += len(str(e))
    return t


def raise_while_handling(x):
    try:
        return {}[x]
    except KeyError:
        raise RuntimeError("while handling")  # noqa: B904 (its context is the point)


def chained(n):
    t = 0
    for i in range(n):
        t += triangle(i)
        if i == n - 5:
            t += raise_while_handling(i)
    return t


SCALE = 2


def rebind_scale(i, k):
    global SCALE
    if i == k:
        SCALE = 3
    return i


def global_rebound(n, k):
    global SCALE
    SCALE = 2
    t = 0
    for i in range(n):
        t += rebind_scale(i, k) * SCALE
    return t


class Plain:
    def value(self):
        return 1


class Other:
    def value(self):
        return 10


def switch_class(obj, i, k):
    if i == k:
        obj.__class__ = Other
    return 0


def class_switched(n, k):
    obj = Plain()
    t = 0
    for i in range(n):
        t += obj.value()
        t += switch_class(obj, i, k)
        t += obj.value()
    return t


def patch_method(i, k):
    if i == k:
        Plain.value = lambda self: 100
    return 0


def method_patched(n, k):
    saved = Plain.value
    obj = Plain()
    t = 0
    try:
        for i in range(n):
            t += patch_method(i, k) + obj.value()
    finally:
        Plain.value = saved
    return t


def shrink(lst, i):
    if i % 50 == 49:
        lst.pop()
    return len(lst)


def list_mutated(n):
    lst = list(range(40))
    t = 0
    for i in range(n):
        t += lst[i % len(lst)] + shrink(lst, i) + lst[-1]
    return t


def returns_various(i):
    if i < 150:
        return i
    if i < 200:
        return float(i)
    return str(i)


def result_type_changes(n):
    out = []
    for i in range(n):
        out.append(returns_various(i))
    return out


def builtins_and_methods(n):
    words = ["alpha", "beta", "gamma"]
    out = []
    for i in range(n):
        w = words[i % 3]
        out.append(w.upper())
        out.append(sorted([i, 2, 1]))
        out.append(divmod(i, 7))
    return len(out), out[-6:]


def kwargs_callee(a, b=2):
    return a * b


def keyword_call(n):
    t = 0
    for i in range(n):
        t += kwargs_callee(i, b=3)
    return t


def depth(node):
    total = 0
    for child in node:
        total += depth(child) + 1
    return total


def chain(n):
    node: list = []
    for _ in range(n):
        node = [node, []]
    return node


PROGRAMS = {
    "sum_of_triangles": (sum_of_triangles, (500,)),
    "uncaught": (uncaught, (300, 250)),
    "caught": (caught, (300, 250)),
    "chained": (chained, (300,)),
    "global_rebound": (global_rebound, (300, 200)),
    "class_switched": (class_switched, (300, 200)),
    "method_patched": (method_patched, (300, 200)),
    "list_mutated": (list_mutated, (400,)),
    "result_type_changes": (result_type_changes, (300,)),
    "builtins_and_methods": (builtins_and_methods, (300,)),
    "keyword_call": (keyword_call, (300,)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_outcome(name, backend):
    _usable(backend)
    fn, args = PROGRAMS[name]
    expected = outcome(fn, *args)
    for nth in (0, 1, 2):  # the program's own exits, then every guard forced to fail
        got, _ = run_jit(fn, *args, backend=backend, inject_nth=nth)
        assert got == expected, (name, nth)
    observed = observe(fn, args)
    with jit_enabled(backend):
        assert observe(fn, args) == observed  # stdout, arguments, reference counts


@pytest.mark.parametrize("backend", BACKENDS)
def test_loop_with_a_residual_call_is_compiled(backend):
    _usable(backend)
    expected = sum_of_triangles(500)
    got, stats = run_jit(sum_of_triangles, 500, backend=backend)
    assert got == ("return", expected)
    assert residual_ops(sum_of_triangles.__code__), stats["aborts"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_exception_leaves_compiled_code_with_its_traceback(backend):
    _usable(backend)
    expected = outcome(uncaught, 300, 250)
    assert expected[0] == "raise" and [e[0] for e in expected[3]] == ["uncaught", "raises_at"]
    got, stats = run_jit(uncaught, 300, 250, backend=backend)
    assert got == expected
    assert residual_ops(uncaught.__code__)
    assert stats["guard_failures"] >= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_exception_at_trace_time(backend):
    """For some k the call raises while the loop is being traced: tracing
    stops and CPython raises it at the call."""
    _usable(backend)
    reasons = set()
    for k in range(0, 12):
        expected = outcome(caught, 40, k), outcome(uncaught, 40, k)
        with jit_enabled(backend):
            got = outcome(caught, 40, k), outcome(uncaught, 40, k)
            reasons |= set(tracejit.stats()["aborts"])
        assert got == expected, k
    assert "the call raises ValueError" in reasons


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_that_breaks_an_assumption_exits_after_itself(backend):
    """The call rebinds a global the loop reads after it: the check after the
    call fails, and the call is not made twice (the result would differ)."""
    _usable(backend)
    for k in (1, 2, 3, 4, 5, 200):
        expected = outcome(global_rebound, 300, k)
        got, stats = run_jit(global_rebound, 300, k, backend=backend)
        assert got == expected, k
    assert stats["guard_failures"] >= 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_loops_run_inside_residual_calls(backend):
    """The callee's own loop is compiled and entered from within compiled code."""
    _usable(backend)

    def long_triangles(n):
        t = 0
        for i in range(n):
            t += long_triangle(i)
        return t

    expected = long_triangles(300)
    with jit_enabled(backend):
        assert long_triangles(300) == expected
        inner = [info for info in list(rt.runtime.loops.values())
                 if info.code is long_triangle.__code__]
    assert residual_ops(long_triangles.__code__)
    assert inner and max(info.entries for info in inner) > 200


def test_thread_state_tracing_offset():
    """cpython.TSTATE_TRACING is the field CPython sets while a monitoring
    callback runs (and clears after it)."""
    from tracejit import cpython as cp

    seen = []
    mon = sys.monitoring
    tool = 3 if mon.get_tool(3) is None else 4
    mon.use_tool_id(tool, "test")
    try:
        mon.register_callback(tool, mon.events.PY_START,
                              lambda code, offset: seen.append(cp.tracing_flag().value))

        def probe():
            return None

        mon.set_local_events(tool, probe.__code__, mon.events.PY_START)
        probe()
        mon.set_local_events(tool, probe.__code__, 0)
    finally:
        mon.register_callback(tool, mon.events.PY_START, None)
        mon.free_tool_id(tool)
    assert seen == [1]
    assert cp.tracing_flag().value == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_recursion_through_compiled_loops_hits_the_same_limit(backend):
    """A recursion that passes through a compiled loop at every level gets
    exactly CPython's depth before RecursionError."""
    _usable(backend)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        deepest = None
        for n in range(300, 420):
            if outcome(depth, chain(n))[0] == "raise":
                deepest = n - 1
                break
        assert deepest is not None
        with jit_enabled(backend):
            for _ in range(3):
                assert outcome(depth, chain(30)) == ("return", 60)
            assert outcome(depth, chain(deepest)) == ("return", 2 * deepest)
            assert outcome(depth, chain(deepest + 1))[1] == "RecursionError"
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("backend", BACKENDS)
def test_threads_switching_inside_residual_calls(backend):
    _usable(backend)

    def worker(n, out, slot):
        out[slot] = sum_of_triangles(n)

    expected = sum_of_triangles(2000)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        with jit_enabled(backend):
            for _ in range(3):
                out = [None] * 4
                threads = [threading.Thread(target=worker, args=(2000, out, k)) for k in range(4)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                assert out == [expected] * 4
    finally:
        sys.setswitchinterval(interval)
