"""Numba variant of bench/nbody.py: the bodies in a 2-D NumPy array, @njit steps."""

import math

import nbody
import numpy as np
from numba import njit


@njit(cache=False)
def energy(bodies):
    e = 0.0
    n = bodies.shape[0]
    for i in range(n):
        e += 0.5 * bodies[i, 6] * (bodies[i, 3] * bodies[i, 3] + bodies[i, 4] * bodies[i, 4]
                                   + bodies[i, 5] * bodies[i, 5])
        for j in range(i + 1, n):
            dx = bodies[i, 0] - bodies[j, 0]
            dy = bodies[i, 1] - bodies[j, 1]
            dz = bodies[i, 2] - bodies[j, 2]
            e -= bodies[i, 6] * bodies[j, 6] / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


@njit(cache=False)
def advance(bodies, dt, steps):
    n = bodies.shape[0]
    for _ in range(steps):
        for i in range(n):
            for j in range(i + 1, n):
                dx = bodies[i, 0] - bodies[j, 0]
                dy = bodies[i, 1] - bodies[j, 1]
                dz = bodies[i, 2] - bodies[j, 2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * math.sqrt(d2))
                mb = bodies[i, 6] * mag
                mc = bodies[j, 6] * mag
                bodies[i, 3] -= dx * mc
                bodies[i, 4] -= dy * mc
                bodies[i, 5] -= dz * mc
                bodies[j, 3] += dx * mb
                bodies[j, 4] += dy * mb
                bodies[j, 5] += dz * mb
        for i in range(n):
            bodies[i, 0] += dt * bodies[i, 3]
            bodies[i, 1] += dt * bodies[i, 4]
            bodies[i, 2] += dt * bodies[i, 5]


def main(size: str = "full") -> tuple:
    bodies = np.array(nbody.make_system())  # set-up in Python, as in bench/nbody.py
    before = energy(bodies)
    advance(bodies, 0.001, nbody.SIZES[size])
    return round(before, 9), round(energy(bodies), 9)
