"""The example interpreters (examples/brainfuck, examples/minilang) under the
JIT: differential tests of guest programs, and misused hints.

Each guest program runs through its interpreter's entry function with the JIT
off and with the JIT on, on every usable backend; the records of
:func:`tracejit.testing.oracle.observe` (the returned output, what was
printed, the exception's type, message and raising line) must be equal.
Variants: eager thresholds (3), every guard forced to fail once, the default
thresholds.  The hot programs must get compiled code.

Select with ``-k jit_off`` (plain CPython only: the interpreters' own
results against answers computed here in Python) or ``-k jit_on``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tracejit
from examples.brainfuck import bf
from examples.minilang import vm
from examples.minilang.compiler import GuestError, compile_program
from tracejit.params import DEFAULTS
from tracejit.testing.oracle import differences, observe, observe_jit

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BACKENDS = tracejit.backend_names()  # unusable ones are skipped, with the reason


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param not in tracejit.available_backends():
        pytest.skip(f"backend {request.param} is not usable here")
    return request.param


def bf_source(name: str) -> str:
    return (EXAMPLES / "brainfuck" / "programs" / f"{name}.b").read_text()


def ml_source(name: str) -> str:
    return (EXAMPLES / "minilang" / "programs" / f"{name}.ml").read_text()


# ------------------------------------------------ answers computed in Python


def cubes_output(n: int) -> str:
    return "".join(f"{a ** 3 % 256:03d}\n" for a in range(1, n + 1))


def fib_output(n: int) -> str:
    def fib(k: int) -> int:
        return k if k < 2 else fib(k - 1) + fib(k - 2)
    return "".join(f"fib({i}) = {fib(i)}\n" for i in range(n + 1) if i % 5 == 0 or i == n)


def mandelbrot_output(width: int, limit: int) -> str:
    """loops.ml, the same float operations in the same order."""
    height = width // 3
    shades = " .:-=+*#%@"
    total = 0
    area = 0.0
    lines = []
    for row in range(height):
        ci = 2.4 * row / height - 1.2
        line = ""
        for col in range(width):
            cr = 3.0 * col / width - 2.1
            zr = zi = zr2 = zi2 = 0.0
            k = 0
            while k < limit and zr2 + zi2 <= 4.0:
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
                zr2 = zr * zr
                zi2 = zi * zi
                k += 1
            total += k
            if k == limit:
                line += "@"
                area = area + 7.2 / (width * height)
            else:
                line += shades[k % 9]
        lines.append(line)
    return "\n".join(lines) + f"\niterations: {total}\narea: {area!r}\n"


def strings_output(times: int) -> str:
    text = "the quick brown fox jumps over the lazy dog. " * times
    letters = "abcdefghijklmnopqrstuvwxyz"
    secret = "".join(letters[(letters.index(c) + 13) % 26] if c in letters else c for c in text)
    hits = [k for k in range(len(text)) if text.startswith("lazy", k)]
    where = "".join(f"{k} " for k in hits[:5])
    numbers = "".join(f"{i * i}," for i in range(10 * times))
    return (f"{len(text)} characters, {text.count('o')} o, {secret.count('b')} b\n"
            f"{secret[:3]}...\n1\nlazy at {where}... {len(hits)} times\n"
            f"{len(numbers)} {numbers[-4:-2]}\n")


# ------------------------------------------------------------ guest programs

# the three-bracket scan runs off the left end after many rounds
BF_OFF_TAPE = "+" * 60 + "[[->+>+<<]>>[-<<+>>]<-]<[<]"

ML_TYPE_ERROR_LATE = """\
var x = 0;
var i = 0;
while i < 3000 {
    if i == 2500 { x = "late"; }
    x = x + 1;
    i = i + 1;
}
print(x);
"""

ML_INDEX_ERROR = """\
var s = "abcdefghij";
var t = s + s + s + s + s;
var out = "";
var i = 0;
while 1 {
    out = out + t[i];
    i = i + 1;
}
"""

ML_UNSET = """\
var i = 0;
var total = 0;
if 0 { var late = 1; }
while i < 3000 {
    if i == 2999 { total = total + late; }
    total = total + i;
    i = i + 1;
}
"""

ML_CALLS_IN_LOOP = """\
func half(n) {
    if n % 2 == 0 { return n / 2; }
    return n / 2.0;
}
func sum_to(n) {
    var s = 0;
    var k = 0;
    while k < n { s = s + k; k = k + 1; }
    return s;
}
var total = 0;
var i = 0;
while i < 200 {
    total = total + half(i) + sum_to(i % 13);
    i = i + 1;
}
print(total, half(7), sum_to(100));
"""

ML_DEEP_RECURSION = """\
func down(n) { return down(n + 1) + 1; }
print(down(0));
"""

ML_COMPARE_ERROR = """\
var i = 0;
var v = 0;
while i < 2000 {
    if i == 1500 { v = "x"; }
    if v < 10 { v = 0; }
    i = i + 1;
}
"""


class Case:
    """One guest program: ``entry(*args)`` with the JIT on and off."""

    def __init__(self, name: str, kind: str, source: str, data: Any,
                 expected: Callable[[], str] | tuple[type, str] | None, hot: bool) -> None:
        self.name, self.kind, self.source, self.data = name, kind, source, data
        self.expected, self.hot = expected, hot

    def entry(self) -> tuple[Callable[..., Any], tuple]:
        """The interpreter's whole run: source text in, output string out."""
        if self.kind == "bf":
            return bf.run, (self.source, self.data)
        return vm.run, (self.source, list(self.data), True)

    def dispatch_only(self) -> tuple[Callable[..., Any], tuple]:
        """Just the dispatch loop (parsed or compiled outside the JIT)."""
        if self.kind == "bf":
            program, brackets = bf.parse(self.source)
            return bf.interpret, (program, brackets, self.data)
        return vm.execute, (compile_program(self.source), list(self.data), [], False)


