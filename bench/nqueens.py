"""N-queens: count every placement of n non-attacking queens, for several n.

Iterative backtracking over bit masks: per row, the columns and both
diagonals already attacked; the lowest free square is taken first.  Pure
integer and list work.
"""


def queens(n):
    full = (1 << n) - 1
    cols = [0] * n
    left = [0] * n  # diagonals going down-left, shifted by one per row
    right = [0] * n
    free = [0] * n
    free[0] = full
    solutions = 0
    row = 0
    while row >= 0:
        avail = free[row]
        if avail == 0:
            row -= 1
            continue
        bit = avail & -avail
        free[row] = avail ^ bit
        if row == n - 1:
            solutions += 1
            continue
        c = cols[row] | bit
        lft = ((left[row] | bit) << 1) & full
        rgt = (right[row] | bit) >> 1
        row += 1
        cols[row] = c
        left[row] = lft
        right[row] = rgt
        free[row] = full & ~(c | lft | rgt)
    return solutions


def nqueens(largest):
    return [queens(n) for n in range(4, largest + 1)]


SIZES = {"full": 12, "quick": 10}
EXPECTED = {"quick": [2, 10, 4, 40, 92, 352, 724],
            "full": [2, 10, 4, 40, 92, 352, 724, 2680, 14200]}


def main(size="full"):
    return nqueens(SIZES[size])
