"""minilang's virtual machine: one dispatch loop, with tracejit's JIT hints.

    python examples/minilang/vm.py examples/minilang/programs/fib.ml [ARGS...]
    python -m tracejit examples/minilang/vm.py examples/minilang/programs/loops.ml

The hints: :func:`execute` is the driver's loop.  Its greens are ``pc`` and
``code``, a :class:`~compiler.Code` whose bytecode lists never change
(``_immutable_fields_``), so a trace is one loop of the guest program with
the opcode dispatch, operand decoding and constant loads folded away.  The
guest's ``while`` loops end in ``JUMP_BACK``, where ``can_enter_jit`` is
called.  A call switches ``code``, ``pc`` and the operand stack and locals in
the same loop (the Python stack does not grow with the guest's); a return
restores them from the :class:`Frame`, red data, so the restored ``code`` and
``pc`` are promoted to constants again.  :func:`pop_arguments` and
:func:`pop_values` loop over a number of values fixed by the bytecode:
``@unroll_safe``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tracejit import JitDriver, promote, unroll_safe

try:
    from .compiler import (
        ADD,
        ARG,
        CALL,
        CONST,
        DIV,
        DUP,
        EQ,
        FLOAT,
        GE,
        GT,
        INDEX,
        INT,
        JUMP,
        JUMP_BACK,
        JUMP_IF_FALSE,
        JUMP_IF_TRUE,
        LE,
        LEN,
        LOAD,
        LT,
        MOD,
        MUL,
        NE,
        NEG,
        NOT,
        OPS,
        POP,
        PRINT,
        RETURN,
        STORE,
        STR,
        SUB,
        Code,
        GuestError,
        compile_program,
    )
except ImportError:  # run as a script: examples/minilang is sys.path[0]
    from compiler import (  # type: ignore[no-redef]
        ADD,
        ARG,
        CALL,
        CONST,
        DIV,
        DUP,
        EQ,
        FLOAT,
        GE,
        GT,
        INDEX,
        INT,
        JUMP,
        JUMP_BACK,
        JUMP_IF_FALSE,
        JUMP_IF_TRUE,
        LE,
        LEN,
        LOAD,
        LT,
        MOD,
        MUL,
        NE,
        NEG,
        NOT,
        OPS,
        POP,
        PRINT,
        RETURN,
        STORE,
        STR,
        SUB,
        Code,
        GuestError,
        compile_program,
    )

__all__ = ["GuestError", "run", "execute", "main"]

SYMBOLS = {LT: "<", LE: "<=", GT: ">", GE: ">="}
MAX_DEPTH = 2000  # guest call depth (the guest's frames are objects: no Python limit)


def printable_location(pc: int, code: Code) -> str:
    """The function, offset, opcode and line (the name of a trace)."""
    return f"{code.name}:{pc} {OPS[code.ops[pc]]} (line {code.lines[pc]})"


driver = JitDriver(greens=["pc", "code"], reds="auto",
                   get_printable_location=printable_location, name="minilang")


class Frame:
    """A caller's state while its callee runs."""

    __slots__ = ("code", "pc", "stack", "locals", "parent")

    def __init__(self, code: Code, pc: int, stack: list, locals_: list,
                 parent: Frame | None) -> None:
        self.code = code
        self.pc = pc
        self.stack = stack
        self.locals = locals_
        self.parent = parent


def fail(code: Code, pc: int, message: str) -> GuestError:
    """The error of the instruction at ``pc``."""
    return GuestError(message, code.lines[pc])


def kind(value: object) -> str:
    """A guest value's type name."""
    t = type(value)
    if t is int:
        return "int"
    if t is float:
        return "float"
    return "str"


def show(value: object) -> str:
    """How ``print`` and ``str()`` write a value."""
    if type(value) is float:
        return repr(value)
    return str(value)


def type_error(code: Code, pc: int, symbol: str, a: object, b: object) -> GuestError:
    return fail(code, pc, f"cannot apply {symbol!r} to {kind(a)} and {kind(b)}")


def divide(code: Code, pc: int, a: object, b: object) -> object:
    """``a / b``: floor division for two ints, true division otherwise."""
    if type(a) is str or type(b) is str:
        raise type_error(code, pc, "/", a, b)
    if b == 0:
        raise fail(code, pc, "division by zero")
    if type(a) is int and type(b) is int:
        return a // b
    return a / b


