"""Numba variant of bench/mandelbrot.py (the same loop under @njit)."""

import mandelbrot
from numba import njit


@njit(cache=False)
def count_inside(width, height, max_iter):
    inside = 0
    for y in range(height):
        ci = 2.0 * y / height - 1.0
        for x in range(width):
            cr = 3.0 * x / width - 2.0
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi < 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            if n == max_iter:
                inside += 1
    return inside


def main(size: str = "full") -> int:
    return count_inside(*mandelbrot.SIZES[size])
