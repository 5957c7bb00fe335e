"""A Brainfuck interpreter, written for tracejit's meta-tracing hints.

    python examples/brainfuck/bf.py PROGRAM.b [INPUT]       # plain CPython
    python -m tracejit examples/brainfuck/bf.py PROGRAM.b    # with the JIT
    python examples/brainfuck/bf.py                          # a built-in program

The classic eight commands on a tape of byte cells that wrap at 256 (``-``
on 0 gives 255), growing to the right on demand; ``<`` off the left end is an
error.  ``,`` reads the next character of the input string (0 at its end),
``.`` appends a character to the output, which :func:`run` returns as a str.
Every other character is a comment.

The hints: the dispatch loop of :func:`interpret` is the JIT driver's loop; the
greens are the position in the program (``pc``), the program (a str) and its
bracket map (a dict that never changes once built), so a trace of a guest
loop knows every command it runs.  ``]`` is the backward jump, where
``can_enter_jit`` is called.  The bracket map is read through the
``@elidable`` :func:`matching_bracket`, which folds in a trace (the map and
the pc are constants there).
"""

from __future__ import annotations

import sys
from pathlib import Path

from tracejit import JitDriver, elidable

COMMANDS = "+-<>[].,"


class BFError(Exception):
    """An ill-formed program (unbalanced brackets) or a move off the tape."""


def printable_location(pc: int, program: str, brackets: dict[int, int]) -> str:
    """``pc`` and the commands around it (the name of a trace)."""
    return f"bf {pc}: {program[max(0, pc - 3):pc]}_{program[pc]}_{program[pc + 1:pc + 4]}"


driver = JitDriver(greens=["pc", "program", "brackets"], reds="auto",
                   get_printable_location=printable_location, name="bf")


class Tape:
    """The cells (a list of ints 0..255) and the head's position."""

    __slots__ = ("cells", "position")

    def __init__(self) -> None:
        self.cells = [0]
        self.position = 0

    def get(self) -> int:
        return self.cells[self.position]

    def set(self, value: int) -> None:
        self.cells[self.position] = value & 255

    def inc(self) -> None:
        value = self.cells[self.position] + 1
        if value == 256:
            value = 0
        self.cells[self.position] = value

    def dec(self) -> None:
        value = self.cells[self.position] - 1
        if value < 0:
            value = 255
        self.cells[self.position] = value

    def advance(self) -> None:
        self.position += 1
        if self.position == len(self.cells):
            self.cells.append(0)

    def devance(self) -> None:
        if self.position == 0:
            raise BFError("'<' moved off the left end of the tape")
        self.position -= 1


def parse(source: str) -> tuple[str, dict[int, int]]:
    """The commands of ``source`` (comments dropped) and their bracket map:
    the position of each ``[`` to its ``]`` and back."""
    program = "".join(c for c in source if c in COMMANDS)
    brackets: dict[int, int] = {}
    opened: list[int] = []
    for pc, c in enumerate(program):
        if c == "[":
            opened.append(pc)
        elif c == "]":
            if not opened:
                raise BFError(f"unmatched ']' at command {pc}")
            start = opened.pop()
            brackets[start] = pc
            brackets[pc] = start
    if opened:
        raise BFError(f"unmatched '[' at command {opened[-1]}")
    return program, brackets


@elidable
def matching_bracket(brackets: dict[int, int], pc: int) -> int:
    """The position of the bracket matching the one at ``pc`` (the map is
    never changed once :func:`parse` built it, so in a trace this folds)."""
    return brackets[pc]


_parsed: dict[str, tuple[str, dict[int, int]]] = {}


def run(source: str, inp: str = "") -> str:
    """Run the Brainfuck program ``source`` on the input ``inp``; its output.
    A source is parsed once: run again, it is the same greens (the same
    program and bracket map), so the JIT's code for its loops is reused."""
    parsed = _parsed.get(source)
    if parsed is None:
        parsed = _parsed[source] = parse(source)
    program, brackets = parsed
    return interpret(program, brackets, inp)


def interpret(program: str, brackets: dict[int, int], inp: str = "") -> str:
    """Run a parsed program (see :func:`parse`): the dispatch loop."""
    tape = Tape()
    out: list[str] = []
    inpos = 0
    pc = 0
    while pc < len(program):
        driver.jit_merge_point(pc=pc, program=program, brackets=brackets,
                               tape=tape, out=out, inpos=inpos)
        c = program[pc]
        if c == "+":
            tape.inc()
            pc += 1
        elif c == "-":
            tape.dec()
            pc += 1
        elif c == ">":
            tape.advance()
            pc += 1
        elif c == "<":
            tape.devance()
            pc += 1
        elif c == "[":
            if tape.get() == 0:
                pc = matching_bracket(brackets, pc) + 1  # past the "]"
            else:
                pc += 1
        elif c == "]":
            if tape.get() != 0:
                # back to the first command of the loop body (the "[" would
                # only test the same cell again)
                pc = matching_bracket(brackets, pc) + 1
                driver.can_enter_jit(pc=pc, program=program, brackets=brackets,
                                     tape=tape, out=out, inpos=inpos)
            else:
                pc += 1
        elif c == ".":
            out.append(chr(tape.get()))
            pc += 1
        else:  # ","
            if inpos < len(inp):
                tape.set(ord(inp[inpos]))
                inpos += 1
            else:
                tape.set(0)
            pc += 1
    return "".join(out)


HELLO = (Path(__file__).parent / "programs" / "hello.b").read_text()


def main(argv: list[str]) -> int:
    """``bf.py [PROGRAM.b [INPUT]]``: run a file (INPUT: its input string,
    or ``-`` to read standard input), or the built-in Hello World."""
    if len(argv) > 3 or (len(argv) > 1 and argv[1] in ("-h", "--help")):
        print(main.__doc__, file=sys.stderr)
        return 2
    if len(argv) >= 2:
        with open(argv[1]) as f:
            source = f.read()
    else:
        source = HELLO
    inp = ""
    if len(argv) == 3:
        inp = sys.stdin.read() if argv[2] == "-" else argv[2]
    try:
        output = run(source, inp)
    except BFError as e:
        print(f"bf: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(output)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
