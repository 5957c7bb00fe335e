"""Differential programs (as in tests/programs.py): properties, static and
class methods, ``super()`` and closures, each traced into, and each meeting
a change mid-loop (a rebound cell, a patched class, a getter that raises)."""

from __future__ import annotations


class _Rect:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    @property
    def area(self):
        return self.w * self.h

    @property
    def ratio(self):
        return self.w / self.h  # ZeroDivisionError when h is 0

    @staticmethod
    def clamp(v, lo, hi):
        return lo if v < lo else hi if v > hi else v

    @classmethod
    def square(cls, s):
        return cls(s, s)

    @classmethod
    def unit(cls):
        return cls.UNIT

    UNIT = 1


class _Box(_Rect):
    __slots__ = ("d",)
    UNIT = 10

    def __init__(self, w, h, d=2):
        super().__init__(w, h)
        self.d = d

    @property
    def area(self):  # overrides, and calls the base's getter through super()
        return super().area * self.d


def property_reads(n):
    rs = [_Rect(i % 5, 3) for i in range(7)]
    total = 0
    for i in range(n):
        r = rs[i % 7]
        total += r.area + r.w
    return total


def property_raises_mid_loop(n, k):
    rs = [_Rect(i, 2) for i in range(n)]
    rs[k].h = 0
    total = 0.0
    for r in rs:
        total += r.ratio  # the getter raises inside the inlined call
    return total


def property_overridden_with_super(n):
    shapes = [_Rect(2, 3), _Box(2, 3), _Box(1, 1, 5)]
    total = 0
    for i in range(n):
        total += shapes[i % 3].area
    return total


def property_getter_changes_type(n):
    r = _Rect(1, 1)
    total = 0
    for i in range(n):
        if i == n // 2:
            r.w = 0.5  # the getter's result turns float: a guard inside it fails
        total += r.area
    return total


def property_replaced_mid_loop(n):
    saved = _Rect.__dict__["area"]
    r = _Rect(2, 2)
    total = 0
    try:
        for i in range(n):
            if i == n // 2:
                _Rect.area = 100  # a plain class attribute now
            total += r.area
    finally:
        _Rect.area = saved
    return total


def property_with_setter(n):
    class Temp:
        def __init__(self):
            self._c = 0.0

        @property
        def c(self):
            return self._c

        @c.setter
        def c(self, v):
            self._c = float(v)

    t = Temp()
    for i in range(n):
        t.c = t.c + i  # both inlined; the setter's result is dropped
        if i == n - 3:
            t.c = "x"  # float("x") raises inside the setter
    return t.c


class _Counted:
    def __init__(self):
        self.reads = 0
        self.v = 1

    @property
    def value(self):
        self.reads += 1  # a side effect before the guard that fails below
        return self.v * 3


def property_with_side_effect_then_exit(n):
    c = _Counted()
    total = 0
    for i in range(n):
        if i == n // 2:
            c.v = 1.5  # the getter resumes in a real frame, after its += 1
        total += c.value
    return total, c.reads


def static_and_class_methods(n):
    total = 0
    r = _Rect(1, 2)
    for i in range(n):
        total += _Rect.clamp(i, 10, 200) + r.clamp(-i, -5, 5)
        total += _Rect.unit() + _Box.unit() + r.unit()
    return total


def classmethod_makes_subclass_objects(n):
    total = 0
    for i in range(n):
        a = _Rect.square(i % 4)
        b = _Rect.square.__func__(_Rect, 1)
        total += a.w + a.h + b.w
    return total


def staticmethod_patched_mid_loop(n):
    saved = _Rect.__dict__["clamp"]
    total = 0
    try:
        for i in range(n):
            if i == n // 2:
                _Rect.clamp = staticmethod(lambda v, lo, hi: -1)
            total += _Rect.clamp(i, 0, 50)
    finally:
        _Rect.clamp = saved
    return total


class _Animal:
    def __init__(self, name):
        self.name = name
        self.calls = 0

    def sound(self):
        self.calls += 1
        return 1

    def describe(self):
        return self.sound() * 10