CASES = [
    Case("bf_hello", "bf", bf_source("hello"), "", lambda: "Hello World!\n", False),
    Case("bf_nested", "bf", bf_source("nested"), "", lambda: "FLO", True),
    Case("bf_early", "bf", bf_source("early"), "echo me " * 30,
         lambda: "echo me " * 30 + "@", True),
    Case("bf_cubes_small", "bf", bf_source("cubes"), chr(5), lambda: cubes_output(5), True),
    Case("bf_off_tape", "bf", BF_OFF_TAPE, "",
         (bf.BFError, "'<' moved off the left end of the tape"), True),
    Case("bf_unbalanced", "bf", "+[>+<-]]", "", (bf.BFError, "unmatched ']' at command 7"),
         False),
    Case("ml_fib_small", "ml", ml_source("fib"), [12], lambda: fib_output(12), True),
    Case("ml_loops_small", "ml", ml_source("loops"), [18, 40],
         lambda: mandelbrot_output(18, 40), True),
    Case("ml_strings_small", "ml", ml_source("strings"), [3], lambda: strings_output(3), True),
    Case("ml_type_change", "ml", ml_source("type_change"), [], lambda: "1008 n=200\n!\n", True),
    Case("ml_branch_flip", "ml", ml_source("branch_flip"), [], lambda: "1000 2000.0\n", True),
    Case("ml_guest_error", "ml", ml_source("guest_error"), [],
         (GuestError, "line 7: division by zero"), True),
    Case("ml_early_return", "ml", ml_source("early_return"), [],
         lambda: "2 2 4 6 10 16 28 47 \n", True),
    Case("ml_type_error_late", "ml", ML_TYPE_ERROR_LATE, [],
         (GuestError, "line 5: cannot apply '+' to str and int"), True),
    Case("ml_index_error", "ml", ML_INDEX_ERROR, [],
         (GuestError, "line 6: string index 50 out of range (length 50)"), True),
    Case("ml_unset_variable", "ml", ML_UNSET, [],
         (GuestError, "line 5: variable 'late' is used before it has a value"), True),
    Case("ml_calls_in_loop", "ml", ML_CALLS_IN_LOOP, [], None, True),
    Case("ml_deep_recursion", "ml", ML_DEEP_RECURSION, [],
         (GuestError, f"line 1: calls nested more than {vm.MAX_DEPTH} deep"), False),
    Case("ml_compare_error", "ml", ML_COMPARE_ERROR, [],
         (GuestError, "line 5: cannot compare str and int with '<'"), True),
    Case("ml_unknown_variable", "ml", "var a = 1;\nprint(a + b);\n", [],
         (GuestError, "line 2: unknown variable 'b'"), False),
    Case("ml_syntax_error", "ml", "var a = (1 + ;\n", [],
         (GuestError, "line 1: expected an expression, found ';'"), False),
]
IDS = [c.name for c in CASES]
HOT = [c for c in CASES if c.hot]


def check_same(case: Case, expected: dict, got: dict, how: str) -> None:
    assert got == expected, (f"{case.name} differs {how}:\n  "
                             + "\n  ".join(differences(expected, got)))


