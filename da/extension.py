"""The 2D extension: a blob's R original rows extended to 2R rows over the row index
(specs/das-core.md, "The 2D extension").

Column j of the grid holds, at row x, the value of the column polynomial P_j (degree < R, through the
R original cells) at x; extended row R + i is sum_k M[i][k] * row k (`da.row_domain`). By linearity
the same coefficients combine, column by column:

- the cells (field elements, natively: `da._scalar_field.extend_cells`, forward differences as below),
- the cells' KZG proofs (G1 points) and
- the row commitments (G1 points): extended commitments are *defined* by the header's R commitments
  and never stored, so the data root still commits to the original rows only.

The G1 combinations use that the rows sit at consecutive integers x = 0..2R-1: a polynomial of degree
< R is extended by its table of forward differences, about 1.5 R^2 point additions and no scalar
multiplication (at R = 64 eight times cheaper than R multi-scalar multiplications of size R by M).
The result is the same combination, then multiplied by each extended row's scale s_i (1 for every R,
specs/das-core.md, so no multiplication in practice).

This module is what a verifier needs (no encoder); `da.grid` builds a blob's whole grid with it.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from itertools import accumulate

import py_arkworks_bls12381 as ark

from da import _scalar_field
from da.constants import BYTES_PER_CELL, BYTES_PER_COMMITMENT, MAX_ROWS_PER_BLOB
from da.errors import InvalidKZGInput
from da.row_domain import BLS_MODULUS, ROW_TABLE_CACHE_SIZE, compute_row_domain
from da.types import Cell, KZGCommitment, KZGProof


def compute_extended_column_cells(cells: Sequence[Cell]) -> list[Cell]:
    """The R extended cells of one column (rows R..2R-1, in order) from its R original cells (rows
    0..R-1); raises `InvalidKZGInput` for a count outside 1..MAX_ROWS_PER_BLOB, a wrong length or a
    value that is not a canonical field element."""
    operation = "compute_extended_column_cells"
    count = check_row_count(operation, len(cells))
    for index, cell in enumerate(cells):
        if not isinstance(cell, bytes) or len(cell) != BYTES_PER_CELL:
            raise InvalidKZGInput(operation, f"cell {index} is not {BYTES_PER_CELL} bytes")
    try:
        if any(scale is not None for scale in _field_scales(count)):
            combined = _scalar_field.combine_cells(b"".join(cells), _extension_matrix(count))
        else:  # every s_i is 1: Q(R + i) itself, by forward differences (no multiplication)
            combined = _scalar_field.extend_cells(b"".join(cells))
    except ValueError as error:
        raise InvalidKZGInput(operation, str(error)) from error
    return [Cell(combined[i : i + BYTES_PER_CELL]) for i in range(0, len(combined), BYTES_PER_CELL)]


def compute_extended_column_proofs(proofs: Sequence[KZGProof], *, verified: bool = False) -> list[KZGProof]:
    """The R extended cells' KZG proofs of one column from its R original cells' proofs: the same
    combinations, in G1. `verified=True` skips the subgroup check of points this process made or
    already verified (an encoder's own proofs); raises `InvalidKZGInput` for bytes that are not a
    G1 point or a count outside 1..MAX_ROWS_PER_BLOB."""
    operation = "compute_extended_column_proofs"
    points = _decompress(operation, "proof", proofs, verified)
    return [KZGProof(point.to_compressed_bytes()) for point in _extend_points(points)]


def compute_extended_commitments(
    commitments: Sequence[KZGCommitment], *, verified: bool = False
) -> list[KZGCommitment]:
    """The commitments of extended rows R..2R-1 from the R original row commitments (a header's):
    defined, never stored. Raises `InvalidKZGInput` for bytes that are not a G1 point in the
    subgroup (unless `verified`) or a count outside 1..MAX_ROWS_PER_BLOB."""
    operation = "compute_extended_commitments"
    points = _decompress(operation, "commitment", commitments, verified)
    return [KZGCommitment(point.to_compressed_bytes()) for point in _extend_points(points)]


def check_row_count(operation: str, count: int) -> int:
    """`count` if it is a number of original rows (1..MAX_ROWS_PER_BLOB); else raises `InvalidKZGInput` naming
    `operation`."""
    if not 1 <= count <= MAX_ROWS_PER_BLOB:
        raise InvalidKZGInput(operation, f"{count} original rows, expected 1..{MAX_ROWS_PER_BLOB}")
    return count


@functools.lru_cache(maxsize=ROW_TABLE_CACHE_SIZE)
def _extension_matrix(count: int) -> bytes:
    """M mod r for `count` original rows, row i first, in the Montgomery form `combine_cells` takes
    (R^2 * 32 bytes: 8 MiB at R = 512, hence the small cache)."""
    domain = compute_row_domain(count)
    values = [value for extended in range(count, 2 * count) for value in domain.field_coefficients(extended)]
    return _scalar_field.to_montgomery(b"".join(v.to_bytes(32, "little") for v in values))


@functools.lru_cache(maxsize=ROW_TABLE_CACHE_SIZE)
def _field_scales(count: int) -> tuple[int | None, ...]:
    """Each extended row's scale s_i mod r, or None where it is 1 (every row, for every R)."""
    scales = compute_row_domain(count).scales
    return tuple(
        None if scale == 1 else scale.numerator * pow(scale.denominator, -1, BLS_MODULUS) % BLS_MODULUS
        for scale in scales
    )


def _decompress(operation: str, what: str, values: Sequence[bytes], verified: bool) -> list[ark.G1Point]:
    check_row_count(operation, len(values))
    points = []
    for index, value in enumerate(values):
        if not isinstance(value, bytes) or len(value) != BYTES_PER_COMMITMENT:
            raise InvalidKZGInput(operation, f"{what} {index} is not {BYTES_PER_COMMITMENT} bytes")
        try:
            if verified:
                points.append(ark.G1Point.from_compressed_bytes_unchecked(value))
            else:
                points.append(ark.G1Point.from_compressed_bytes(value))
        except ValueError as error:
            raise InvalidKZGInput(operation, f"{what} {index} is not a G1 point: {error}") from error
    return points


def _extend_points(points: list[ark.G1Point]) -> list[ark.G1Point]:
    """s_i * Q(R + i) for i = 0..R-1, Q the polynomial of degree < R with Q(k) = points[k]: the same
    as sum_k M[i][k] * points[k], by forward differences (additions only).

    Each point addition is one call into py_arkworks_bls12381 (~0.8 us); the loops run in C
    (`map`, `accumulate`) so the interpreter adds little on top: ~85 ms per column at R = 265."""
    count = len(points)
    # diagonal[j] = (Delta^j Q)(R - 1 - j): the last entry of each row of the difference table.
    diagonal: list[ark.G1Point] = []
    current = list(points)
    while current:
        diagonal.append(current[-1])
        current = list(map(operator.sub, current[1:], current[:-1]))
    # Highest order first: stepping every difference one x to the right is then a running sum
    # (Delta^(R-1) Q is constant), and its last entry is Q at the next x.
    diagonal.reverse()
    extended: list[ark.G1Point] = []
    for scale in _field_scales(count):
        diagonal = list(accumulate(diagonal, operator.add))
        value = diagonal[-1]
        if scale is not None:
            value = value * ark.Scalar.from_le_bytes(scale.to_bytes(32, "little"))
        extended.append(value)
    return extended


__all__ = [
    "check_row_count",
    "compute_extended_column_cells",
    "compute_extended_column_proofs",
    "compute_extended_commitments",
]
