"""Integer loop: arithmetic, modulo and bit operations on machine-size ints."""


def intloop(n):
    total = 0
    x = 12345
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        total += (x >> 7) % 1000 ^ (i & 255)
        if x % 3 == 0:
            total -= i // 7
    return total


SIZES = {"full": 4_000_000, "quick": 1_000_000}
EXPECTED = {'quick': -23276025759, 'full': -378824326134}


def main(size="full"):
    return intloop(SIZES[size])