# ------------------------------------------------------------------ JIT off


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_off_answers(case):
    """The interpreters compute what Python computes (no JIT involved)."""
    func, args = case.entry()
    if isinstance(case.expected, tuple):
        error, message = case.expected
        with pytest.raises(error) as info:
            func(*args)
        assert str(info.value) == message
    else:
        output = func(*args)
        if case.expected is not None:
            assert output == case.expected()
        again = case.entry()
        assert again[0](*again[1]) == output


def test_jit_off_calls_in_loop_answer():
    def half(n):
        return n // 2 if n % 2 == 0 else n / 2.0
    total = 0
    for i in range(200):
        total = total + half(i) + sum(range(i % 13))
    assert vm.run(ML_CALLS_IN_LOOP) == f"{total!r} 3.5 4950\n"


def test_jit_off_benchmark_answers():
    """The benchmarks' full sizes, checked cheaply where it is cheap."""
    assert bf.run(bf_source("cubes"), chr(3)) == "001\n008\n027\n"
    assert vm.run(ml_source("fib"), [10]) == fib_output(10)
    assert vm.run(ml_source("loops"), [12, 30]) == mandelbrot_output(12, 30)


def test_jit_off_command_lines(capsys, tmp_path):
    program = tmp_path / "p.b"
    program.write_text(",[.,]")
    assert bf.main(["bf.py", str(program), "hi there"]) == 0
    assert bf.main(["bf.py"]) == 0
    assert capsys.readouterr().out == "hi thereHello World!\n"
    source = tmp_path / "p.ml"
    source.write_text('print("x", arg(0, 1) + 1, arg(1, 2.5), arg(2, "s"));\nprint(1 / 0);\n')
    assert vm.main(["vm.py", str(source), "41", "0.5"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "x 42 0.5 s\n"
    assert captured.err.endswith("line 2: division by zero\n")


def test_jit_off_interpreters_are_trace_friendly():
    """What the JIT relies on: the code objects are immutable after
    compiling, the bracket map is read through an elidable function."""
    code = compile_program(ml_source("fib"))
    assert {"ops[*]", "args[*]", "consts[*]", "name", "nlocals"} <= set(code._immutable_fields_)
    callee = next(c for c in code.consts if isinstance(c, type(code)))
    assert callee.name == "fib" and callee.consts.count(callee) == 1  # (recursive)
    assert getattr(bf.matching_bracket, tracejit.hints.HINT_ATTRIBUTE) == "elidable"
    assert getattr(vm.pop_arguments, tracejit.hints.HINT_ATTRIBUTE) == "unroll_safe"
    assert vm.driver.greens == ("pc", "code") and bf.driver.greens[:2] == ("pc", "program")


# ------------------------------------------------------------------- JIT on


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_on_same_behaviour(case, backend):
    func, args = case.entry()
    expected = observe(func, args)
    check_same(case, expected, observe_jit(func, args, backend),
               f"under the JIT ({backend})")
    func, args = case.entry()
    check_same(case, expected, observe_jit(func, args, backend), f"in a second run ({backend})")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_on_every_guard_forced_to_fail(case, backend):
    """Every guard fails once, on its 2nd execution (tracejit.inject): every
    resume path of the interpreter's traces runs."""
    func, args = case.entry()
    expected = observe(func, args)
    func, args = case.entry()
    got = observe_jit(func, args, backend, inject_guard=-1, inject_nth=2)
    check_same(case, expected, got, f"with every guard forced to fail once ({backend})")


@pytest.mark.parametrize("case", HOT, ids=[c.name for c in HOT])
def test_jit_on_default_thresholds(case, backend):
    func, args = case.entry()
    expected = observe(func, args)
    func, args = case.entry()
    got = observe_jit(func, args, backend, threshold=DEFAULTS["threshold"],
                      bridge_threshold=DEFAULTS["bridge_threshold"])
    check_same(case, expected, got, f"with the default thresholds ({backend})")


@pytest.mark.parametrize("case", HOT, ids=[c.name for c in HOT])
def test_jit_on_compiles_the_guest_loops(case, backend):
    """Only the dispatch loop runs under the JIT here (the program was
    parsed before): it must be compiled for the guest's hot loops."""
    func, args = case.dispatch_only()
    expected = observe(func, args)
    func, args = case.dispatch_only()
    got = observe_jit(func, args, backend)
    stats = tracejit.stats()
    check_same(case, expected, got, f"(dispatch loop only, {backend})")
    assert stats["loops_compiled"] >= 1, (
        f"{case.name}: the JIT compiled no loop of the {case.kind} interpreter's dispatch "
        f"loop ({backend}); aborts: {stats['aborts']}")


# ------------------------------------------------------------ misused hints

MISSING = tracejit.JitDriver(greens=["pc", "program"], reds="auto", name="missing")
EXTRA = tracejit.JitDriver(greens=["pc"], reds=["acc"], name="extra")
UNDECLARED = tracejit.JitDriver(greens=["pc", "program"], reds=["acc"], name="undeclared")


def missing_green(program: str) -> int:
    pc = 0
    acc = 0
    while pc < len(program):
        MISSING.jit_merge_point(pc=pc, acc=acc)  # HINT: missing green
        acc += program[pc] == "+"
        pc += 1
    return acc


def extra_name(program: str) -> int:
    pc = 0
    acc = 0
    while pc < len(program):
        EXTRA.jit_merge_point(pc=pc, acc=acc, program=program)  # HINT: extra name
        acc += 1
        pc += 1
    return acc


def undeclared_red(program: str) -> int:
    pc = 0
    acc = 0
    total = 0
    while pc < len(program):
        UNDECLARED.jit_merge_point(pc=pc, program=program, acc=acc)
        total += 1
        if program[pc] == "]" and acc < 20:
            acc += 1
            pc = 0
            UNDECLARED.can_enter_jit(pc=pc, program=program, total=total)  # HINT: undeclared
        else:
            pc += 1
    return total


def elidable_builtin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i
    tracejit.elidable(len)  # HINT: elidable on a builtin
    return total


class Table:
    def lookup(self, key: int) -> int:
        return key


def elidable_method(n: int) -> int:
    tracejit.elidable(Table().lookup)  # HINT: elidable on a bound method
    return n


def hint_line(marker: str) -> str:
    """``file:line`` of the line of this file with ``# HINT: marker``."""
    lines, _ = inspect.getsourcelines(inspect.getmodule(hint_line))
    number = next(k for k, text in enumerate(lines, 1) if text.rstrip().endswith(
        f"# HINT: {marker}"))
    return f"{__file__}:{number}"


MISUSES = [
    ("missing_green", missing_green, ("+-+" * 20,),
     lambda: (f"missing.jit_merge_point() at {hint_line('missing green')} in missing_green(): "
              f"green variable 'program' is missing (greens: ['pc', 'program'])")),
    ("extra_name", extra_name, ("+-+" * 20,),
     lambda: (f"extra.jit_merge_point() at {hint_line('extra name')} in extra_name(): "
              f"'program' is neither a green nor a red of this driver (greens: ['pc'], "
              f"reds: ['acc'])")),
    ("undeclared_red", undeclared_red, ("+[-]" * 5,),
     lambda: (f"undeclared.can_enter_jit() at {hint_line('undeclared')} in undeclared_red(): "
              f"variable 'acc' is missing (greens: ['pc', 'program'], reds: ['acc'])")),
    ("elidable_builtin", elidable_builtin, (50,),
     lambda: "@elidable applies to Python functions, not builtin_function_or_method"),
    ("elidable_method", elidable_method, (5,),
     lambda: "@elidable applies to Python functions, not method"),
]


@pytest.mark.parametrize("name,func,args,message", MISUSES, ids=[m[0] for m in MISUSES])
def test_jit_off_misused_hints(name, func, args, message):
    with pytest.raises(tracejit.JitHintError) as info:
        func(*args)
    assert str(info.value) == message()


@pytest.mark.parametrize("name,func,args,message", MISUSES, ids=[m[0] for m in MISUSES])
def test_jit_on_misused_hints(name, func, args, message, backend):
    expected = observe(func, args)
    assert expected["result"][:3] == ("raise", "JitHintError", message())
    got = observe_jit(func, args, backend)
    assert got == expected, "\n".join(differences(expected, got))


def test_jit_off_misused_driver_declarations():
    with pytest.raises(tracejit.JitHintError, match="at least one green"):
        tracejit.JitDriver(greens=[])
    with pytest.raises(tracejit.JitHintError, match=r"\['pc'\] cannot be both green and red"):
        tracejit.JitDriver(greens=["pc"], reds=["pc", "acc"])
    with pytest.raises(tracejit.JitHintError, match="'not a name' is not a variable name"):
        tracejit.JitDriver(greens=["pc", "not a name"])
