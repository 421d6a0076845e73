"""A `CellVerifier` that loads 64 setup points, not 8,192: the universal verification equation of
`verify_cell_kzg_proof_batch` (EIP-7594, polynomial-commitments-sampling) on arkworks' BLS12-381
(py-arkworks-bls12381: multi-scalar multiplication and a multi-pairing check).

Verifying cell proofs needs the first `FIELD_ELEMENTS_PER_CELL` G1 monomial points of the setup and
two G2 points (`[1]` and `[s^64]`); ckzg parses all 4,096 G1 Lagrange and monomial points and builds
its proving tables first (about 2 s). This verifier reads the same shipped `trusted_setup.txt`,
checks its digest (`TRUSTED_SETUP_SHA256`) and decompresses only what the equation uses, so a
light client is ready in milliseconds. ckzg stays where proofs are made and rows recovered.

The challenge and the few scalars per cell are Python integers modulo the BLS12-381 scalar field;
the interpolation over the cells' cosets (about 30k field products for 169 cells) is native
(`da._scalar_field`, built with the package); every group operation is arkworks'.

`verify_extended_cell_proof_batch` checks cells of the 2D extension's 2R rows against the R original
commitments alone: extended row R + i is sum_m M[i][m] row m (`da.row_domain`), so its commitment is
the same combination of the originals, and in the batch's random linear combination original
commitment m simply gets the weight sum r^k over samples of row m plus sum r^k M[i][m] over samples
of extended row R + i; no extended commitment is ever computed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import py_arkworks_bls12381 as ark

from da import _scalar_field
from da.constants import (
    BYTES_PER_CELL,
    BYTES_PER_COMMITMENT,
    BYTES_PER_PROOF,
    CELLS_PER_ROW,
    FIELD_ELEMENTS_PER_CELL,
    FIELD_ELEMENTS_PER_ROW,
    MAX_ROWS_PER_BLOB,
)
from da.errors import InvalidKZGInput
from da.kzg import default_trusted_setup_path, read_trusted_setup
from da.row_domain import compute_field_row
from da.types import Cell, ColumnIndex, KZGCommitment, KZGProof, RowIndex

BLS_MODULUS = 52435875175126190479447740508185965837690552500527637822603658699938581184513
PRIMITIVE_ROOT_OF_UNITY = 7
RANDOM_CHALLENGE_KZG_CELL_BATCH_DOMAIN = b"RCKZGCBATCH__V1_"
RANDOM_CHALLENGE_EXTENDED_CELL_BATCH_DOMAIN = b"TSRA2DCBATCH_V1_"
"""Domain of the challenge of a batch over the 2D grid (its inputs are the original commitments and
each cell's row index in 0..2R-1, not one commitment per cell)."""
FIELD_ELEMENTS_PER_EXT_ROW = 2 * FIELD_ELEMENTS_PER_ROW
OPERATION = "verify_cell_kzg_proof_batch"

_G1_HEX = 2 * 48
_G2_HEX = 2 * 96


@dataclass(frozen=True)
class VerificationSetup:
    """The part of the trusted setup the verification equation reads."""

    g1_monomial: tuple[ark.G1Point, ...]
    """`[s^0]_1 .. [s^63]_1`."""
    g2_one: ark.G2Point
    """`[1]_2`."""
    g2_s_cell: ark.G2Point
    """`[s^FIELD_ELEMENTS_PER_CELL]_2`."""


def load_verification_setup(path: Path) -> VerificationSetup:
    """The 64 G1 monomial points and two G2 points of the setup file at `path` (c-kzg-4844's text
    form: counts, G1 Lagrange points, G2 monomial points, G1 monomial points), after checking the
    whole file against the mainnet setup's digest; raises `InvalidKZGInput` for any other file."""
    raw = read_trusted_setup(path)
    lines = raw.decode("ascii").split()
    g1_count, g2_count = int(lines[0]), int(lines[1])
    g2_lines = lines[2 + g1_count : 2 + g1_count + g2_count]
    monomial_lines = lines[2 + g1_count + g2_count : 2 + 2 * g1_count + g2_count]
    if len(g2_lines) <= FIELD_ELEMENTS_PER_CELL or len(monomial_lines) < FIELD_ELEMENTS_PER_CELL:
        raise InvalidKZGInput("load_trusted_setup", f"{path}: too few setup points")
    try:
        g1 = tuple(
            ark.G1Point.from_compressed_bytes(_hex_point(line, _G1_HEX))
            for line in monomial_lines[:FIELD_ELEMENTS_PER_CELL]
        )
        g2_one = ark.G2Point.from_compressed_bytes(_hex_point(g2_lines[0], _G2_HEX))
        g2_s = ark.G2Point.from_compressed_bytes(_hex_point(g2_lines[FIELD_ELEMENTS_PER_CELL], _G2_HEX))
    except ValueError as error:
        raise InvalidKZGInput("load_trusted_setup", f"{path}: {error}") from error
    return VerificationSetup(g1, g2_one, g2_s)


@functools.cache
def _cached_setup(path: str) -> VerificationSetup:
    return load_verification_setup(Path(path))


def load_lean_verifier(trusted_setup: Path | None = None) -> LeanCellVerifier:
    """The lean verifier over the shipped mainnet setup (or `trusted_setup`, which must be the same
    file); its points are read once per process (about 15 ms)."""
    path = trusted_setup if trusted_setup is not None else default_trusted_setup_path()
    return LeanCellVerifier(_cached_setup(str(path)))


def _hex_point(line: str, length: int) -> bytes:
    if len(line) != length:
        raise ValueError(f"a setup point of {len(line)} hex digits, {length} expected")
    return bytes.fromhex(line)


class LeanCellVerifier:
    """`CellVerifier` over a `VerificationSetup`; same verdicts and typed errors as `CkzgBackend`."""

    def __init__(self, setup: VerificationSetup) -> None:
        self._setup = setup

    def verify_cell_proof_batch(
        self,
        commitments: Sequence[KZGCommitment],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """True iff every cell is the evaluation its proof claims under its commitment (one pairing
        check for the whole batch); raises `InvalidKZGInput` for inputs that are not well formed."""
        count = len(cells)
        if not len(commitments) == len(columns) == count == len(proofs):
            raise InvalidKZGInput(
                OPERATION,
                f"{len(commitments)} commitments, {len(columns)} cell indices, {count} cells, "
                f"{len(proofs)} proofs: the lengths must match",
            )
        unique: dict[bytes, int] = {}
        for commitment in commitments:
            _check_bytes("commitment", commitment, BYTES_PER_COMMITMENT)
            unique.setdefault(bytes(commitment), len(unique))
        _check_cells(columns, cells, proofs)
        if count == 0:
            return True
        commitment_indices = [unique[bytes(c)] for c in commitments]
        r = _challenge(
            RANDOM_CHALLENGE_KZG_CELL_BATCH_DOMAIN,
            list(unique),
            commitment_indices,
            list(columns),
            cells,
            proofs,
        )
        powers = _powers(r, count)
        interpolation = _interpolate(cells, columns, powers)
        commitment_points = [_g1("commitment", c) for c in unique]
        proof_points = [_g1("proof", p) for p in proofs]
        # RLC: each commitment weighted by the sum of r^k of its cells
        weights = [0] * len(commitment_points)
        for k, index in enumerate(commitment_indices):
            weights[index] = (weights[index] + powers[k]) % BLS_MODULUS
        return self._check(commitment_points, weights, list(columns), interpolation, proof_points, powers)

    def verify_extended_cell_proof_batch(
        self,
        original_commitments: Sequence[KZGCommitment],
        rows: Sequence[RowIndex],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """True iff every cell is the evaluation its proof claims under its row's commitment, cell k
        sitting in row `rows[k]` of the 2D grid (0..R-1 original, R..2R-1 extended) of the blob whose
        R row commitments are `original_commitments` (one pairing check for the whole batch; the
        extended rows' commitments are folded into the originals' weights). Raises
        `InvalidKZGInput` for inputs that are not well formed, a row outside 0..2R-1 among them."""
        count = len(cells)
        if not len(rows) == len(columns) == count == len(proofs):
            raise InvalidKZGInput(
                OPERATION,
                f"{len(rows)} row indices, {len(columns)} cell indices, {count} cells, "
                f"{len(proofs)} proofs: the lengths must match",
            )
        original_rows = len(original_commitments)
        if not 1 <= original_rows <= MAX_ROWS_PER_BLOB:
            raise InvalidKZGInput(
                OPERATION, f"{original_rows} original commitments, expected 1..{MAX_ROWS_PER_BLOB}"
            )
        for commitment in original_commitments:
            _check_bytes("commitment", commitment, BYTES_PER_COMMITMENT)
        for row in rows:
            if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < 2 * original_rows:
                raise InvalidKZGInput(
                    OPERATION, f"row index {row!r} is outside 0..{2 * original_rows - 1} of the 2D grid"
                )
        _check_cells(columns, cells, proofs)
        if count == 0:
            return True
        commitment_bytes = [bytes(c) for c in original_commitments]
        r = _challenge(
            RANDOM_CHALLENGE_EXTENDED_CELL_BATCH_DOMAIN,
            commitment_bytes,
            list(rows),
            list(columns),
            cells,
            proofs,
        )
        powers = _powers(r, count)
        interpolation = _interpolate(cells, columns, powers)
        commitment_points = [_g1("commitment", c) for c in commitment_bytes]
        proof_points = [_g1("proof", p) for p in proofs]
        weights = _fold_extended_weights(original_rows, rows, powers)
        return self._check(commitment_points, weights, list(columns), interpolation, proof_points, powers)

    def _check(
        self,
        commitment_points: list[ark.G1Point],
        weights: list[int],
        columns: list[int],
        interpolation: list[int],
        proof_points: list[ark.G1Point],
        powers: list[int],
    ) -> bool:
        # LL = sum_k r^k proof_k
        left = ark.G1Point.multiexp_unchecked(proof_points, [_scalar(p) for p in powers])
        # RLP = sum_k r^k h_k^n proof_k
        shift_power = _domain().shift_power
        shifted = [powers[k] * shift_power[column] for k, column in enumerate(columns)]
        # RL = RLC - [RLI(s)] + RLP, RLI being the sum of r^k I_k(X) (`_interpolate`)
        right = ark.G1Point.multiexp_unchecked(
            [*commitment_points, *self._setup.g1_monomial, *proof_points],
            [
                *(_scalar(w) for w in weights),
                *(_scalar(-c) for c in interpolation),
                *(_scalar(s) for s in shifted),
            ],
        )
        # e(LL, [s^n]) == e(RL, [1])
        return bool(ark.GT.pairing_check([left, -right], [self._setup.g2_s_cell, self._setup.g2_one]))


def _interpolate(cells: Sequence[bytes], columns: Sequence[int], powers: list[int]) -> list[int]:
    """The coefficients of the sum of r^k I_k(X), I_k the polynomial of degree < 64 interpolating
    cell k over its column's coset (natively: cells of one column are combined first, then each
    column is one inverse FFT); raises `InvalidKZGInput` for a cell value that is not canonical."""
    domain = _domain()
    try:
        packed = _scalar_field.interpolate_cells(
            b"".join(cells),
            bytes(columns),
            _scalar_field.to_montgomery(b"".join(p.to_bytes(32, "little") for p in powers)),
            domain.twiddles,
            domain.unshift,
        )
    except ValueError as error:
        raise InvalidKZGInput(OPERATION, str(error)) from error
    return [int.from_bytes(packed[i : i + 32], "little") for i in range(0, len(packed), 32)]


def _fold_extended_weights(original_rows: int, rows: Sequence[int], powers: list[int]) -> list[int]:
    """Weight of each original commitment in the batch's combination: sum r^k over the samples of
    its own row, plus, for each extended row R + i, M[i][m] times the sum r^k over that row's samples."""
    weights = [0] * original_rows
    extended: dict[int, int] = {}
    for power, row in zip(powers, rows, strict=True):
        if row < original_rows:
            weights[row] += power
        else:
            extended[row] = extended.get(row, 0) + power
    for row, power_sum in extended.items():  # only the rows sampled: not the whole row domain
        for m, coefficient in enumerate(compute_field_row(original_rows, row)):
            weights[m] += power_sum * coefficient
    return [weight % BLS_MODULUS for weight in weights]


def _check_cells(columns: Sequence[ColumnIndex], cells: Sequence[Cell], proofs: Sequence[KZGProof]) -> None:
    for column in columns:
        if not isinstance(column, int) or not 0 <= column < CELLS_PER_ROW:
            raise InvalidKZGInput(OPERATION, f"cell index {column!r} is not below {CELLS_PER_ROW}")
    for cell in cells:
        _check_bytes("cell", cell, BYTES_PER_CELL)
    for proof in proofs:
        _check_bytes("proof", proof, BYTES_PER_PROOF)


def _check_bytes(what: str, value: bytes, length: int) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != length:
        size = len(value) if isinstance(value, bytes | bytearray) else type(value).__name__
        raise InvalidKZGInput(OPERATION, f"a {what} of {size} bytes, {length} expected")


def _g1(what: str, value: bytes) -> ark.G1Point:
    """A G1 point from its 48-byte compressed form, on the curve and in the subgroup."""
    try:
        return ark.G1Point.from_compressed_bytes(bytes(value))
    except ValueError as error:
        raise InvalidKZGInput(OPERATION, f"{what} {bytes(value).hex()} is not a G1 point: {error}") from error


def _challenge(
    domain: bytes,
    commitments: list[bytes],
    commitment_indices: list[int],
    columns: list[int],
    cells: Sequence[bytes],
    proofs: Sequence[bytes],
) -> int:
    """The Fiat-Shamir challenge `r` of the spec: every input hashed under `domain` (each cell's
    `commitment_indices` entry is its commitment's position, or in a 2D batch its row index)."""
    digest = hashlib.sha256()
    digest.update(domain)
    for number in (FIELD_ELEMENTS_PER_ROW, FIELD_ELEMENTS_PER_CELL, len(commitments), len(columns)):
        digest.update(number.to_bytes(8, "big"))
    for commitment in commitments:
        digest.update(commitment)
    for index, column, cell, proof in zip(commitment_indices, columns, cells, proofs, strict=True):
        digest.update(index.to_bytes(8, "big"))
        digest.update(column.to_bytes(8, "big"))
        digest.update(bytes(cell))
        digest.update(bytes(proof))
    return int.from_bytes(digest.digest(), "big") % BLS_MODULUS


def _powers(r: int, count: int) -> list[int]:
    powers, current = [], 1
    for _ in range(count):
        powers.append(current)
        current = current * r % BLS_MODULUS
    return powers


def _scalar(value: int) -> ark.Scalar:
    """An arkworks scalar from any integer (reduced modulo the field)."""
    return ark.Scalar.from_le_bytes((value % BLS_MODULUS).to_bytes(32, "little"))


def _root_of_unity(order: int) -> int:
    return pow(PRIMITIVE_ROOT_OF_UNITY, (BLS_MODULUS - 1) // order, BLS_MODULUS)


def _reverse_bits(value: int, bits: int) -> int:
    return int(format(value, f"0{bits}b")[::-1], 2) if bits else 0


@dataclass(frozen=True)
class _Domain:
    """Roots of unity the equation needs; the native tables in Montgomery form."""

    twiddles: bytes
    """`w_64^-m` for m < 32: the inverse FFT's twiddles."""
    unshift: bytes
    """`h_c^-j / 64` for each column c and j < 64: turns an inverse FFT's output into the
    coefficients of the polynomial interpolating the cell over its coset."""
    shift_power: tuple[int, ...]
    """`h_c^64` for each column c (plain integers)."""


@functools.cache
def _domain() -> _Domain:
    """The roots of unity of the equation, computed on first use (a few milliseconds)."""
    order, n, p = FIELD_ELEMENTS_PER_EXT_ROW, FIELD_ELEMENTS_PER_CELL, BLS_MODULUS
    powers = _powers(_root_of_unity(order), order)  # w_8192^e
    bits = (order - 1).bit_length()
    # The cell of column c is the coset h_c * <w_64>, h_c being entry 64c of the bit-reversed
    # 8192nd roots (specs: coset_shift_for_cell); its t-th value sits at h_c * w_64^rev6(t).
    exponents = [_reverse_bits(n * c, bits) for c in range(CELLS_PER_ROW)]
    inverse_length = pow(n, p - 2, p)
    cell_step = order // n  # w_64 = w_8192^128
    twiddles = [powers[(-m * cell_step) % order] for m in range(n // 2)]
    unshift = [powers[(-e * j) % order] * inverse_length % p for e in exponents for j in range(n)]
    return _Domain(
        twiddles=_montgomery(twiddles),
        unshift=_montgomery(unshift),
        shift_power=tuple(powers[(n * e) % order] for e in exponents),
    )


def _montgomery(values: list[int]) -> bytes:
    return _scalar_field.to_montgomery(b"".join(v.to_bytes(32, "little") for v in values))
