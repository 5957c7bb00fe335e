"""Numba variant of bench/spectral_norm.py: NumPy vectors, @njit kernels."""

import math

import numpy as np
import spectral_norm
from numba import njit


@njit(cache=False)
def eval_a(i, j):
    return 1.0 / ((i + j) * (i + j + 1) // 2 + i + 1)


@njit(cache=False)
def mult_av(u, v, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(i, j) * u[j]
        v[i] = s


@njit(cache=False)
def mult_atv(u, v, n):
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += eval_a(j, i) * u[j]
        v[i] = s


@njit(cache=False)
def norm(n):
    u = np.ones(n)
    v = np.zeros(n)
    tmp = np.zeros(n)
    for _ in range(10):
        mult_av(u, tmp, n)
        mult_atv(tmp, v, n)
        mult_av(v, tmp, n)
        mult_atv(tmp, u, n)
    vbv = 0.0
    vv = 0.0
    for i in range(n):
        vbv += u[i] * v[i]
        vv += v[i] * v[i]
    return math.sqrt(vbv / vv)


def main(size: str = "full") -> float:
    return round(norm(spectral_norm.SIZES[size]), 9)
