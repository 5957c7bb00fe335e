"""Spectral norm: loops calling small Python functions (inlined by the JIT)."""

import math


def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


def mult_av(u, v, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(i, j) * u[j]
        v[i] = s


def mult_atv(u, v, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(j, i) * u[j]
        v[i] = s


def mult_atav(u, v, tmp, n):
    mult_av(u, tmp, n)
    mult_atv(tmp, v, n)


def spectral_norm(n):
    u = [1.0] * n
    v = [0.0] * n
    tmp = [0.0] * n
    for _ in range(10):
        mult_atav(u, v, tmp, n)
        mult_atav(v, u, tmp, n)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    return math.sqrt(vbv / vv)


SIZES = {"full": 400, "quick": 200}
EXPECTED = {'quick': 1.274223601, 'full': 1.274224081}


def main(size="full"):
    return round(spectral_norm(SIZES[size]), 9)