def modulo(code: Code, pc: int, a: object, b: object) -> object:
    if type(a) is str or type(b) is str:
        raise type_error(code, pc, "%", a, b)
    if b == 0:
        raise fail(code, pc, "division by zero")
    return a % b


def to_int(code: Code, pc: int, value: object) -> int:
    if type(value) is str:
        try:
            return int(value)
        except ValueError:
            raise fail(code, pc, f"int() of {value!r}") from None
    if type(value) is float and (value != value or value in (float("inf"), float("-inf"))):
        raise fail(code, pc, f"int() of {value!r}")
    return int(value)


def to_float(code: Code, pc: int, value: object) -> float:
    try:
        return float(value)
    except ValueError:
        raise fail(code, pc, f"float() of {value!r}") from None


def index(code: Code, pc: int, s: object, i: object) -> str:
    if type(s) is not str:
        raise fail(code, pc, f"cannot index {kind(s)}")
    if type(i) is not int:
        raise fail(code, pc, f"a string index must be an int, not {kind(i)}")
    if i < 0 or i >= len(s):
        raise fail(code, pc, f"string index {i} out of range (length {len(s)})")
    return s[i]


def argument(code: Code, pc: int, argv: Sequence[object], i: object, default: object
             ) -> object:
    """``arg(i, default)``: the i-th argument of the run, or ``default``."""
    if type(i) is not int:
        raise fail(code, pc, f"arg() needs an int index, not {kind(i)}")
    if 0 <= i < len(argv):
        return argv[i]
    return default


@unroll_safe
def pop_arguments(stack: list, callee: Code) -> list:
    """The callee's locals: its arguments (popped off ``stack``), then unset."""
    locals_: list = [None] * callee.nlocals
    i = callee.nparams
    while i > 0:
        i -= 1
        locals_[i] = stack.pop()
    return locals_


@unroll_safe
def pop_values(stack: list, n: int) -> str:
    """``print``'s line: the top ``n`` values, deepest first, joined by spaces."""
    parts: list[str] = [""] * n
    while n > 0:
        n -= 1
        parts[n] = show(stack.pop())
    return " ".join(parts)


