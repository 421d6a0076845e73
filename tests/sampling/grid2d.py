"""A pure-Python model of the 2D grid's recoverability, for tests: rows of `2m` cells rebuilt from any
`m`, columns of `2R` cells rebuilt from any `R`, decoded row and column in turn until a fixed point
(as the 2D recovery of specs/das-core.md does), and a rank check of the same question over the real
field with the real column code (`da.row_domain`), which decides it exactly."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from da.row_domain import BLS_MODULUS, compute_row_domain


class Grid:
    """Cell (row, column) of a `2R x 2m` grid is bit `row * 2m + column` of a mask."""

    def __init__(self, original_rows: int, half_width: int) -> None:
        self.original_rows = original_rows
        self.half_width = half_width
        self.rows = 2 * original_rows
        self.columns = 2 * half_width
        self.cells = self.rows * self.columns
        self.row_masks = [
            sum(1 << (r * self.columns + c) for c in range(self.columns)) for r in range(self.rows)
        ]
        self.column_masks = [
            sum(1 << (r * self.columns + c) for r in range(self.rows)) for c in range(self.columns)
        ]

    def stuck(self, withheld: int) -> int:
        """The cells iterative row/column decoding cannot rebuild from the others (0: recoverable)."""
        missing = withheld
        while True:
            before = missing
            for mask in self.row_masks:
                if (missing & mask).bit_count() <= self.half_width:  # at least m cells remain
                    missing &= ~mask
            for mask in self.column_masks:
                if (missing & mask).bit_count() <= self.original_rows:  # at least R cells remain
                    missing &= ~mask
            if missing == before:
                return missing

    def masks_of_size(self, size: int, among: int | None = None) -> Iterator[int]:
        """Every mask of `size` cells among the cells of `among` (default: all)."""
        pool = [bit for bit in range(self.cells) if among is None or among >> bit & 1]
        for chosen in combinations(pool, size):
            yield sum(1 << bit for bit in chosen)

    def unserved(self, served: int) -> int:
        """The mask of every cell of columns `served`..2m-1 (the columns nobody serves)."""
        mask = 0
        for column in range(served, self.columns):
            mask |= self.column_masks[column]
        return mask


def minimum_unrecoverable_withholding(grid: Grid, served: int | None = None) -> int:
    """Fewest cells among the served columns whose loss (with every unserved cell) leaves cells stuck,
    by trying every set in order of size."""
    width = grid.columns if served is None else served
    unserved = grid.unserved(width)
    served_cells = ((1 << grid.cells) - 1) & ~unserved
    for size in range(served_cells.bit_count() + 1):
        if any(grid.stuck(mask | unserved) for mask in grid.masks_of_size(size, served_cells)):
            return size
    raise AssertionError("losing every cell must leave the grid unrecoverable")


def cell_functionals(grid: Grid) -> list[list[int]]:
    """Each cell as a linear form in the R x m data coefficients, over the BLS12-381 scalar field:
    original row k is the polynomial sum_j d[k][j] x^j evaluated at x = column, and extended row
    R + i is sum_k M[i][k] times row k (M from `da.row_domain`)."""
    p, rows, m = BLS_MODULUS, grid.original_rows, grid.half_width
    domain = compute_row_domain(rows)
    forms: list[list[int]] = []
    for row in range(grid.rows):
        weights = [int(k == row) for k in range(rows)] if row < rows else list(domain.field_coefficients(row))
        for column in range(grid.columns):
            powers = [pow(column, j, p) for j in range(m)]
            forms.append([weights[k] * powers[j] % p for k in range(rows) for j in range(m)])
    return forms


def is_determined(forms: list[list[int]], available: int) -> bool:
    """True iff the available cells' forms have full rank (the data is a function of those cells)."""
    p = BLS_MODULUS
    basis: dict[int, list[int]] = {}  # pivot -> row reduced at that pivot
    size = len(forms[0])
    for bit, form in enumerate(forms):
        if not available >> bit & 1:
            continue
        vector = list(form)
        for pivot, row in basis.items():
            if vector[pivot]:
                factor = vector[pivot]
                vector = [(a - factor * b) % p for a, b in zip(vector, row, strict=True)]
        lead = next((i for i, value in enumerate(vector) if value), None)
        if lead is None:
            continue
        inverse = pow(vector[lead], -1, p)
        vector = [value * inverse % p for value in vector]
        for pivot, row in list(basis.items()):
            if row[lead]:
                factor = row[lead]
                basis[pivot] = [(a - factor * b) % p for a, b in zip(row, vector, strict=True)]
        basis[lead] = vector
        if len(basis) == size:
            return True
    return len(basis) == size
