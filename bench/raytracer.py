"""A small ray tracer: spheres on a checkered floor, one light, shadows, reflections.

Object-heavy floating point: a Vector class with operator methods, scene
objects with an intersect method, a new Vector for almost every operation.
The answer is the sum and a position-weighted checksum of the 8-bit pixels.
"""

import math


class Vector:
    __slots__ = ("x", "y", "z")

    def __init__(self, x, y, z):
        self.x = x
        self.y = y
        self.z = z

    def __add__(self, other):
        return Vector(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other):
        return Vector(self.x - other.x, self.y - other.y, self.z - other.z)

    def scale(self, k):
        return Vector(self.x * k, self.y * k, self.z * k)

    def dot(self, other):
        return self.x * other.x + self.y * other.y + self.z * other.z

    def length(self):
        return math.sqrt(self.dot(self))

    def normalized(self):
        return self.scale(1.0 / self.length())


class Ray:
    def __init__(self, origin, direction):
        self.origin = origin
        self.direction = direction.normalized()

    def at(self, t):
        return self.origin + self.direction.scale(t)


class Sphere:
    def __init__(self, center, radius, colour, reflect):
        self.center = center
        self.radius = radius
        self.colour = colour
        self.reflect = reflect

    def intersect(self, ray):
        """Distance along `ray` to the nearest hit in front of its origin, or None."""
        oc = ray.origin - self.center
        b = oc.dot(ray.direction)
        c = oc.dot(oc) - self.radius * self.radius
        disc = b * b - c
        if disc < 0.0:
            return None
        root = math.sqrt(disc)
        t = -b - root
        if t > 1e-6:
            return t
        t = -b + root
        return t if t > 1e-6 else None

    def normal(self, point):
        return (point - self.center).normalized()

    def colour_at(self, point):
        return self.colour


class Floor:
    """The plane y = height, checkered in two colours."""

    def __init__(self, height, reflect):
        self.height = height
        self.reflect = reflect
        self.up = Vector(0.0, 1.0, 0.0)

    def intersect(self, ray):
        dy = ray.direction.y
        if abs(dy) < 1e-9:
            return None
        t = (self.height - ray.origin.y) / dy
        return t if t > 1e-6 else None

    def normal(self, point):
        return self.up

    def colour_at(self, point):
        if (math.floor(point.x) + math.floor(point.z)) % 2 == 0:
            return Vector(0.9, 0.9, 0.9)
        return Vector(0.2, 0.2, 0.25)


class Scene:
    def __init__(self):
        self.objects = [
            Floor(-1.0, 0.2),
            Sphere(Vector(0.0, 0.0, 5.0), 1.0, Vector(0.9, 0.2, 0.2), 0.3),
            Sphere(Vector(-2.2, -0.3, 6.5), 0.7, Vector(0.2, 0.8, 0.3), 0.1),
            Sphere(Vector(2.0, 0.5, 7.0), 1.5, Vector(0.3, 0.4, 0.9), 0.5),
        ]
        self.light = Vector(-4.0, 6.0, -1.0)
        self.ambient = 0.1

    def nearest(self, ray):
        best_t = None
        best = None
        for obj in self.objects:
            t = obj.intersect(ray)
            if t is not None and (best_t is None or t < best_t):
                best_t = t
                best = obj
        return best, best_t

    def trace(self, ray, depth):
        obj, t = self.nearest(ray)
        if obj is None:
            k = 0.5 * (ray.direction.y + 1.0)
            return Vector(0.5, 0.7, 1.0).scale(k)
        point = ray.at(t)
        normal = obj.normal(point)
        to_light = self.light - point
        light_dist = to_light.length()
        to_light = to_light.scale(1.0 / light_dist)
        brightness = self.ambient
        blocker, bt = self.nearest(Ray(point, to_light))
        if blocker is None or bt > light_dist:
            brightness += max(0.0, normal.dot(to_light))
        colour = obj.colour_at(point).scale(brightness)
        if depth > 0 and obj.reflect > 0.0:
            d = ray.direction
            bounce = d - normal.scale(2.0 * d.dot(normal))
            reflected = self.trace(Ray(point, bounce), depth - 1)
            colour = colour.scale(1.0 - obj.reflect) + reflected.scale(obj.reflect)
        return colour


def to_byte(value):
    return max(0, min(255, int(value * 255.0)))


def render(width, height, depth=3):
    scene = Scene()
    eye = Vector(0.0, 0.5, -2.0)
    total = 0
    checksum = 0
    for y in range(height):
        for x in range(width):
            px = (2.0 * x / width - 1.0) * width / height
            py = 1.0 - 2.0 * y / height
            colour = scene.trace(Ray(eye, Vector(px, py, 1.5)), depth)
            for channel in (colour.x, colour.y, colour.z):
                byte = to_byte(channel)
                total += byte
                checksum = (checksum * 31 + byte) % 1000000007
    return total, checksum


SIZES = {"full": (240, 180), "quick": (120, 90)}
EXPECTED = {"quick": (3707693, 799138091), "full": (14819281, 297849847)}


def main(size="full"):
    return render(*SIZES[size])