def execute(code: Code, argv: Sequence[object], out: list[str], echo: bool = False) -> object:
    """Run ``code`` (a program's top level); each printed line is appended
    to ``out`` (and printed if ``echo``).  Returns the top level's ``return``
    value (0 without one)."""
    pc = 0
    stack: list = []
    locals_: list = [None] * code.nlocals
    frame: Frame | None = None
    depth = 0
    while True:
        driver.jit_merge_point(pc=pc, code=code, stack=stack, locals_=locals_, frame=frame,
                               depth=depth, argv=argv, out=out, echo=echo)
        op = code.ops[pc]
        arg = code.args[pc]
        pc += 1
        if op == LOAD:
            value = locals_[arg]
            if value is None:
                raise fail(code, pc - 1, f"variable {code.varnames[arg]!r} is used before "
                                         f"it has a value")
            stack.append(value)
        elif op == STORE:
            locals_[arg] = stack.pop()
        elif op == CONST:
            stack.append(code.consts[arg])
        elif op == ADD:
            b = stack.pop()
            a = stack.pop()
            if (type(a) is str) != (type(b) is str):
                raise type_error(code, pc - 1, "+", a, b)
            stack.append(a + b)
        elif op == SUB:
            b = stack.pop()
            a = stack.pop()
            if type(a) is str or type(b) is str:
                raise type_error(code, pc - 1, "-", a, b)
            stack.append(a - b)
        elif op == MUL:
            b = stack.pop()
            a = stack.pop()
            if type(a) is str or type(b) is str:
                raise type_error(code, pc - 1, "*", a, b)
            stack.append(a * b)
        elif op == DIV:
            b = stack.pop()
            a = stack.pop()
            stack.append(divide(code, pc - 1, a, b))
        elif op == MOD:
            b = stack.pop()
            a = stack.pop()
            stack.append(modulo(code, pc - 1, a, b))
        elif op == LT or op == LE or op == GT or op == GE:
            b = stack.pop()
            a = stack.pop()
            if (type(a) is str) != (type(b) is str):
                raise fail(code, pc - 1, f"cannot compare {kind(a)} and {kind(b)} with "
                                         f"{SYMBOLS[op]!r}")
            if op == LT:
                stack.append(1 if a < b else 0)
            elif op == LE:
                stack.append(1 if a <= b else 0)
            elif op == GT:
                stack.append(1 if a > b else 0)
            else:
                stack.append(1 if a >= b else 0)
        elif op == EQ:
            b = stack.pop()
            a = stack.pop()
            stack.append(1 if a == b else 0)
        elif op == NE:
            b = stack.pop()
            a = stack.pop()
            stack.append(1 if a != b else 0)
        elif op == JUMP_IF_FALSE:
            if not stack.pop():
                pc = arg
        elif op == JUMP_BACK:
            pc = arg
            driver.can_enter_jit(pc=pc, code=code, stack=stack, locals_=locals_, frame=frame,
                                 depth=depth, argv=argv, out=out, echo=echo)
        elif op == JUMP:
            pc = arg
        elif op == JUMP_IF_TRUE:
            if stack.pop():
                pc = arg
        elif op == DUP:
            stack.append(stack[-1])
        elif op == POP:
            stack.pop()
        elif op == NEG:
            a = stack.pop()
            if type(a) is str:
                raise fail(code, pc - 1, "cannot negate str")
            stack.append(-a)
        elif op == NOT:
            stack.append(0 if stack.pop() else 1)
        elif op == CALL:
            callee = code.consts[arg]
            if depth >= MAX_DEPTH:
                raise fail(code, pc - 1, f"calls nested more than {MAX_DEPTH} deep")
            new_locals = pop_arguments(stack, callee)
            frame = Frame(code, pc, stack, locals_, frame)
            depth += 1
            code = callee
            pc = 0
            stack = []
            locals_ = new_locals
        elif op == RETURN:
            result = stack.pop()
            if frame is None:
                return result
            # the caller's position is red data: promote it, it is green again
            code = promote(frame.code)
            pc = promote(frame.pc)
            stack = frame.stack
            locals_ = frame.locals
            frame = frame.parent
            depth -= 1
            stack.append(result)
        elif op == PRINT:
            line = pop_values(stack, arg)
            out.append(line)
            if echo:
                print(line)
        elif op == LEN:
            s = stack.pop()
            if type(s) is not str:
                raise fail(code, pc - 1, f"len() of {kind(s)}")
            stack.append(len(s))
        elif op == INDEX:
            i = stack.pop()
            s = stack.pop()
            stack.append(index(code, pc - 1, s, i))
        elif op == STR:
            stack.append(show(stack.pop()))
        elif op == INT:
            stack.append(to_int(code, pc - 1, stack.pop()))
        elif op == FLOAT:
            stack.append(to_float(code, pc - 1, stack.pop()))
        elif op == ARG:
            default = stack.pop()
            i = stack.pop()
            stack.append(argument(code, pc - 1, argv, i, default))
        else:
            raise AssertionError(f"bad opcode {op} at {code.name}:{pc - 1}")


def run(source: str, argv: Sequence[object] = (), echo: bool = False) -> str:
    """Compile and run a minilang program; what it printed (one line per
    ``print``, each ending in a newline).  Raises :class:`GuestError`."""
    out: list[str] = []
    program = _compiled.get(source)
    if program is None:  # (compiled once: run again, its code objects are the same
        program = _compiled[source] = compile_program(source)  # greens)
    execute(program, list(argv), out, echo)
    return "".join(line + "\n" for line in out)


_compiled: dict[str, object] = {}


def parse_argument(text: str) -> object:
    """A command-line argument as a guest value: an int, a float or a str."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def main(argv: list[str]) -> int:
    """``vm.py PROGRAM.ml [ARGS...]``: run a program, printing as it goes."""
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print("usage: vm.py PROGRAM.ml [ARGS...]", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        source = f.read()
    try:
        run(source, [parse_argument(a) for a in argv[2:]], echo=True)
    except GuestError as e:
        print(f"{argv[1]}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
