"""The row domain of the 2D extension: which field combination of a blob's R original rows each of its
R extended rows is (specs/das-core.md, "The 2D extension").

Original row k sits at x = k (k = 0..R-1); a column of the matrix is the polynomial P of degree < R
through the column's R original cells. Extended row R + i holds P(R + i) scaled by a nonzero constant
s_i, so that its coefficients over the original rows are small coprime integers:

    row(R + i) = sum_k M[i][k] * row(k),    M[i][k] = s_i * L_k(R + i),

with L_k the Lagrange basis over 0..R-1. Scaling a row of a Reed-Solomon generator keeps the code MDS
(a generalised Reed-Solomon code): any R of the 2R rows of a column determine it, and recovery divides
s_i back out. By linearity the same M combines cells (field elements), cell proofs and row commitments
(G1 points), so extended commitments are defined by the original ones and never stored.

Pure integer arithmetic, cached per R; nothing here depends on ckzg.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from math import comb, gcd, lcm

from da.constants import MAX_ROWS_PER_BLOB

BLS_MODULUS = 52435875175126190479447740508185965837690552500527637822603658699938581184513
"""The order r of BLS12-381's scalar field (the field cells are polynomials over)."""


@dataclass(frozen=True, slots=True)
class RowDomain:
    """The extension of R original rows to 2R.

    `coefficients[i][k]` is M[i][k], a signed integer (use `field_coefficients` for values mod r);
    `scales[i]` is s_i, the exact rational with M[i][k] = s_i * L_k(R + i). Each row is computed
    when first asked for and cached (a light client checking a few cells of extended rows at
    R = 265 needs a few of the 265 rows: ~1 ms each).
    """

    original_rows: int

    @property
    def coefficients(self) -> tuple[tuple[int, ...], ...]:
        """M, row i (extended row R + i) first."""
        return tuple(_extension_row(self.original_rows, offset)[0] for offset in range(self.original_rows))

    @property
    def scales(self) -> tuple[Fraction, ...]:
        """s_i for each extended row R + i."""
        return tuple(_extension_row(self.original_rows, offset)[1] for offset in range(self.original_rows))

    @property
    def extended_rows(self) -> int:
        """2R: the rows of the extended matrix."""
        return 2 * self.original_rows

    def field_coefficients(self, extended: int) -> tuple[int, ...]:
        """M[extended - R][k] mod r for k = 0..R-1, for the extended row `extended` (R <= extended < 2R)."""
        return _field_coefficients(self.original_rows, self._offset(extended))

    def field_scale_inverse(self, extended: int) -> int:
        """1 / s_i mod r for the extended row `extended`: multiply a stored value by it to get P(R + i)."""
        scale = _extension_row(self.original_rows, self._offset(extended))[1]
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


@cache
def _row_domain(original_rows: int) -> RowDomain:
    return RowDomain(original_rows)


@cache
def _signed_binomials(original_rows: int) -> tuple[int, ...]:
    return tuple((-1) ** (original_rows - 1 - k) * comb(original_rows - 1, k) for k in range(original_rows))


@cache
def _extension_row(original_rows: int, offset: int) -> tuple[tuple[int, ...], Fraction]:
    """Row `offset` of M (extended row R + offset) and its scale s_offset.

    L_k(R + i) = (-1)^(R-1-k) * R * C(R+i, R) * C(R-1, k) / (R + i - k) in closed form: the factor
    R * C(R+i, R) is common to the row, so the row's primitive integer vector is that of
    (-1)^(R-1-k) * C(R-1, k) / (R+i-k), brought to integers by lcm(i+1..i+R). O(R) integer
    operations per row (the product formula with fractions was O(R^2) per row: 33 s for all rows
    at R = 265)."""
    x = original_rows + offset
    multiple = lcm(*range(offset + 1, x + 1))
    scaled = [value * (multiple // (x - k)) for k, value in enumerate(_signed_binomials(original_rows))]
    divisor = gcd(*scaled)
    integers = tuple(value // divisor for value in scaled)
    # s_i = M[i][R-1] / L_{R-1}(R + i), with L_{R-1}(R + i) = R * C(R+i, R) / (i + 1).
    scale = Fraction(integers[-1] * (offset + 1), original_rows * comb(x, original_rows))
    return integers, scale


@cache
def _field_coefficients(original_rows: int, offset: int) -> tuple[int, ...]:
    return tuple(value % BLS_MODULUS for value in _extension_row(original_rows, offset)[0])
