"""Overhead case: many small functions whose short loops never get hot.

Each generated function is called a few times and its loop runs a handful of
iterations, so no loop location ever reaches the JIT threshold: this is what
start-up and glue code look like, and the JIT must cost next to nothing here.
"""

SOURCE = '''
def f{k}(words):
    out = {{}}
    for i, w in enumerate(words):
        out[w] = out.get(w, 0) + i * {k} % 7
    return sum(out.values())
'''


def make_functions(count):
    ns = {}
    for k in range(count):
        exec(SOURCE.format(k=k), ns)
    return [ns[f"f{k}"] for k in range(count)]


def cold(count, rounds):
    funcs = make_functions(count)
    words = "a bb ccc dddd bb a eeeee ffffff a".split()
    total = 0
    for _ in range(rounds):
        for f in funcs:
            total += f(words)
    return total


SIZES = {"full": (6000, 4), "quick": (2000, 4)}
EXPECTED = {'quick': 167956, 'full': 503916}


def main(size="full"):
    return cold(*SIZES[size])
