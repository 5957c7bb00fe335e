"""The object part of the fuzzer's programs (see :mod:`tracejit.testing.programs`).

A program may get two classes: ``C`` (plain, or with ``__slots__``) with an
int attribute ``v`` and a float attribute ``w``, methods that read
(``get``) and write (``bump``) them, a property, a static and a class
method; and ``D(C)``, which overrides ``get`` through ``super()``.  The loop
then holds ``c0 = C(...)`` and ``objs``, a list of both classes, and reads
and writes attributes, calls methods on ``c0`` and, through the polymorphic
``objs[i % 2]``, stores through a method (``bump``) and reads a property.
Schedules change the objects mid-loop: an attribute changes type or is
deleted, a method is monkeypatched, an object's ``__class__`` is
reassigned, a class attribute is rebound.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MODULUS = 1000003


def class_source(draw: Any) -> list[str]:
    """The source of ``C`` and ``D``, with drawn variations."""
    slots = draw(st.booleans())
    get_body = draw(st.sampled_from([
        f"return (self.v * 3 + p) % {MODULUS}",
        "return self.v + p if p > self.v else self.v - p",
        "return self.v - self.K * p",
    ]))
    lines = ["class C:"]
    if slots:
        lines.append('    __slots__ = ("v", "w")')
    lines += [
        f"    K = {draw(st.integers(-3, 3))}",
        "",
        "    def __init__(self, v, w):",
        "        self.v = v",
        "        self.w = w",
        "",
        "    def get(self, p):",
        f"        {get_body}",
        "",
        "    def bump(self, p):",
        f"        self.v = (self.v + p) % {MODULUS}",
        "        return self.v",
        "",
        "    @property",
        "    def twice(self):",
        "        return self.w * 2.0",
        "",
        "    @staticmethod",
        "    def sm(p):",
        "        return p * 2 + 1",
        "",
        "    @classmethod",
        "    def cm(cls, p):",
        "        return cls.K + p",
        "",
        "",
        "class D(C):",
    ]
    if slots:
        lines.append("    __slots__ = ()")
    lines += [
        "    K = 5",
        "",
        "    def get(self, p):",
        "        return super().get(p) + 1",
        "",
        "",
    ]
    return lines


INIT = ["    c0 = C(a0 % 100, x0)", "    objs = [C(3, 0.5), D(4, 1.5)]"]

# schedules on objects (see programs.SCHEDULES): {v} is drawn from the targets
SCHEDULES = [
    ("c0.v = 2.5", ["c0"]), ("c0.v = 2**70", ["c0"]), ("c0.w = 3", ["c0"]),
    ("del c0.v", ["c0"]), ("objs[{k}].v = None", ["objs"]),
    ("C.get = lambda self, p: p - 1", ["C"]), ("C.K = 1.5", ["C"]),
    ("D.get = C.get", ["D"]), ("c0.__class__ = D", ["c0"]),
    ("C.twice = property(lambda self: -1.0)", ["C"]),
]

RESULT = "getattr(c0, 'v', None), getattr(c0, 'w', None), [getattr(o, 'v', None) for o in objs]"


def int_atom(gen: Any, names: list[str]) -> str:
    """An int expression about the objects."""
    kind = gen.draw(st.integers(0, 5))
    p = gen.pick([v for v in names if v in ("i", "j", "a0", "a1")])
    if kind == 0:
        return "c0.v"
    if kind == 1:
        return f"c0.get({p})"
    if kind == 2:
        return f"objs[{p} % 2].get({p})"
    if kind == 3:
        return f"C.sm({p})" if gen.chance(50) else f"c0.sm({p})"
    if kind == 4:
        return f"C.cm({p})" if gen.chance(50) else f"objs[{p} % 2].cm({p})"
    return f"c0.bump({p})"


def float_atom(gen: Any, names: list[str]) -> str:
    return gen.pick(["c0.w", "c0.twice", "objs[i % 2].twice"])


def statement(gen: Any, names: list[str], indent: str) -> list[str]:
    """A statement that writes to the objects."""
    kind = gen.draw(st.integers(0, 3))
    if kind == 0:
        return [f"{indent}c0.v = {gen.int_expr(2, names, True)} % {MODULUS}"]
    if kind == 1:
        return [f"{indent}c0.w = {gen.float_expr(2, names)}"]
    if kind == 2:
        p = gen.pick([v for v in names if v in ("i", "j", "a0")])
        return [f"{indent}objs[{p} % 2].bump({gen.int_atom(names)} % 100)"]
    return [f"{indent}a2 = objs[i % 2].get(a1 % 100) % {MODULUS}"]
