"""The JitDriver hints (tracejit.hints, tracejit.meta, tracer.hintcalls):
small interpreters run with and without the JIT on every backend, with the
interpreted program's loops compiled, its guards failing (types changing,
branches flipping, errors, early exits, every guard forced once), and the
documented errors for misused hints."""

from __future__ import annotations

import pytest

import tracejit
from tracejit import JitDriver, JitHintError, dont_look_inside, elidable, promote
from tracejit.testing.oracle import differences, jit_enabled, observe, observe_jit

BACKENDS = tracejit.backend_names()


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param not in tracejit.available_backends():
        pytest.skip(f"backend {request.param} is not usable here")
    return request.param


# -- a tiny register machine: ("add", reg, value), ("addr", dst, src),
#    ("jnz", reg, target) jumps while reg != 0, ("div", dst, src), ("ret", reg)

def location(pc, program):
    return f"{pc}:{program[pc][0]}"


tiny = JitDriver(greens=["pc", "program"], reds=["regs"], get_printable_location=location,
                 name="tiny")


def run_tiny(program, regs):
    pc = 0
    while True:
        tiny.jit_merge_point(pc=pc, program=program, regs=regs)
        op, a, b = program[pc]
        if op == "add":
            regs[a] = regs[a] + b
        elif op == "addr":
            regs[a] = regs[a] + regs[b]
        elif op == "div":
            regs[a] = regs[a] // regs[b]
        elif op == "jnz":
            if regs[a] != 0:
                pc = b
                tiny.can_enter_jit(pc=pc, program=program, regs=regs)
                continue
        elif op == "ret":
            return regs[a]
        pc += 1


# sum of 1..n into r1, counting r0 down
SUM = (("addr", 1, 0), ("add", 0, -1), ("jnz", 0, 0), ("ret", 1, 0))
# the same, also adding r2 (changed by the caller: an int, then a float)
SUM_PLUS = (("addr", 1, 0), ("addr", 1, 2), ("add", 0, -1), ("jnz", 0, 0), ("ret", 1, 0))
# r1 //= r2 inside the loop: a ZeroDivisionError once r2 is 0
DIVIDE = (("addr", 1, 0), ("div", 1, 3), ("add", 3, -1), ("add", 0, -1), ("jnz", 0, 0),
          ("ret", 1, 0))
# nested loops: r0 outer count, r2 inner count reset from r3
NESTED = (("addr", 2, 3), ("add", 1, 1), ("add", 2, -1), ("jnz", 2, 1), ("add", 0, -1),
          ("jnz", 0, 0), ("ret", 1, 0))


def sum_program(n):
    return run_tiny(SUM, [n, 0])


def float_late(n):
    # r2 is an int for the first runs, then a float: the guest value changes type
    out = []
    for k in range(6):
        out.append(run_tiny(SUM_PLUS, [n, 0, 1 if k < 3 else 0.5]))
    return out


def type_changes_mid_loop(n):
    # r1 grows past 64 bits inside the hot loop
    return run_tiny(SUM, [n, 2**62])


