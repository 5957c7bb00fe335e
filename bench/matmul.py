"""Triple nested float matrix multiply over lists of lists."""


def make(n, seed):
    return [[float((i * 31 + j * 17 + seed) % 23) / 7.0 for j in range(n)] for i in range(n)]


def matmul(a, b, n):
    c = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            s = 0.0
            for k in range(n):
                s += a[i][k] * b[k][j]
            c[i][j] = s
    return c


SIZES = {"full": 300, "quick": 150}
EXPECTED = {'quick': 8334754.428571, 'full': 66672191.632653}


def main(size="full"):
    n = SIZES[size]
    c = matmul(make(n, 1), make(n, 2), n)
    return round(sum(sum(row) for row in c), 6)
