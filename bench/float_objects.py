"""Many small objects with float attributes: create, normalize, maximize.

A list of Point objects is built from trigonometric functions, every point is
normalized in place through a method, and the component-wise maximum is
folded through another method that returns the point itself.  Allocation,
attribute access and method calls around a little float arithmetic.
"""

import math


class Point:
    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z

    def normalize(self):
        norm = math.sqrt(self.x * self.x + self.y * self.y + self.z * self.z)
        self.x /= norm
        self.y /= norm
        self.z /= norm

    def maximize(self, other):
        self.x = self.x if self.x > other.x else other.x
        self.y = self.y if self.y > other.y else other.y
        self.z = self.z if self.z > other.z else other.z
        return self


def maximize(points):
    best = points[0]
    for p in points[1:]:
        best = best.maximize(p)
    return best


def float_objects(count, rounds):
    total = 0.0
    for r in range(rounds):
        points = [Point(math.sin(0.37 * i + r), 2.5 * math.cos(0.61 * i),
                        1.0 + 0.5 * math.sin(0.13 * i * r)) for i in range(count)]
        for p in points:
            p.normalize()
        best = maximize(points)
        total += best.x + best.y + best.z
    return round(total, 9)


SIZES = {"full": (100_000, 6), "quick": (25_000, 6)}
EXPECTED = {"quick": 16.893040865, "full": 16.893536309}


def main(size="full"):
    return float_objects(*SIZES[size])
