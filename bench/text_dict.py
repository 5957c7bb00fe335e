"""Overhead case: string splitting, dict counting and formatting (no JIT help)."""

WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
         "nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()


def make_text(n):
    return " ".join(WORDS[(i * 7 + i // 3) % len(WORDS)] for i in range(n))


def text_dict(n):
    text = make_text(n)
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    lines = []
    for word, c in sorted(counts.items()):
        lines.append(f"{word:>10}: {c:6d} {word.upper()[::-1]}")
    pairs = {}
    words = text.split()
    for a, b in zip(words, words[1:]):
        key = a[:2] + b[-2:]
        pairs[key] = pairs.get(key, 0) + len(a) - len(b)
    return len("\n".join(lines)), sum(pairs.values()), len(pairs)


SIZES = {"full": 2_000_000, "quick": 400_000}
EXPECTED = {'quick': (579, 2, 34), 'full': (579, -2, 34)}


def main(size="full"):
    return text_dict(SIZES[size])
