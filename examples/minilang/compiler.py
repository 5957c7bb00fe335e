"""minilang's front end: tokenizer, parser and compiler to stack bytecode.

A program is a list of function definitions and top-level statements::

    # comments run to the end of the line
    func fib(n) {
        if n < 2 { return n; }
        return fib(n - 1) + fib(n - 2);
    }
    var i = 0;
    while i < 10 {
        print("fib", i, "=", fib(i));
        i = i + 1;
    }

Values are ints, floats and strings.  ``+ - * / %`` on numbers (``/`` of
two ints is floor division, as Python's ``//``), ``+`` also joins two
strings; ``< <= > >=`` compare two numbers or two strings, ``== !=`` any two
values; ``and or not`` (0, 0.0 and "" are false).  Builtins: ``len(s)``,
``s[i]``, ``str(x)``, ``int(x)``, ``float(x)``, ``arg(i, default)`` (the
i-th argument the program was run with) and the statement ``print(...)``.
``var x = e;`` declares a local of the enclosing function (or of the top
level), ``x = e;`` assigns one; functions are global and may call each
other in any order.  The parser compiles as it goes, one :class:`Code` per
function; errors are :class:`GuestError` with the line.
"""

from __future__ import annotations

import re

# the opcodes: vm.py dispatches on these ints
OPS = ["LOAD", "STORE", "CONST", "ADD", "SUB", "MUL", "DIV", "MOD", "LT", "LE", "GT", "GE",
       "EQ", "NE", "JUMP_IF_FALSE", "JUMP_BACK", "JUMP", "JUMP_IF_TRUE", "DUP", "POP", "NEG",
       "NOT", "CALL", "RETURN", "PRINT", "LEN", "INDEX", "STR", "INT", "FLOAT", "ARG"]
(LOAD, STORE, CONST, ADD, SUB, MUL, DIV, MOD, LT, LE, GT, GE, EQ, NE, JUMP_IF_FALSE,
 JUMP_BACK, JUMP, JUMP_IF_TRUE, DUP, POP, NEG, NOT, CALL, RETURN, PRINT, LEN, INDEX, STR, INT,
 FLOAT, ARG) = range(len(OPS))

BINARY = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "%": MOD, "<": LT, "<=": LE, ">": GT,
          ">=": GE, "==": EQ, "!=": NE}
# builtin functions: opcode and number of arguments
BUILTINS = {"len": (LEN, 1), "str": (STR, 1), "int": (INT, 1), "float": (FLOAT, 1),
            "arg": (ARG, 2)}
KEYWORDS = {"func", "var", "if", "else", "while", "return", "and", "or", "not", "print"}
ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}

_TOKEN = re.compile(r"""
      (?P<space>[ \t\r]+|\#[^\n]*)
    | (?P<newline>\n)
    | (?P<float>\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
    | (?P<int>\d+)
    | (?P<str>"(?:[^"\\\n]|\\.)*")
    | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
    | (?P<op>==|!=|<=|>=|[-+*/%<>=(){}\[\],;])
    """, re.VERBOSE)


