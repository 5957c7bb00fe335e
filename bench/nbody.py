"""N-body: a star and its planets under Newtonian gravity, leapfrog steps.

Bodies are lists [x, y, z, vx, vy, vz, mass] of floats; the planets start on
circular, slightly tilted orbits computed here (units: AU, years, solar
masses, so G*M_sun = 4*pi**2).  The answer is the total energy before and
after the simulation.  bench/c/nbody.c does the same arithmetic in C.
"""

import math

# (orbit radius in AU, mass in solar masses, starting angle, tilt)
PLANETS = [
    (0.72, 2.45e-6, 0.3, 0.010),
    (1.00, 3.00e-6, 1.9, 0.000),
    (5.20, 9.55e-4, 4.1, 0.023),
    (9.58, 2.86e-4, 2.7, 0.043),
    (19.2, 4.37e-5, 5.5, 0.013),
]
GM_SUN = 4.0 * math.pi * math.pi


def make_system():
    bodies = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, GM_SUN]]
    for radius, mass, angle, tilt in PLANETS:
        speed = math.sqrt(GM_SUN / radius)
        x = radius * math.cos(angle)
        y = radius * math.sin(angle) * math.cos(tilt)
        z = radius * math.sin(angle) * math.sin(tilt)
        vx = -speed * math.sin(angle)
        vy = speed * math.cos(angle) * math.cos(tilt)
        vz = speed * math.cos(angle) * math.sin(tilt)
        bodies.append([x, y, z, vx, vy, vz, mass * GM_SUN])
    # give the star the opposite momentum, so that the centre of mass stays put
    px = py = pz = 0.0
    for b in bodies:
        px += b[3] * b[6]
        py += b[4] * b[6]
        pz += b[5] * b[6]
    star = bodies[0]
    star[3] = -px / star[6]
    star[4] = -py / star[6]
    star[5] = -pz / star[6]
    return bodies


def energy(bodies):
    e = 0.0
    n = len(bodies)
    for i in range(n):
        b = bodies[i]
        e += 0.5 * b[6] * (b[3] * b[3] + b[4] * b[4] + b[5] * b[5])
        for j in range(i + 1, n):
            c = bodies[j]
            dx = b[0] - c[0]
            dy = b[1] - c[1]
            dz = b[2] - c[2]
            e -= b[6] * c[6] / math.sqrt(dx * dx + dy * dy + dz * dz)
    return e


def advance(bodies, dt, steps):
    n = len(bodies)
    for _ in range(steps):
        for i in range(n):
            b = bodies[i]
            for j in range(i + 1, n):
                c = bodies[j]
                dx = b[0] - c[0]
                dy = b[1] - c[1]
                dz = b[2] - c[2]
                d2 = dx * dx + dy * dy + dz * dz
                mag = dt / (d2 * math.sqrt(d2))
                mb = b[6] * mag
                mc = c[6] * mag
                b[3] -= dx * mc
                b[4] -= dy * mc
                b[5] -= dz * mc
                c[3] += dx * mb
                c[4] += dy * mb
                c[5] += dz * mb
        for b in bodies:
            b[0] += dt * b[3]
            b[1] += dt * b[4]
            b[2] += dt * b[5]


def nbody(steps, dt=0.001):
    bodies = make_system()
    before = energy(bodies)
    advance(bodies, dt, steps)
    return round(before, 9), round(energy(bodies), 9)


SIZES = {"full": 100_000, "quick": 25_000}
EXPECTED = {"quick": (-0.173041113, -0.173041025), "full": (-0.173041113, -0.173040979)}


def main(size="full"):
    return nbody(SIZES[size])
