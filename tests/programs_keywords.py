"""Differential programs (as in tests/programs.py): residual calls with
keyword arguments, whose callees see the same arguments, in the same order,
as CPython passes them, and whose exceptions come out at the same call."""

from __future__ import annotations


def _looping(values, *, scale=1, offset=0):
    total = 0
    for v in values:  # a loop: called, not inlined
        total += v * scale
    return total + offset


def keyword_calls_to_builtins(n):
    out = []
    for i in range(n):
        out.append(int("77", base=8 + i % 3))
        out.append(round(i / 7, ndigits=3))
        out.append(sorted([i % 5, 3, 1], reverse=i % 2 == 0)[0])
    return out


def keyword_calls_to_python(n):
    xs = [1, 2, 3]
    total = 0
    for i in range(n):
        total += _looping(xs, scale=i % 4, offset=-i)
        total += _looping(xs, offset=i)
    return total


def keyword_order_seen_by_callee(n):
    seen = []

    def record(**kw):
        for k in kw:  # a loop: a residual call
            seen.append(k)
        return len(kw)

    total = 0
    for i in range(n):
        total += record(b=i, a=1) + record(z=0, y=i, x=2)
    return total, seen[-5:]


def keyword_call_raises_mid_loop(n, k):
    total = 0
    for i in range(n):
        total += int("10", base=2 if i != k else 99)  # ValueError at i == k
    return total


def keyword_call_with_bad_name(n):
    total = 0
    for i in range(n):
        total += _looping([i], scale=2) if i < n - 5 else _looping([i], scael=2)
    return total


PROGRAMS = [
    ("keyword_calls_to_builtins", keyword_calls_to_builtins, lambda: (300,), True),
    ("keyword_calls_to_python", keyword_calls_to_python, lambda: (300,), True),
    ("keyword_order_seen_by_callee", keyword_order_seen_by_callee, lambda: (300,), True),
    ("keyword_call_raises_mid_loop", keyword_call_raises_mid_loop, lambda: (300, 250), True),
    ("keyword_call_with_bad_name", keyword_call_with_bad_name, lambda: (300,), True),
]