class GuestError(Exception):
    """An error of the guest program (syntax, unknown name, wrong types, ...):
    ``str()`` is ``"line N: message"``."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class Code:
    """One function's bytecode: instruction k is ``ops[k]`` with the int
    argument ``args[k]``, from source line ``lines[k]``.  Never changed once
    :func:`compile_program` returns (the JIT relies on it: ``code`` is green)."""

    # (no __slots__: the tracer folds reads of _immutable_fields_ from an
    # instance's __dict__; slot fields do not fold, see examples/README.md)
    _immutable_fields_ = ["ops[*]", "args[*]", "consts[*]", "lines[*]", "varnames[*]", "name",
                          "nlocals", "nparams"]

    def __init__(self, name: str, params: list[str]) -> None:
        self.name = name
        self.nparams = len(params)
        self.varnames: list[str] = list(params)
        self.nlocals = len(params)
        self.ops: list[int] = []
        self.args: list[int] = []
        self.consts: list[object] = []
        self.lines: list[int] = []

    def __repr__(self) -> str:
        return f"<Code {self.name}>"


class _Call:
    """A call of a function not compiled yet: a placeholder in ``consts``."""

    def __init__(self, name: str, nargs: int, line: int) -> None:
        self.name, self.nargs, self.line = name, nargs, line


def tokenize(source: str) -> list[tuple[str, str, int]]:
    """``(kind, text, line)`` for each token, ending with ``("eof", "", line)``."""
    tokens = []
    line = 1
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise GuestError(f"unexpected character {source[pos]!r}", line)
        kind = m.lastgroup
        text = m.group()
        pos = m.end()
        if kind == "newline":
            line += 1
        elif kind == "name" and text in KEYWORDS:
            tokens.append((text, text, line))
        elif kind != "space":
            tokens.append((kind, text, line))
    tokens.append(("eof", "", line))
    return tokens


def _unescape(text: str, line: int) -> str:
    out = []
    i = 1
    while i < len(text) - 1:
        c = text[i]
        if c == "\\":
            i += 1
            if text[i] not in ESCAPES:
                raise GuestError(f"unknown escape \\{text[i]}", line)
            c = ESCAPES[text[i]]
        out.append(c)
        i += 1
    return "".join(out)


class Compiler:
    """A recursive-descent parser that emits bytecode as it parses."""

    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.at = 0
        self.functions: dict[str, Code] = {}
        self.code = Code("<main>", [])
        self.scope: dict[str, int] = {}

    # ---------------------------------------------------------------- tokens

    def peek(self, ahead: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def line(self) -> int:
        return self.peek()[2]

    def next(self) -> tuple[str, str, int]:
        token = self.peek()
        self.at += 1
        return token

    def expect(self, text: str) -> tuple[str, str, int]:
        token = self.peek()
        if token[1] != text or token[0] in ("str", "eof"):
            found = "the end of the program" if token[0] == "eof" else repr(token[1])
            raise GuestError(f"expected {text!r}, found {found}", token[2])
        return self.next()

    def accept(self, text: str) -> bool:
        if self.peek()[1] == text and self.peek()[0] not in ("str", "eof"):
            self.at += 1
            return True
        return False

    def name(self) -> str:
        kind, text, line = self.next()
        if kind != "name":
            raise GuestError(f"expected a name, found {text!r}", line)
        return text

    # --------------------------------------------------------------- emitting

    def emit(self, op: int, arg: int = 0, line: int = 0) -> int:
        code = self.code
        code.ops.append(op)
        code.args.append(arg)
        code.lines.append(line)
        return len(code.ops) - 1

    def here(self) -> int:
        return len(self.code.ops)

    def patch(self, at: int, target: int) -> None:
        self.code.args[at] = target

    def constant(self, value: object) -> int:
        consts = self.code.consts
        for k, c in enumerate(consts):
            if type(c) is type(value) and c == value:
                return k
        consts.append(value)
        return len(consts) - 1

    def declare(self, name: str) -> int:
        if name not in self.scope:
            self.scope[name] = len(self.scope)
            self.code.varnames.append(name)
            self.code.nlocals = len(self.scope)
        return self.scope[name]

    # ---------------------------------------------------------------- program

    def program(self) -> Code:
        main = self.code
        while self.peek()[0] != "eof":
            if self.peek()[0] == "func":
                self.function()
            else:
                self.statement()
        self.emit(CONST, self.constant(0), self.line())
        self.emit(RETURN, 0, self.line())
        self._link(main)
        for code in self.functions.values():
            self._link(code)
        return main

    def _link(self, code: Code) -> None:
        """Replace the placeholders of calls by the functions they call."""
        for k, c in enumerate(code.consts):
            if isinstance(c, _Call):
                callee = self.functions.get(c.name)
                if callee is None:
                    raise GuestError(f"unknown function {c.name!r}", c.line)
                if callee.nparams != c.nargs:
                    raise GuestError(f"{c.name}() takes {callee.nparams} arguments, "
                                     f"not {c.nargs}", c.line)
                code.consts[k] = callee

    def function(self) -> None:
        line = self.expect("func")[2]
        name = self.name()
        if name in self.functions or name in BUILTINS:
            raise GuestError(f"function {name!r} is defined twice", line)
        self.expect("(")
        params: list[str] = []
        while not self.accept(")"):
            if params:
                self.expect(",")
            param = self.name()
            if param in params:
                raise GuestError(f"parameter {param!r} appears twice", line)
            params.append(param)
        outer_code, outer_scope = self.code, self.scope
        self.code = Code(name, params)
        self.scope = {p: k for k, p in enumerate(params)}
        self.functions[name] = self.code
        self.block()
        self.emit(CONST, self.constant(0), self.line())
        self.emit(RETURN, 0, self.line())
        self.code, self.scope = outer_code, outer_scope

    def block(self) -> None:
        self.expect("{")
        while not self.accept("}"):
            if self.peek()[0] == "eof":
                raise GuestError("expected '}', found the end of the program", self.line())
            if self.peek()[0] == "func":
                raise GuestError("functions are defined at the top level only", self.line())
            self.statement()

    # ------------------------------------------------------------- statements

    def statement(self) -> None:
        kind, text, line = self.peek()
        if kind == "var":
            self.next()
            name = self.name()
            self.expect("=")
            self.expression()
            self.emit(STORE, self.declare(name), line)
            self.expect(";")
        elif kind == "name" and self.peek(1)[1] == "=":
            self.next()
            self.next()
            if text not in self.scope:
                raise GuestError(f"unknown variable {text!r} (declare it with var)", line)
            self.expression()
            self.emit(STORE, self.scope[text], line)
            self.expect(";")
        elif kind == "if":
            self.if_statement()
        elif kind == "while":
            self.next()
            top = self.here()
            self.expression()
            leave = self.emit(JUMP_IF_FALSE, 0, line)
            self.block()
            self.emit(JUMP_BACK, top, line)
            self.patch(leave, self.here())
        elif kind == "return":
            self.next()
            if self.peek()[1] == ";":
                self.emit(CONST, self.constant(0), line)
            else:
                self.expression()
            self.emit(RETURN, 0, line)
            self.expect(";")
        elif kind == "print":
            self.next()
            self.expect("(")
            n = 0
            while not self.accept(")"):
                if n:
                    self.expect(",")
                self.expression()
                n += 1
            self.emit(PRINT, n, line)
            self.expect(";")
        else:
            self.expression()
            self.emit(POP, 0, line)
            self.expect(";")

    def if_statement(self) -> None:
        line = self.expect("if")[2]
        self.expression()
        skip = self.emit(JUMP_IF_FALSE, 0, line)
        self.block()
        if self.accept("else"):
            over = self.emit(JUMP, 0, line)
            self.patch(skip, self.here())
            if self.peek()[0] == "if":
                self.if_statement()
            else:
                self.block()
            self.patch(over, self.here())
        else:
            self.patch(skip, self.here())

    # ------------------------------------------------------------ expressions

    def expression(self) -> None:
        self.and_expression()
        while self.peek()[0] == "or":
            line = self.next()[2]
            self.emit(DUP, 0, line)
            done = self.emit(JUMP_IF_TRUE, 0, line)
            self.emit(POP, 0, line)
            self.and_expression()
            self.patch(done, self.here())

    def and_expression(self) -> None:
        self.not_expression()
        while self.peek()[0] == "and":
            line = self.next()[2]
            self.emit(DUP, 0, line)
            done = self.emit(JUMP_IF_FALSE, 0, line)
            self.emit(POP, 0, line)
            self.not_expression()
            self.patch(done, self.here())

    def not_expression(self) -> None:
        if self.peek()[0] == "not":
            line = self.next()[2]
            self.not_expression()
            self.emit(NOT, 0, line)
        else:
            self.comparison()

    def comparison(self) -> None:
        self.sum()
        kind, text, line = self.peek()
        if kind == "op" and text in ("<", "<=", ">", ">=", "==", "!="):
            self.next()
            self.sum()
            self.emit(BINARY[text], 0, line)

    def sum(self) -> None:
        self.product()
        while self.peek()[0] == "op" and self.peek()[1] in ("+", "-"):
            _, text, line = self.next()
            self.product()
            self.emit(BINARY[text], 0, line)

    def product(self) -> None:
        self.unary()
        while self.peek()[0] == "op" and self.peek()[1] in ("*", "/", "%"):
            _, text, line = self.next()
            self.unary()
            self.emit(BINARY[text], 0, line)

    def unary(self) -> None:
        if self.peek()[0] == "op" and self.peek()[1] == "-":
            line = self.next()[2]
            self.unary()
            self.emit(NEG, 0, line)
            return
        self.primary()
        while self.peek()[0] == "op" and self.peek()[1] == "[":
            line = self.next()[2]
            self.expression()
            self.expect("]")
            self.emit(INDEX, 0, line)

    def primary(self) -> None:
        kind, text, line = self.next()
        if kind == "int":
            self.emit(CONST, self.constant(int(text)), line)
        elif kind == "float":
            self.emit(CONST, self.constant(float(text)), line)
        elif kind == "str":
            self.emit(CONST, self.constant(_unescape(text, line)), line)
        elif kind == "name" and self.peek()[1] == "(":
            self.call(text, line)
        elif kind == "name":
            if text not in self.scope:
                raise GuestError(f"unknown variable {text!r}", line)
            self.emit(LOAD, self.scope[text], line)
        elif kind == "op" and text == "(":
            self.expression()
            self.expect(")")
        else:
            found = "the end of the program" if kind == "eof" else repr(text)
            raise GuestError(f"expected an expression, found {found}", line)

    def call(self, name: str, line: int) -> None:
        self.expect("(")
        nargs = 0
        while not self.accept(")"):
            if nargs:
                self.expect(",")
            self.expression()
            nargs += 1
        if name in BUILTINS:
            op, wanted = BUILTINS[name]
            if nargs != wanted:
                raise GuestError(f"{name}() takes {wanted} arguments, not {nargs}", line)
            self.emit(op, 0, line)
        else:
            # the callee is linked in when every function is compiled
            self.emit(CALL, self.constant_call(name, nargs, line), line)

    def constant_call(self, name: str, nargs: int, line: int) -> int:
        consts = self.code.consts
        for k, c in enumerate(consts):
            if isinstance(c, _Call) and c.name == name and c.nargs == nargs:
                return k
        consts.append(_Call(name, nargs, line))
        return len(consts) - 1


def compile_program(source: str) -> Code:
    """The bytecode of the top level of ``source`` (its calls lead to the rest)."""
    return Compiler(source).program()


def disassemble(code: Code) -> str:
    """A listing of ``code``: offset, line, opcode, argument."""
    rows = [f"{code.name} ({code.nparams} parameters, locals {code.varnames})"]
    for k, (op, arg, line) in enumerate(zip(code.ops, code.args, code.lines)):
        what = ""
        if op in (LOAD, STORE):
            what = code.varnames[arg]
        elif op == CONST or op == CALL:
            what = repr(code.consts[arg])
        rows.append(f"{k:5} {line:4}  {OPS[op]:<14}{arg:<5} {what}")
    return "\n".join(rows)
