"""Fannkuch: flip prefixes of every permutation of 1..n until 1 comes first.

For each permutation (in the order produced by successive rotations of a
prefix), count the prefix reversals needed to bring element 0 to the front;
report the maximum count and an alternating-sign checksum of the counts.
Integer work on small lists: indexing, swaps, copies.
"""


def count_flips(perm):
    flips = 0
    first = perm[0]
    while first != 0:
        i = 0
        j = first
        while i < j:
            perm[i], perm[j] = perm[j], perm[i]
            i += 1
            j -= 1
        flips += 1
        first = perm[0]
    return flips


def fannkuch(n):
    order = list(range(n))
    count = [0] * n
    max_flips = 0
    checksum = 0
    index = 0
    r = n
    while True:
        while r != 1:
            count[r - 1] = r
            r -= 1
        flips = count_flips(list(order))
        if flips > max_flips:
            max_flips = flips
        checksum += flips if index % 2 == 0 else -flips
        index += 1
        # next permutation: rotate the first r+1 elements left until one of
        # the rotation counters has not run out
        while True:
            if r == n:
                return checksum, max_flips
            first = order[0]
            for i in range(r):
                order[i] = order[i + 1]
            order[r] = first
            count[r] -= 1
            if count[r] > 0:
                break
            r += 1


SIZES = {"full": 9, "quick": 8}
EXPECTED = {"quick": (1616, 22), "full": (8629, 30)}


def main(size="full"):
    return fannkuch(SIZES[size])
