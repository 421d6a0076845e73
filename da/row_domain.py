"""The row domain of the 2D extension: which field combination of a blob's R original rows each of its
R extended rows is (specs/das-core.md, "The 2D extension").

Original row k sits at x = k (k = 0..R-1); a column of the matrix is the polynomial P of degree < R
through the column's R original cells. Extended row R + i holds P(R + i) scaled by a nonzero constant
s_i, so that its coefficients over the original rows are coprime integers:

    row(R + i) = sum_k M[i][k] * row(k),    M[i][k] = s_i * L_k(R + i),

with L_k the Lagrange basis over 0..R-1. Scaling a row of a Reed-Solomon generator keeps the code MDS
(a generalised Reed-Solomon code): any R of the 2R rows of a column determine it, and recovery divides
s_i back out. By linearity the same M combines cells (field elements), cell proofs and row commitments
(G1 points), so extended commitments are defined by the original ones and never stored.

Pure integer arithmetic; nothing here depends on ckzg. L_k(R + i) is an integer for every R and i (a
product of two binomial coefficients, specs/das-core.md), so M is computed by an exact integer
recurrence (0.14 s at R = 512, where the rational Lagrange products took minutes). The per-R tables
are cached in small LRU caches: a header names any R up to `MAX_ROWS_PER_BLOB`, and a cache per R
would let a peer that sends headers of every R make a node hold hundreds of megabytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import comb, gcd
from typing import Final

from da.constants import MAX_ROWS_PER_BLOB

BLS_MODULUS = 52435875175126190479447740508185965837690552500527637822603658699938581184513
"""The order r of BLS12-381's scalar field (the field cells are polynomials over)."""

ROW_TABLE_CACHE_SIZE: Final = 4
"""Row counts whose per-R tables (the domain here, the extension matrix and scales in `da.extension`)
stay cached, least recently used out first: at R = 512 the domain's field table is about 18 MB of
Python integers and the extension matrix 8 MiB, so the caches stay near 100 MB whatever row counts
peers' headers name; a fifth R costs a recomputation (about 0.5 s at R = 512), not memory."""


@dataclass(frozen=True, slots=True)
class RowDomain:
    """The extension of R original rows to 2R.

    `field_table[i][k]` is M[i][k] mod r; `coefficients` gives M as signed integers (recomputed on each
    call: about 45 MB at R = 512, so not kept); `scales[i]` is s_i, the exact rational with
    M[i][k] = s_i * L_k(R + i) (1 for every R).
    """

    original_rows: int
    scales: tuple[Fraction, ...]
    field_table: tuple[tuple[int, ...], ...]

    @property
    def extended_rows(self) -> int:
        """2R: the rows of the extended matrix."""
        return 2 * self.original_rows

    @property
    def coefficients(self) -> tuple[tuple[int, ...], ...]:
        """M[i][k] as signed coprime integers, extended row R + i first."""
        return tuple(row for row, _ in _signed_rows(self.original_rows))

    def field_coefficients(self, extended: int) -> tuple[int, ...]:
        """M[extended - R][k] mod r for k = 0..R-1, for the extended row `extended` (R <= extended < 2R)."""
        return self.field_table[self._offset(extended)]

    def field_scale_inverse(self, extended: int) -> int:
        """1 / s_i mod r for the extended row `extended`: multiply a stored value by it to get P(R + i)."""
        scale = self.scales[self._offset(extended)]
        return scale.denominator * pow(scale.numerator, -1, BLS_MODULUS) % BLS_MODULUS

    def position(self, row: int) -> int:
        """The x at which row `row` (0 <= row < 2R) evaluates the column polynomial: the row index."""
        if not 0 <= row < self.extended_rows:
            raise ValueError(f"row {row} is outside 0..{self.extended_rows - 1}")
        return row

    def _offset(self, extended: int) -> int:
        if not self.original_rows <= extended < self.extended_rows:
            raise ValueError(
                f"row {extended} is not an extended row of {self.original_rows} (expected "
                f"{self.original_rows}..{self.extended_rows - 1})"
            )
        return extended - self.original_rows