class _Dog(_Animal):
    def sound(self):
        return super().sound() + 1


class _Puppy(_Dog):
    def __init__(self, name, age):
        super().__init__(name)
        self.age = age

    def sound(self):
        return super().sound() * 2 + self.age


def super_method_chain(n):
    animals = [_Animal("a"), _Dog("d"), _Puppy("p", 1)]
    total = 0
    for i in range(n):
        total += animals[i % 3].describe()
    return total, [a.calls for a in animals]


def super_init_in_loop(n):
    out = []
    for i in range(n):
        p = _Puppy("p", i % 3)
        out.append(p.age + len(p.name) + p.calls)
    return out


def super_target_patched_mid_loop(n):
    saved = _Animal.__dict__["sound"]
    d = _Dog("d")
    total = 0
    try:
        for i in range(n):
            if i == n // 2:
                _Animal.sound = lambda self: 100
            total += d.sound()
    finally:
        _Animal.sound = saved
    return total, d.calls


def _adder(k):
    def add(x):
        return x + k
    return add


def _accumulator():
    total = 0

    def add(v):
        nonlocal total
        total += v
        return total
    return add


def closure_reads(n):
    add3, add5 = _adder(3), _adder(5)
    s = 0
    for i in range(n):
        s += add3(i) - add5(i)
    return s


def closure_nonlocal_counter(n):
    acc = _accumulator()
    last = 0
    for i in range(n):
        last = acc(i % 7)
    return last, acc.__closure__[0].cell_contents


def closure_cell_rebound_mid_loop(n):
    k = 1

    def scaled(x):
        return x * k

    s = 0
    for i in range(n):
        if i == n // 2:
            k = 0.5  # the loop's own cell changes type: the callee's guard fails
        s += scaled(i)
    return s, k


def closure_cell_deleted_mid_loop(n):
    k = 2

    def scaled(x):
        return x * k

    s = 0
    for i in range(n):
        if i == n - 5:
            del k  # the callee's read of the cell raises NameError
        s += scaled(i)
    return s


def closure_in_method(n):
    class Acc:
        def __init__(self):
            self.items = []

        def add(self, x):
            return self.items.append(x * base)

    base = 3
    a = Acc()
    for i in range(n):
        a.add(i)
    return sum(a.items), len(a.items)


PROGRAMS = [
    ("property_reads", property_reads, lambda: (400,), True),
    ("property_raises_mid_loop", property_raises_mid_loop, lambda: (300, 250), True),
    ("property_overridden_with_super", property_overridden_with_super, lambda: (300,), True),
    ("property_getter_changes_type", property_getter_changes_type, lambda: (400,), True),
    ("property_replaced_mid_loop", property_replaced_mid_loop, lambda: (400,), True),
    ("property_with_side_effect_then_exit", property_with_side_effect_then_exit,
     lambda: (400,), True),
    ("property_with_setter", property_with_setter, lambda: (300,), True),
    ("static_and_class_methods", static_and_class_methods, lambda: (400,), True),
    ("classmethod_makes_subclass_objects", classmethod_makes_subclass_objects,
     lambda: (300,), False),
    ("staticmethod_patched_mid_loop", staticmethod_patched_mid_loop, lambda: (400,), True),
    ("super_method_chain", super_method_chain, lambda: (300,), True),
    ("super_init_in_loop", super_init_in_loop, lambda: (300,), True),
    ("super_target_patched_mid_loop", super_target_patched_mid_loop, lambda: (400,), True),
    ("closure_reads", closure_reads, lambda: (400,), True),
    ("closure_nonlocal_counter", closure_nonlocal_counter, lambda: (400,), True),
    ("closure_cell_rebound_mid_loop", closure_cell_rebound_mid_loop, lambda: (400,), True),
    ("closure_cell_deleted_mid_loop", closure_cell_deleted_mid_loop, lambda: (300,), True),
    ("closure_in_method", closure_in_method, lambda: (300,), True),
]
