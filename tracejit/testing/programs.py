"""Hypothesis strategies that write random loop programs for the guard fuzzer.

``programs()`` draws a :class:`Program`: real Python source for a function
``f(n, xs, ys, m)`` (an int count, a list of ints, a list of floats and a list
of lists of ints) whose body is a hot loop built from what the tracer
supports -- int, float and bool arithmetic with values near the 64-bit and
float edges, list reads and writes, nested lists, branches, nested ``for`` and
``while`` loops, ``break``/``continue``/early ``return``, calls to small
generated helper functions, ``len``/``abs``/``min``/``max``/``int``/``float``
and ``math`` functions -- plus *schedules*: at a chosen iteration a chosen
variable or list element changes type or range (int to float, small to big
int, float to int, to bool, a list element to ``None``), so every kind of
guard fails at chosen points.  Half of the programs also get classes and
objects (:mod:`tracejit.testing.program_objects`): attributes, methods,
properties, static and class methods, ``super()``, a polymorphic call site,
and schedules that patch classes and objects mid-loop.

Programs stay cheap to run: loops are bounded, and integer expressions that
could grow without bound are reduced modulo a constant before they are stored
in a variable that lives across iterations.  Exceptions (``TypeError`` from a
``None``, ``OverflowError`` from a huge float conversion...) are allowed: the
oracle compares them too.  Everything shrinks: a failing program reduces to
a small one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tracejit.testing import program_objects

INT_EDGES = [0, 1, -1, 2, -2, 3, 7, -7, 10, 255, 2**31 - 1, 2**31, -(2**31), 2**32 + 1,
             2**53 + 1, 2**62, -(2**62), 2**63 - 1, -(2**63), 2**63 - 2, -(2**63) + 1]
BIG_INTS = [2**63, -(2**63) - 1, 2**64 + 5, 10**30, -(10**25)]
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -3.75, 0.1, 1e-300, 5e-324, 1e308, -1e308,
               1.7976931348623157e308, math.inf, -math.inf, math.nan, 3.141592653589793]
MODULI = [3, 7, 1000, -7, 2**31 - 1, 2**61 - 1, -(2**62), 2**63 - 1]
MATH_FUNCS = ["sqrt", "sin", "cos", "exp", "log", "floor", "fabs", "atan"]

INT_VARS = ["a0", "a1", "a2"]
FLOAT_VARS = ["x0", "x1"]
BOOL_VARS = ["b0"]


def _lit(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "math.nan"
        if math.isinf(v):
            return "math.inf" if v > 0 else "-math.inf"
    return repr(v)


@dataclass(frozen=True)
class Program:
    """A generated program: source text plus the source of its arguments."""

    source: str
    args_source: str

    def function(self) -> Any:
        """Compile the source (a fresh code object each time) and return ``f``."""
        namespace: dict[str, Any] = {}
        exec(compile(self.source, "<fuzz>", "exec"), namespace)
        return namespace["f"]

    def make_args(self) -> tuple:
        """Fresh argument objects (the program may mutate them)."""
        return eval(self.args_source, {"math": math})

    def script(self, backend: str, params: dict[str, Any]) -> str:
        """A standalone script that reproduces a mismatch found with these settings."""
        settings = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
        return (
            "# tracejit fuzzer reproducer: plain CPython and the JIT must agree\n"
            "import math\n\nimport tracejit\n"
            "from tracejit.testing.oracle import differences, observe, observe_jit\n\n"
            f"{self.source}\n\n"
            f"def make_args():\n    return {self.args_source}\n\n\n"
            "expected = observe(f, make_args())\n"
            f"got = observe_jit(f, make_args(), {backend!r}, {settings})\n"
            "print('\\n'.join(differences(expected, got)) or 'no difference')\n"
            "print(tracejit.stats())\n"
        )


class _Gen:
    """Draws typed expressions and statements; ``draw`` is hypothesis' draw."""

    def __init__(self, draw: Any, helpers: list[tuple[str, str, str]]) -> None:
        self.draw = draw
        self.helpers = helpers  # (name, argument kinds "if", result kind "i"/"f")
        self.lists = True  # False inside helpers: no xs, ys, m or n there
        self.objects = False  # the loop has c0 and objs (program_objects)

    def helpers_returning(self, kind: str) -> list[tuple[str, str, str]]:
        # helpers that store into the loop's ``out`` are called from the loop only
        return [h for h in self.helpers if h[2] == kind and (self.lists or "o" not in h[1])]

    def pick(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def chance(self, p_percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < p_percent

    # -- expressions -------------------------------------------------------

    def int_expr(self, depth: int, names: list[str], bounded: bool = False) -> str:
        """An int expression; ``bounded`` forbids products of variables."""
        if depth <= 0 or self.chance(30):
            return self.int_atom(names)
        kind = self.draw(st.integers(0, 11))
        a = self.int_expr(depth - 1, names, bounded)
        if kind <= 2:
            return f"({a} {self.pick(['+', '-'])} {self.int_expr(depth - 1, names, bounded)})"
        if kind == 3:
            other = self.pick(["3", "-5", "1000003", "2**40"]) if bounded else \
                self.int_expr(depth - 1, names, bounded)
            return f"({a} * {other})"
        if kind == 4:
            return f"({a} {self.pick(['&', '|', '^'])} {self.int_expr(depth - 1, names)})"
        if kind == 5:
            div = self.int_expr(depth - 1, names, bounded)
            return f"({a} {self.pick(['//', '%'])} ({div} | 1))"
        if kind == 6:
            return f"({a} >> {self.draw(st.integers(0, 70))})"
        if kind == 7:
            return f"({a} << {self.draw(st.integers(0, 8))})"
        if kind == 8:
            return f"{self.pick(['-', '~'])}{a}"
        if kind == 9:
            fn = self.pick(["abs", "min", "max"])
            if fn == "abs":
                return f"abs({a})"
            return f"{fn}({a}, {self.int_expr(depth - 1, names, bounded)})"
        if kind == 10 and self.helpers_returning("i"):
            return self.call(depth, names, "i")
        cond = self.bool_expr(depth - 1, names)
        return f"({a} if {cond} else {self.int_expr(depth - 1, names, bounded)})"

    def int_atom(self, names: list[str]) -> str:
        if self.objects and self.chance(20):
            return program_objects.int_atom(self, names)
        kind = self.draw(st.integers(0, 9))
        if not self.lists and 5 <= kind <= 8:
            kind = 9
        if kind <= 2:
            return self.pick([v for v in names if v in INT_VARS or v in ("i", "j", "k0")])
        if kind <= 4:
            return _lit(self.pick(INT_EDGES))
        if kind == 5:
            return self.pick(["len(xs)", "len(m)", "len(m[i % len(m)])"])
        if kind == 6:
            return f"xs[{self.index('xs', names)}]"
        if kind == 7:
            return f"m[{self.index('m', names)}][{self.draw(st.integers(-1, 0))}]"
        if kind == 8:
            return f"int({self.pick(FLOAT_VARS)} % 1000.0)" if self.chance(50) else "n"
        return str(self.draw(st.integers(-20, 20)))

    def index(self, lst: str, names: list[str]) -> str:
        if self.chance(30):
            return str(self.draw(st.integers(-1, 1)))
        var = self.pick([v for v in names if v in ("i", "j", "a0", "a1")])
        return f"{var} % len({lst})"

    def float_expr(self, depth: int, names: list[str]) -> str:
        if depth <= 0 or self.chance(30):
            return self.float_atom(names)
        kind = self.draw(st.integers(0, 7))
        a = self.float_expr(depth - 1, names)
        b = self.float_expr(depth - 1, names)
        if kind <= 2:
            return f"({a} {self.pick(['+', '-', '*'])} {b})"
        if kind == 3:
            op = self.pick(["/", "//", "%"])
            return f"({a} {op} ({b} * {b} + 1.0))" if self.chance(85) else f"({a} {op} {b})"
        if kind == 4:
            return f"({a} {self.pick(['+', '*', '-'])} {self.int_expr(depth - 1, names, True)})"
        if kind == 5:
            fn = self.pick(MATH_FUNCS)
            arg = f"abs({a}) + 1.0" if fn in ("sqrt", "log") and self.chance(80) else a
            return f"math.{fn}({arg})"
        if kind == 6:
            return f"-{a}" if self.chance(50) else f"abs({a})"
        if kind == 7 and self.helpers_returning("f") and self.chance(50):
            return self.call(depth, names, "f")
        cond = self.bool_expr(depth - 1, names)
        return f"({a} if {cond} else {b})"

    def float_atom(self, names: list[str]) -> str:
        if self.objects and self.chance(20):
            return program_objects.float_atom(self, names)
        kind = self.draw(st.integers(0, 5))
        if not self.lists and kind == 3:
            kind = 5
        if kind <= 1:
            return self.pick(FLOAT_VARS)
        if kind == 2:
            return _lit(self.pick(FLOAT_EDGES))
        if kind == 3:
            return f"ys[{self.index('ys', names)}]"
        if kind == 4:
            return f"float({self.pick([v for v in names if v in ('i', 'a0', 'a1', 'j')])})"
        return repr(self.draw(st.floats(-100.0, 100.0, allow_nan=False, width=32)))

    def bool_expr(self, depth: int, names: list[str]) -> str:
        kind = self.draw(st.integers(0, 5))
        if kind <= 1:
            op = self.pick(["<", "<=", "==", "!=", ">", ">="])
            return f"{self.int_expr(depth - 1, names, True)} {op} " \
                   f"{self.int_expr(depth - 1, names, True)}"
        if kind == 2:
            op = self.pick(["<", "<=", "==", "!=", ">", ">="])
            return f"{self.float_expr(depth - 1, names)} {op} {self.float_atom(names)}"
        if kind == 3:
            return self.pick(BOOL_VARS)
        if kind == 4 and depth > 0:
            return f"({self.bool_expr(depth - 1, names)} " \
                   f"{self.pick(['and', 'or'])} {self.bool_expr(depth - 1, names)})"
        return f"not {self.pick(BOOL_VARS)}" if self.chance(50) else \
            f"{self.pick(INT_VARS)} % {self.draw(st.integers(2, 5))} == 0"

    def call(self, depth: int, names: list[str], result: str) -> str:
        name, kinds, _ = self.pick(self.helpers_returning(result))
        args = [self.int_expr(depth - 1, names, True) if k == "i" else
                "out" if k == "o" else self.float_expr(depth - 1, names) for k in kinds]
        return f"{name}({', '.join(args)})"

    # -- statements ----------------------------------------------------------

    def block(self, depth: int, names: list[str], indent: str, size: int) -> list[str]:
        lines: list[str] = []
        for _ in range(self.draw(st.integers(1, size))):
            lines += self.statement(depth, names, indent)
        return lines

    def statement(self, depth: int, names: list[str], indent: str) -> list[str]:
        if self.objects and self.chance(20):
            return program_objects.statement(self, names, indent)
        kind = self.draw(st.integers(0, 15))
        if kind <= 3:
            var = self.pick(INT_VARS)
            expr = self.int_expr(3, names)
            modulus = self.pick(MODULI)
            return [f"{indent}{var} = {expr} % {modulus}"]
        if kind == 4:
            return [f"{indent}{self.pick(INT_VARS)} += {self.int_expr(2, names, True)}"]
        if kind <= 6:
            return [f"{indent}{self.pick(FLOAT_VARS)} = {self.float_expr(3, names)}"]
        if kind == 7:
            return [f"{indent}{self.pick(BOOL_VARS)} = {self.bool_expr(2, names)}"]
        if kind == 8:
            if self.chance(50):
                return [f"{indent}xs[{self.index('xs', names)}] = "
                        f"{self.int_expr(2, names)} % {self.pick(MODULI)}"]
            return [f"{indent}ys[{self.index('ys', names)}] = {self.float_expr(2, names)}"]
        if kind == 9:
            return [f"{indent}m[{self.index('m', names)}][0] += {self.int_atom(names)} % 100"]
        if kind == 10:
            expr = self.int_expr(2, names) if self.chance(50) else self.float_expr(2, names)
            if self.chance(10):  # method calls abort the trace: keep them rare
                return [f"{indent}if len(out) < 50:", f"{indent}    out.append({expr})"]
            return [f"{indent}out[{self.index('out', names)}] = {expr}"]
        if depth <= 0:
            return [f"{indent}{self.pick(FLOAT_VARS)} += {self.float_atom(names)}"]
        inner = indent + "    "
        if kind == 11:
            lines = [f"{indent}if {self.bool_expr(2, names)}:"]
            lines += self.block(depth - 1, names, inner, 3)
            if self.chance(50):
                lines += [f"{indent}else:"] + self.block(depth - 1, names, inner, 3)
            return lines
        if kind == 12 and "j" not in names:
            source = self.pick(["range(3)", "range(i % 4)", "range(len(xs))", "xs", "ys",
                                "m[i % len(m)]"])
            lines = [f"{indent}for j in {source}:"]
            if source == "ys":
                lines[0] = f"{indent}for j in range(len(ys)):"
            return lines + self.block(depth - 1, [*names, "j"], inner, 3)
        if kind == 13 and "k0" not in names:
            lines = [f"{indent}k0 = 0", f"{indent}while k0 < {self.draw(st.integers(0, 4))}:",
                     f"{inner}k0 += 1"]
            return lines + self.block(depth - 1, [*names, "k0"], inner, 2)
        if kind == 14:
            exit_kind = self.pick(["break", "continue", "return"])
            if exit_kind == "return":
                exit_kind = "return (a0, x0, out)"
            after = self.draw(st.integers(0, 300))
            return [f"{indent}if {self.bool_expr(1, names)} and i > {after}:",
                    f"{inner}{exit_kind}"]
        if self.helpers_returning("i") or self.helpers_returning("f"):
            result = self.pick([h for h in self.helpers
                                if self.lists or "o" not in h[1]])[2]
            if result == "f":
                return [f"{indent}{self.pick(FLOAT_VARS)} = {self.call(2, names, 'f')}"]
            return [f"{indent}{self.pick(INT_VARS)} = {self.call(2, names, 'i')}"
                    f" % {self.pick(MODULI)}"]
        return [f"{indent}{self.pick(INT_VARS)} -= 1"]


SCHEDULES = [
    ("{v} = 1.5", INT_VARS), ("{v} = 2**70 + 3", INT_VARS), ("{v} = True", INT_VARS),
    ("{v} = -(2**63)", INT_VARS), ("{v} = 7", FLOAT_VARS), ("{v} = None", INT_VARS + FLOAT_VARS),
    ("xs[{k}] = None", ["xs"]), ("xs[{k}] = 2.5", ["xs"]), ("xs[{k}] = 2**65", ["xs"]),
    ("ys[{k}] = 3", ["ys"]), ("m[{k}] = [1.5, None]", ["m"]), ("{v} = 0", BOOL_VARS),
    ("print({v})", INT_VARS + FLOAT_VARS),
]


@st.composite
def programs(draw: Any, max_statements: int = 6) -> Program:
    """A random loop program with 0-2 type/value schedules (see the module doc)."""
    helpers: list[tuple[str, str, str]] = []
    lines: list[str] = ["import math", ""]
    for h in range(draw(st.integers(0, 2))):
        helpers.append(_helper(draw, f"g{h}", helpers, lines))
    gen = _Gen(draw, helpers)
    gen.objects = draw(st.booleans())
    if gen.objects:
        lines += program_objects.class_source(draw)
    names = ["i", *INT_VARS, *FLOAT_VARS, *BOOL_VARS]
    init = [f"    {v} = {_lit(draw(st.sampled_from(INT_EDGES)))}" for v in INT_VARS]
    init += [f"    {v} = {_lit(draw(st.sampled_from(FLOAT_EDGES[:10])))}" for v in FLOAT_VARS]
    init += ["    b0 = False", "    out = [0] * 6"]
    if gen.objects:
        init += program_objects.INIT
    body = gen.block(2, names, "        ", max_statements)
    schedules = SCHEDULES + program_objects.SCHEDULES if gen.objects else SCHEDULES
    for _ in range(draw(st.integers(0, 2))):
        template, targets = draw(st.sampled_from(schedules))
        stmt = template.format(v=draw(st.sampled_from(targets)), k=draw(st.integers(-1, 2)))
        at = draw(st.integers(0, 400))
        pos = draw(st.integers(0, len(body)))
        while pos < len(body) and body[pos].startswith("         "):
            pos += 1  # only between top-level statements of the loop body
        body[pos:pos] = [f"        if i == {at}:", f"            {stmt}"]
    result = "a0, a1, a2, x0, x1, b0, out"
    if gen.objects:
        result += ", " + program_objects.RESULT
    lines += ["def f(n, xs, ys, m):", *init, "    for i in range(n):", *body,
              f"    return ({result})", ""]
    n = draw(st.sampled_from([0, 1, 5, 60, 250, 500]))
    xs = draw(st.lists(st.sampled_from(INT_EDGES), min_size=1, max_size=5))
    ys = draw(st.lists(st.sampled_from(FLOAT_EDGES), min_size=1, max_size=4))
    m = draw(st.lists(st.lists(st.integers(-50, 50), min_size=1, max_size=3),
                      min_size=1, max_size=3))
    args = f"({n}, {_lits(xs)}, {_lits(ys)}, {m!r})"
    return Program("\n".join(lines), args)


def _helper(draw: Any, name: str, earlier: list[tuple[str, str, str]],
            lines: list[str]) -> tuple[str, str, str]:
    """Append a small helper ``name(p, q)`` (one branch, two returns, maybe a
    short loop) to ``lines``.

    Its body reuses the loop body's variable names, bound from the parameters,
    so the same expression generator serves; it may call earlier helpers.
    Some helpers also take the loop's ``out`` list and store into it first:
    a guard failing after that store resumes inside the helper (see
    :mod:`tracejit.reentry`), which redoing the call would get wrong."""
    kinds = draw(st.sampled_from(["ii", "if", "ff", "fi"]))
    stores = draw(st.booleans())
    result = draw(st.sampled_from("if"))
    gen = _Gen(draw, earlier)
    gen.lists = False
    names = ["i", "a0", "a1"]
    params = "p, q, o" if stores else "p, q"
    lines += [
        f"def {name}({params}):",
        "    a0 = " + ("p" if kinds[0] == "i" else "int(p % 1000.0)"),
        "    a1 = " + ("q" if kinds[1] == "i" else "3"),
        "    a2 = 5",
        "    x0 = " + ("q" if kinds[1] == "f" else "0.5"),
        "    x1 = " + ("p" if kinds[0] == "f" else "-1.0"),
        "    b0 = a0 > a1",
        "    i = 1",
    ]
    if stores:
        k = draw(st.integers(0, 5))
        lines.append(f"    o[{k}] = (o[{k}] + a0 + 1) % 1000003")
        kinds += "o"
    if draw(st.booleans()):
        # a loop of its own: unrolled into the caller's trace when short,
        # the helper called instead once it ran long (callee_loop_unroll)
        count = draw(st.sampled_from(["3", "a1 % 5", "abs(a0) % 20", "30"]))
        lines += [f"    for k1 in range({count}):",
                  f"        a2 = (a2 * 3 + k1 + {gen.int_atom(names)}) % 1000003"]
        if stores:
            lines.append("        o[k1 % 6] = a2 % 7")
    lines += [
        f"    if {gen.bool_expr(1, names)}:",
    ]
    for indent in ("        ", "    "):
        if result == "i":
            lines.append(f"{indent}return {gen.int_expr(2, names, True)} % 1000003")
        else:
            lines.append(f"{indent}return {gen.float_expr(2, names)}")
    lines.append("")
    return name, kinds, result


def _lits(values: list[Any]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]"
