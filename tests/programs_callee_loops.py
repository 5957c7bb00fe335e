"""Differential programs (as in tests/programs.py): loops inside inlined
functions, unrolled into the caller's trace; guards failing inside them
resume in the callee's real frame, in the middle of its loop."""

from __future__ import annotations


def _sum_row(row):
    t = 0
    for x in row:
        t += x
    return t


def _find(row, target):
    for k, x in enumerate(row):
        if x == target:
            return k
    return -1


def _count_until(row, stop):
    n = 0
    i = 0
    while i < len(row):
        if row[i] == stop:
            break
        n += row[i]
        i += 1
    return n


def _nested(row):
    t = 0
    for a in row:
        for b in range(2):
            t += a * b
    return t


def _store_all(row, out):
    for k in range(len(row)):
        out[k] = row[k] * 2  # side effects before a later iteration's guard
    return len(row)


def callee_loops_unrolled(n):
    rows = [[1, 2, 3], [4, 5], [6, 7, 8, 9]]
    total = 0
    for i in range(n):
        row = rows[i % 3]
        total += _sum_row(row) + _find(row, 5) + _count_until(row, 8) + _nested(row)
    return total


def callee_loop_type_switch(n):
    rows = [[1, 2, 3], [4, 5, 6]]
    total = 0
    for i in range(n):
        if i == n // 2:
            rows[1][2] = 6.5  # a guard inside the unrolled loop fails
        total += _sum_row(rows[i % 2])
    return total


def callee_loop_side_effects_then_exit(n):
    out = [0] * 4
    rows = [[1, 2, 3, 4], [5, 6, 7, 8]]
    total = 0
    for i in range(n):
        if i == n - 7:
            rows[0][3] = None  # fails after three stores of this call
        try_row = rows[i % 2]
        total += _store_all(try_row, out)
    return total, out


def callee_loop_length_changes(n):
    rows = [[1, 2], [3, 4]]
    total = 0
    for i in range(n):
        if i == n // 3:
            rows[0].append(10)  # one more iteration than traced
        if i == 2 * n // 3:
            rows[1].pop()
        total += _sum_row(rows[i % 2])
    return total, rows


def callee_loop_too_long(n):
    long_row = list(range(100))
    total = 0
    for i in range(n):
        total += _sum_row(long_row) + _sum_row([i, 1])  # called, then inlined
    return total


PROGRAMS = [
    ("callee_loops_unrolled", callee_loops_unrolled, lambda: (300,), True),
    ("callee_loop_type_switch", callee_loop_type_switch, lambda: (300,), True),
    ("callee_loop_side_effects_then_exit", callee_loop_side_effects_then_exit,
     lambda: (300,), True),
    ("callee_loop_length_changes", callee_loop_length_changes, lambda: (300,), True),
    ("callee_loop_too_long", callee_loop_too_long, lambda: (200,), True),
]
