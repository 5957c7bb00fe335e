"""Differential programs (as in tests/programs.py) for virtual instances
(tracer.virtuals): objects of class calls that the trace does not build
until they escape.  Each program's exits see virtuals (guards after the
object was made), and many force them: on one branch only, into a list, a
global, an attribute of a real object, through identity, inside an inlined
callee; nested, aliased, cyclic, with slots and with a ``__del__``."""

from __future__ import annotations

import weakref


class _V:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, o):
        return _V(self.x + o.x, self.y + o.y)

    def dot(self, o):
        return self.x * o.x + self.y * o.y

    def __add__(self, o):
        return _V(self.x + o.x, self.y + o.y)

    def scaled(self, k):
        return _V(self.x * k, self.y * k)


class _S:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a = a
        self.b = b


class _Pair:
    def __init__(self, left, right):
        self.left = left
        self.right = right


class _Counted:
    alive = 0

    def __init__(self, v):
        self.v = v
        _Counted.alive += 1

    def __del__(self):
        _Counted.alive -= 1


class _Base:
    def __init__(self, v):
        self.v = v


class _Derived(_Base):
    def __init__(self, v, w):
        super().__init__(v)
        self.w = w


def temporaries_read_back(n):
    """Method calls on temporaries: nothing escapes."""
    d = _V(0.5, 0.25)
    s = 0.0
    for i in range(n):
        q = _V(float(i), 1.0).add(d)
        s += q.dot(d)
    return s


def operator_chain(n):
    a = _V(1.0, 2.0)
    total = 0.0
    for i in range(n):
        c = (a + _V(float(i), 0.5)) + a.scaled(2.0)
        total += c.x - c.y
    return total


def type_changes_inside_virtual(n):
    """A field turns from int to float mid-loop: the guard's exit builds
    the half-made object with the right types."""
    out = 0
    for i in range(n):
        v = _V(i, i + 1) if i < n // 2 else _V(i * 0.5, 1)
        out += v.x * v.y
    return out


def escapes_on_one_branch(n):
    kept = []
    s = 0
    for i in range(n):
        v = _V(i, -i)
        if i % 7 == 0:
            kept.append(v)  # built here only
        s += v.x - v.y
    return s, [(k.x, k.y) for k in kept], len({id(k) for k in kept})


def escape_keeps_identity(n):
    """The object built when it escapes is the one seen afterwards."""
    seen = []
    same = 0
    for i in range(n):
        v = _V(i, i)
        seen.append(v)
        v.y = i * 2  # a store after the escape goes to that object
        if seen[-1] is v:
            same += 1
    return same, sum(o.y for o in seen)


def nested_virtuals(n):
    s = 0
    for i in range(n):
        p = _Pair(_V(i, 1), _V(2, i))
        s += p.left.x * p.right.y + p.left.y
        if i == n - 3:
            s += len(repr(type(p.left)))  # an escape of the inner one only
    return s


def aliased_virtual(n):
    """One virtual in two places: one object at every exit."""
    out = 0
    for i in range(n):
        v = _V(i, 0)
        p = _Pair(v, v)
        w = v
        if i % 50 == 49:
            out += (p.left is p.right) + (w is p.left) * 10
        out += p.left.x + w.x
    return out


def cyclic_virtual(n):
    total = 0
    keep = None
    for i in range(n):
        p = _Pair(None, i)
        p.left = p  # refers to itself
        total += p.left.left.right
        if i == n // 2:
            keep = p
    return total, keep.left is keep, keep.right


def slots_virtual(n):
    s = 0
    for i in range(n):
        o = _S(i, 2 * i)
        s += o.a + o.b
        if i % 97 == 0:
            o.b = -1
            s += o.b
    return s


def finalizer_class_is_built(n):
    """A class with __del__ is never virtual, nor traced into (the tracer's
    own object would be finalized where CPython makes none)."""
    before = _Counted.alive
    s = 0
    for i in range(n):
        c = _Counted(i)
        s += c.v
        if i % 10 == 0:
            s += _Counted.alive - before
    return s, _Counted.alive - before


def escapes_into_global(n):
    s = 0
    for i in range(n):
        v = _V(i, 1)
        if i % 3 == 0:
            _LAST[0] = v
        s += v.x
    return s, _LAST[0].x


_LAST = [None]


def escapes_into_attribute(n):
    holder = _Pair(None, None)
    s = 0
    for i in range(n):
        v = _V(i, 2)
        holder.left = v
        s += holder.left.x + v.y
    return s, holder.left.x


def compared_by_identity(n):
    other = _V(0, 0)
    hits = 0
    for i in range(n):
        v = _V(i, i)
        if v is other or v is None:
            hits += 100
        if v is not other:
            hits += 1
    return hits


def forced_inside_callee(n):
    store = []

    def keep(o, k):
        store.append(o)  # the escape happens in the inlined callee
        return o.x + k

    s = 0
    for i in range(n):
        v = _V(i, 3)
        s += keep(v, i % 5)
        v.x = -i
    return s, sum(o.x for o in store), len(store)


def weakref_forces(n):
    refs = []
    s = 0
    for i in range(n):
        v = _V(i, 1)
        if i % 11 == 0:
            refs.append(weakref.ref(v))
        s += v.x
    return s, sum(1 for r in refs if r() is None)


def super_init_virtual(n):
    s = 0
    for i in range(n):
        d = _Derived(i, 2 * i)
        s += d.v + d.w
    return s


def returned_from_loop(n):
    last = None
    for i in range(n):
        last = _V(i, i * i)
        if last.y > 10_000:
            return last.x, last.y
    return last.x, last.y


def attribute_error_on_virtual(n, bad):
    s = 0
    for i in range(n):
        v = _V(i, 1)
        if i == bad:
            s += v.z  # AttributeError raised by CPython at the exit
        s += v.x
    return s


PROGRAMS = [
    ("virtual_temporaries_read_back", temporaries_read_back, lambda: (400,), True),
    ("virtual_operator_chain", operator_chain, lambda: (400,), True),
    ("virtual_type_changes_inside", type_changes_inside_virtual, lambda: (600,), True),
    ("virtual_escapes_on_one_branch", escapes_on_one_branch, lambda: (400,), True),
    ("virtual_escape_keeps_identity", escape_keeps_identity, lambda: (400,), True),
    ("virtual_nested", nested_virtuals, lambda: (400,), True),
    ("virtual_aliased", aliased_virtual, lambda: (400,), True),
    ("virtual_cyclic", cyclic_virtual, lambda: (400,), True),
    ("virtual_slots", slots_virtual, lambda: (400,), True),
    ("virtual_finalizer_class_is_built", finalizer_class_is_built, lambda: (400,), False),
    ("virtual_escapes_into_global", escapes_into_global, lambda: (400,), True),
    ("virtual_escapes_into_attribute", escapes_into_attribute, lambda: (400,), True),
    ("virtual_compared_by_identity", compared_by_identity, lambda: (400,), True),
    ("virtual_forced_inside_callee", forced_inside_callee, lambda: (400,), True),
    ("virtual_weakref_forces", weakref_forces, lambda: (400,), False),
    ("virtual_super_init", super_init_virtual, lambda: (400,), True),
    ("virtual_returned_from_loop", returned_from_loop, lambda: (400,), True),
    ("virtual_attribute_error", attribute_error_on_virtual, lambda: (400, 350), True),
]