def divide_by_zero(n):
    return run_tiny(DIVIDE, [n, 10**6, 0, n // 2])


def nested(n):
    return run_tiny(NESTED, [n, 0, 0, 30])


def branch_flips(n):
    # the same program object, first with r0 jumping long, then short loops
    out = []
    for start in (n, 3, n, 1):
        out.append(run_tiny(SUM, [start, 0]))
    return out


PROGRAMS = [
    ("sum", sum_program, (3000,)),
    ("float_late", float_late, (600,)),
    ("overflow_in_guest", type_changes_mid_loop, (3000,)),
    ("guest_error", divide_by_zero, (3000,)),
    ("nested_guest_loops", nested, (200,)),
    ("branch_flips", branch_flips, (2000,)),
]


@pytest.mark.parametrize("name,func,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_interpreted_programs_behave_the_same(name, func, args, backend):
    expected = observe(func, args)
    got = observe_jit(func, args, backend)
    assert got == expected, differences(expected, got)
    assert tracejit.stats()["loops_compiled"] >= 1, tracejit.stats()["aborts"]


@pytest.mark.parametrize("name,func,args", PROGRAMS, ids=[p[0] for p in PROGRAMS])
def test_every_guard_forced_to_fail_once(name, func, args, backend):
    expected = observe(func, args)
    got = observe_jit(func, args, backend, inject_guard=-1, inject_nth=2)
    assert got == expected, differences(expected, got)


def test_default_thresholds(backend):
    expected = observe(sum_program, (20000,))
    got = observe_jit(sum_program, (20000,), backend, threshold=200, bridge_threshold=20)
    assert got == expected
    assert tracejit.stats()["loops_compiled"] >= 1


def test_the_interpreted_loop_is_the_trace(backend):
    """The dispatch loop is unrolled into one trace per loop of the program:
    its greens are constants, so the dispatch on ``program[pc]`` is gone and
    the loop body is the register machine's work alone."""
    from tracejit.runtime import runtime
    from tracejit.testing.resops import calls, loop_body, op_counts

    with jit_enabled(backend):
        sum_program(3000)
        tracejit.wait_for_compiler()
    loops = [v.trace for info in list(runtime.loops.values())
             if info.code is run_tiny.__code__ and info.key.greens for v in info.versions]
    assert loops, tracejit.stats()["aborts"]
    body = loop_body(loops[0])
    counts = op_counts(body)
    # three guest instructions: list reads and writes, two adds, the jnz guard;
    # no subscript of the program, no string comparison, no residual call
    assert not [c for c in calls(body) if "Call" in c], calls(body)
    assert counts["int_add_ovf"] == 2, counts
    assert counts["getlistitem_r"] <= 4, counts


# -- promote, elidable, dont_look_inside -------------------------------------------------------

calls = {"elidable": 0, "opaque": 0}


@elidable
def cost_of(op):
    calls["elidable"] += 1
    return {"add": 1, "mul": 3}[op]


@dont_look_inside
def opaque(x):
    calls["opaque"] += 1
    return x + 1


costly = JitDriver(greens=["pc", "program"], reds="auto", name="costly")


def run_costly(program, n):
    pc = 0
    total = 0
    while n > 0:
        costly.jit_merge_point(pc=pc, program=program, n=n, total=total)
        total += cost_of(program[pc])
        total = opaque(total)
        pc += 1
        if pc == len(program):
            pc = 0
            n -= 1
            costly.can_enter_jit(pc=pc, program=program, n=n, total=total)
    return total


def test_elidable_calls_fold_and_dont_look_inside_is_called(backend):
    program = ("add", "mul", "add")
    calls.update(elidable=0, opaque=0)
    expected = run_costly(program, 2000)
    plain = dict(calls)
    calls.update(elidable=0, opaque=0)
    with jit_enabled(backend):
        got = run_costly(program, 2000)
    assert got == expected
    assert tracejit.stats()["loops_compiled"] >= 1
    assert calls["opaque"] == plain["opaque"]  # called every time, never inlined
    assert calls["elidable"] < plain["elidable"] // 2  # folded in compiled code


ret = JitDriver(greens=["pc", "code"], reds="auto", name="ret")


def run_calls(code, n, use_promote):
    # ("call", target) pushes the return address; ("ret",) pops it: the pc
    # after a return is computed from red data
    pc = 0
    stack = []
    acc = 0
    while pc < len(code):
        ret.jit_merge_point(pc=pc, code=code, n=n, stack=stack, acc=acc)
        op = code[pc]
        if op[0] == "call":
            stack.append(pc + 1)
            pc = op[1]
            continue
        if op[0] == "ret":
            pc = stack.pop()
            if use_promote:
                pc = promote(pc)
            continue
        if op[0] == "halt":
            break
        if op[0] == "inc":
            acc += 1
        elif op[0] == "loop":
            n -= 1
            if n > 0:
                pc = 0
                ret.can_enter_jit(pc=pc, code=code, n=n, stack=stack, acc=acc)
                continue
        pc += 1
    return acc


CALLS = (("call", 3), ("loop",), ("halt",), ("inc",), ("inc",), ("ret",))


def calls_program(n):
    # (the program is no argument: the JIT keeps the greens of its traces
    # alive, and the oracle counts the references to the arguments)
    return run_calls(CALLS, n, True)


def test_promoted_return_address(backend):
    expected = observe(calls_program, (2000,))
    got = observe_jit(calls_program, (2000,), backend)
    assert got == expected, differences(expected, got)
    assert tracejit.stats()["loops_compiled"] >= 1


def test_a_green_from_red_data_is_an_error(backend):
    with jit_enabled(backend):
        with pytest.raises(JitHintError, match=r"green 'pc' is not a constant.*promote"):
            run_calls(CALLS, 2000, False)


# -- misuse ------------------------------------------------------------------------------------

def test_missing_green_names_the_variable_and_the_site():
    driver = JitDriver(greens=["pc", "program"], reds="auto", name="d")
    with pytest.raises(JitHintError, match=r"d\.jit_merge_point\(\) at .*test_meta\.py:\d+ in .*: "
                                           r"green variable 'program' is missing"):
        driver.jit_merge_point(pc=0)


def test_extra_and_missing_names_with_declared_reds():
    driver = JitDriver(greens=["pc"], reds=["x"], name="d")
    with pytest.raises(JitHintError, match=r"'y' is neither a green nor a red"):
        driver.can_enter_jit(pc=0, x=1, y=2)
    with pytest.raises(JitHintError, match=r"variable 'x' is missing"):
        driver.jit_merge_point(pc=0)


def test_bad_driver_declarations():
    with pytest.raises(JitHintError, match="at least one green"):
        JitDriver(greens=[])
    with pytest.raises(JitHintError, match="both green and red"):
        JitDriver(greens=["a"], reds=["a"])
    with pytest.raises(JitHintError, match="list of variable names"):
        JitDriver(greens="pc")
    with pytest.raises(JitHintError, match="applies to Python functions"):
        elidable(len)


def _loop_a(driver):
    pc = 0
    while pc < 3:
        driver.jit_merge_point(pc=pc)
        pc += 1


def _loop_b(driver):
    pc = 0
    while pc < 3:
        driver.jit_merge_point(pc=pc)
        pc += 1


def test_a_driver_used_from_two_functions(backend):
    driver = JitDriver(greens=["pc"], name="shared")
    with jit_enabled(backend):
        _loop_a(driver)
        with pytest.raises(JitHintError, match=r"already used by _loop_a\(\)"):
            _loop_b(driver)


def test_a_merge_point_outside_a_loop(backend):
    driver = JitDriver(greens=["pc"], name="d")

    def no_loop(pc):
        driver.jit_merge_point(pc=pc)

    with jit_enabled(backend):
        with pytest.raises(JitHintError, match="is not inside a loop"):
            no_loop(0)


def test_a_green_must_be_passed_as_its_local(backend):
    driver = JitDriver(greens=["pc"], name="d")

    def wrong(n):
        i = 0
        while i < n:
            driver.jit_merge_point(pc=i + 0)
            i += 1

    with jit_enabled(backend):
        with pytest.raises(JitHintError, match=r"green 'pc' must be passed as pc=pc"):
            wrong(3)


def test_hints_are_no_ops_with_the_jit_off():
    assert promote(5) == 5
    assert tracejit.we_are_jitted() is False
    assert sum_program(100) == 5050
    assert tiny.site is None


# -- list.pop, an interpreter's stack (tracer.builtins) ------------------------------------------

def pops(n):
    stack = [1, 2.5, None, "x", 2**70]
    out = 0
    for i in range(n):
        stack.append(i)
        stack.append(i * 0.5)
        stack.append(None if i % 7 else "s")
        a = stack.pop()
        b = stack.pop()
        c = stack.pop()
        out += c + int(b) + (a is None)
    while stack:
        stack.pop()
    return out, stack


def pops_past_the_end(n):
    stack = []
    for i in range(n):
        stack.append(i)
    total = 0
    for _ in range(n + 3):
        total += stack.pop()  # an IndexError at the end, from the compiled loop's exit
    return total


@pytest.mark.parametrize("func", [pops, pops_past_the_end])
def test_list_pop(func, backend):
    expected = observe(func, (300,))
    got = observe_jit(func, (300,), backend)
    assert got == expected, differences(expected, got)
    assert tracejit.stats()["loops_compiled"] >= 1


# -- str + str (an interpreter's string values) -------------------------------------------------

def concatenations(n):
    s = ""
    parts = ["a", "bc", "\u00e9", "\U0001f600"]
    for i in range(n):
        s = s + parts[i % 4]
        s += "-"
    return s, len(s)


def concat_then_type_error(n):
    s = "x"
    out = 0
    for i in range(n):
        t = s + ("y" if i % 3 else "zz")
        out += len(t)
        if i == n - 5:
            t = t + 5  # a TypeError, raised by CPython after the compiled loop's exit
    return out


@pytest.mark.parametrize("func", [concatenations, concat_then_type_error])
def test_str_concatenation(func, backend):
    expected = observe(func, (300,))
    got = observe_jit(func, (300,), backend)
    assert got == expected, differences(expected, got)
    assert tracejit.stats()["loops_compiled"] >= 1