def compute_row_domain(original_rows: int) -> RowDomain:
    """The extension coefficients for a blob of `original_rows` rows (1 <= R <= MAX_ROWS_PER_BLOB)."""
    if not 1 <= original_rows <= MAX_ROWS_PER_BLOB:
        raise ValueError(f"original_rows must be between 1 and {MAX_ROWS_PER_BLOB}, got {original_rows}")
    return _row_domain(original_rows)


@lru_cache(maxsize=ROW_TABLE_CACHE_SIZE)
def _row_domain(original_rows: int) -> RowDomain:
    scales: list[Fraction] = []
    table: list[tuple[int, ...]] = []
    for row, scale in _signed_rows(original_rows):
        scales.append(scale)
        table.append(tuple(value % BLS_MODULUS for value in row))
    return RowDomain(original_rows, tuple(scales), tuple(table))


def _signed_rows(original_rows: int) -> list[tuple[tuple[int, ...], Fraction]]:
    """Each extended row's L_k(R + i), divided by their gcd, with the scale that division is."""
    rows = []
    for offset in range(original_rows):
        basis = compute_lagrange_integers(original_rows, original_rows + offset)
        divisor = gcd(*basis)  # 1 for every R (the basis sums to 1); kept so M is coprime by construction
        rows.append((tuple(value // divisor for value in basis), Fraction(1, divisor)))
    return rows


FIELD_ROW_CACHE_SIZE: Final = 128
"""Single rows `compute_field_row` keeps (at most ~30 KB each, at R = 512): a light check folds a few
dozen extended rows of one blob."""


@lru_cache(maxsize=FIELD_ROW_CACHE_SIZE)
def compute_field_row(original_rows: int, extended: int) -> tuple[int, ...]:
    """M[extended - R][k] mod r for k = 0..R-1, that row alone: the same values as
    `compute_row_domain(R).field_coefficients(extended)` without building the other R - 1 rows (a
    light client folding ~16 extended rows at R = 265 pays ~0.4 ms a row, not ~0.1 s for the
    table). Raises `ValueError` for R outside 1..MAX_ROWS_PER_BLOB or a row outside R..2R-1."""
    if not 1 <= original_rows <= MAX_ROWS_PER_BLOB:
        raise ValueError(f"original_rows must be between 1 and {MAX_ROWS_PER_BLOB}, got {original_rows}")
    if not original_rows <= extended < 2 * original_rows:
        raise ValueError(
            f"row {extended} is not an extended row of {original_rows} (expected "
            f"{original_rows}..{2 * original_rows - 1})"
        )
    basis = compute_lagrange_integers(original_rows, extended)
    divisor = gcd(*basis)  # as `_signed_rows`: 1 for every R
    return tuple(value // divisor % BLS_MODULUS for value in basis)


def compute_lagrange_integers(count: int, x: int) -> tuple[int, ...]:
    """L_k(x) for k = 0..count-1 over the points 0..count-1, for an integer x >= count: integers,
    L_k(x) = (-1)^(count-1-k) * C(x, k) * C(x-k-1, count-1-k). Computed by the exact recurrence
    L_(k+1) = -L_k * (x-k)(count-1-k) / ((k+1)(x-k-1)); raises `ValueError` if a division is not
    exact (it always is, by the closed form) or x < count."""
    if not 1 <= count <= x:
        raise ValueError(f"need 1 <= count <= x, got count {count}, x {x}")
    value = comb(x - 1, count - 1) * (-1 if (count - 1) % 2 else 1)
    values = [value]
    for k in range(count - 1):
        value, remainder = divmod(-value * (x - k) * (count - 1 - k), (k + 1) * (x - k - 1))
        if remainder:
            raise ValueError(f"L_{k + 1}({x}) over {count} points is not an integer")
        values.append(value)
    return tuple(values)
