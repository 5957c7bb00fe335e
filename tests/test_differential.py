"""Differential tests: every program runs under plain CPython and under the JIT
on every available backend; results, types, output, exceptions (type, message,
line), mutated arguments and reference counts must be identical."""

from __future__ import annotations

import pytest

import tracejit
from tests import programs
from tracejit.testing.oracle import observe, observe_jit

BACKENDS = tracejit.backend_names()  # unusable ones are skipped, with the reason


def run(func, args):
    return observe(func, args)


def run_jit(func, args, backend):
    return observe_jit(func, args, backend)


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param not in tracejit.available_backends():
        pytest.skip(f"backend {request.param} is not usable here")
    return request.param


@pytest.mark.parametrize("name,func,make_args,compiles", programs.PROGRAMS,
                         ids=[p[0] for p in programs.PROGRAMS])
def test_same_behaviour(name, func, make_args, compiles, backend):
    expected = run(func, make_args())
    got = run_jit(func, make_args(), backend)
    stats = tracejit.stats()
    assert got == expected, f"{name} differs under the JIT ({backend})"
    if compiles:
        assert stats["loops_compiled"] >= 1, f"{name}: nothing compiled: {stats['aborts']}"
    again = run_jit(func, make_args(), backend)
    assert again == expected


FORCED_FAILURES = ["branch_in_callee", "overflow_in_callee", "type_switch_in_callee",
                   "int_to_float_switch_late", "overflow_add", "div_by_zero_at",
                   "sum_ints_then_float", "sum_ints_then_bigint", "element_type_change",
                   "none_plus_one", "break_early", "index_error_at"]


@pytest.mark.parametrize("name", FORCED_FAILURES)
def test_guards_really_fail(name, backend):
    """These programs change type/range after the loop is compiled: the
    compiled code must leave through a guard, not by luck."""
    entry = next(p for p in programs.PROGRAMS if p[0] == name)
    expected = run(entry[1], entry[2]())
    got = run_jit(entry[1], entry[2](), backend)
    assert got == expected
    assert tracejit.stats()["guard_failures"] >= 1


def test_enable_twice_and_jit_decorator(backend):
    tracejit.reset()
    tracejit.set_param(backend=backend, threshold=3, background_compile=0)
    jitted = tracejit.jit(programs.store_squares)
    try:
        assert jitted(200) == programs.store_squares(200)
        assert tracejit.stats()["loops_compiled"] >= 1
    finally:
        tracejit.disable()


def test_bad_parameters_are_clear_errors():
    with pytest.raises(TypeError):
        tracejit.set_param(nonsense=1)
    with pytest.raises(ValueError):
        tracejit.set_param(backend="no-such-backend")
    with pytest.raises(ValueError):
        tracejit.set_param(threshold=0)
    with pytest.raises(TypeError):
        tracejit.jit(42)


BACKGROUND = ["matmul", "spectral", "int_to_float_switch_late", "nested3", "while_branches",
              "sum_ints_then_float", "list_of_lists_update", "for_else_nested"]


@pytest.mark.parametrize("name", BACKGROUND)
def test_background_compilation(name, backend):
    """With compilation on the helper thread, code is installed whenever it is
    ready (possibly mid-run): results must not depend on that timing."""
    from tracejit.registry import get_backend

    if not getattr(get_backend(backend), "releases_gil", False):
        pytest.skip(f"{backend} compiles with the GIL held: no background compilation")
    entry = next(p for p in programs.PROGRAMS if p[0] == name)
    expected = run(entry[1], entry[2]())
    tracejit.reset()
    tracejit.set_param(backend=backend, threshold=3, bridge_threshold=3, background_compile=1)
    tracejit.enable()
    try:
        for _ in range(3):
            assert run(entry[1], entry[2]()) == expected
            tracejit.wait_for_compiler()
        assert run(entry[1], entry[2]()) == expected
    finally:
        tracejit.disable()
        tracejit.set_param(background_compile=0)
    assert tracejit.stats()["loops_compiled"] >= 1


@pytest.mark.parametrize("name,func,make_args,compiles", programs.PROGRAMS,
                         ids=[p[0] for p in programs.PROGRAMS])
def test_same_behaviour_with_every_guard_forced_to_fail(name, func, make_args, compiles,
                                                        backend):
    """Every guard fails once, on its 2nd execution (tracejit.inject): each
    resume path runs, even those the program never takes by itself.  Found
    two wrong resume states on 3.13 (LOAD_FAST_LOAD_FAST, CALL_KW)."""
    expected = run(func, make_args())
    got = observe_jit(func, make_args(), backend, inject_nth=2)
    assert got == expected, f"{name} differs with forced guard failures ({backend})"
    if compiles:
        assert tracejit.stats()["forced_failures"] >= 1


@pytest.mark.parametrize("compiled_exits", [1, 0])
def test_compiled_frame_write_back(backend, compiled_exits):
    """An exit taken on every call gets a stub that writes the frame in
    machine code: same results and reference counts as the Python path."""
    entry = next(p for p in programs.PROGRAMS if p[0] == "dots_in_calls")
    expected = run(entry[1], entry[2]())
    # (_dot's loop not unrolled into the caller: its own compiled loop then
    # ends on every call)
    got = observe_jit(entry[1], entry[2](), backend, compiled_exits=compiled_exits,
                      callee_loop_unroll=0)
    assert got == expected
    st = tracejit.stats()
    if compiled_exits:
        assert st["writeback_stubs"] >= 1 and st["written_exits"] >= 10, st
    else:
        assert st["writeback_stubs"] == 0


@pytest.mark.parametrize("inject_nth", [0, 2])
@pytest.mark.parametrize("name", [p[0] for p in programs.programs_callee_loops.PROGRAMS])
def test_callee_loops_unrolled(name, backend, inject_nth):
    """With ``callee_loop_unroll`` on, loops of inlined functions are
    unrolled into the caller's trace (off by default): same behaviour, also
    with every guard forced to fail once."""
    entry = next(p for p in programs.PROGRAMS if p[0] == name)
    expected = run(entry[1], entry[2]())
    got = observe_jit(entry[1], entry[2](), backend, callee_loop_unroll=16,
                      inject_nth=inject_nth)
    assert got == expected, f"{name} differs with callee loops unrolled ({backend})"
