"""The lean verifier's 2D batch (`verify_extended_cell_proof_batch`): cells of extended rows checked
against the R original commitments with the extended rows' weights folded in.

The extended rows are built here independently of the verifier: row R + i is the field combination
sum_k M[i][k] row k of the packed original rows (M from `da.row_domain`), and ckzg's
`compute_cells_and_kzg_proofs` on those bytes gives its cells and proofs. The expected verdicts come
from ckzg's `verify_cell_kzg_proof_batch` with each extended commitment derived explicitly (a G1
multi-scalar multiplication of the original commitments in py-arkworks)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import py_arkworks_bls12381 as ark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import CkzgBackend, DAError, InvalidKZGInput
from da.config import DAConfig
from da.constants import BYTES_PER_FIELD_ELEMENT, MAX_ROWS_PER_BLOB, USABLE_BYTES_PER_ROW
from da.lean_verifier import BLS_MODULUS, LeanCellVerifier, load_lean_verifier
from da.packing import pack_blob
from da.row_domain import compute_row_domain
from da.types import Cell, ColumnIndex, KZGCommitment, KZGProof, RowBytes, RowIndex
from tests.examples import examples

ORIGINAL_ROWS = 3


@dataclass(frozen=True)
class Grid:
    """A 2R x 128 grid: `commitments[row]` (the extended ones derived), cells and proofs per row."""

    originals: tuple[KZGCommitment, ...]
    commitments: tuple[KZGCommitment, ...]
    cells: tuple[tuple[Cell, ...], ...]
    proofs: tuple[tuple[KZGProof, ...], ...]


def _elements(row: bytes) -> list[int]:
    size = BYTES_PER_FIELD_ELEMENT
    return [int.from_bytes(row[i : i + size], "big") for i in range(0, len(row), size)]


def _combine_rows(rows: list[RowBytes], coefficients: tuple[int, ...]) -> RowBytes:
    """sum_k coefficients[k] row k, element by element in the scalar field (evaluation form)."""
    columns = zip(*(_elements(row) for row in rows), strict=True)
    values = (
        sum(c * v for c, v in zip(coefficients, column, strict=True)) % BLS_MODULUS for column in columns
    )
    return RowBytes(b"".join(value.to_bytes(BYTES_PER_FIELD_ELEMENT, "big") for value in values))


def _derive_commitment(originals: tuple[KZGCommitment, ...], coefficients: tuple[int, ...]) -> KZGCommitment:
    points = [ark.G1Point.from_compressed_bytes(c) for c in originals]
    scalars = [ark.Scalar.from_le_bytes(c.to_bytes(32, "little")) for c in coefficients]
    return KZGCommitment(ark.G1Point.multiexp_unchecked(points, scalars).to_compressed_bytes())


@pytest.fixture(scope="module")
def grid(kzg: CkzgBackend) -> Grid:
    data = random.Random(30).randbytes(ORIGINAL_ROWS * USABLE_BYTES_PER_ROW - 100)
    rows = pack_blob(data, DAConfig())
    assert len(rows) == ORIGINAL_ROWS
    domain = compute_row_domain(ORIGINAL_ROWS)
    originals = tuple(kzg.compute_row_commitment(row) for row in rows)
    commitments = list(originals)
    all_rows = list(rows)
    for extended in range(ORIGINAL_ROWS, 2 * ORIGINAL_ROWS):
        coefficients = domain.field_coefficients(extended)
        combined = _combine_rows(rows, coefficients)
        derived = _derive_commitment(originals, coefficients)
        assert derived == kzg.compute_row_commitment(combined)  # the derivation is the row's commitment
        commitments.append(derived)
        all_rows.append(combined)
    encoded = [kzg.compute_cells_and_proofs(row) for row in all_rows]
    return Grid(
        originals,
        tuple(commitments),
        tuple(tuple(cells) for cells, _ in encoded),
        tuple(tuple(proofs) for _, proofs in encoded),
    )


@pytest.fixture(scope="module")
def lean() -> LeanCellVerifier:
    return load_lean_verifier()


Batch = tuple[list[RowIndex], list[ColumnIndex], list[Cell], list[KZGProof]]


def _batch(grid: Grid, picks: list[tuple[int, int]]) -> Batch:
    rows = [RowIndex(row) for row, _ in picks]
    columns = [ColumnIndex(column) for _, column in picks]
    return (
        rows,
        columns,
        [grid.cells[row][column] for row, column in picks],
        [grid.proofs[row][column] for row, column in picks],
    )


def _lean_verdict(lean: LeanCellVerifier, grid: Grid, batch: Batch) -> object:
    try:
        return lean.verify_extended_cell_proof_batch(grid.originals, *batch)
    except DAError as error:
        return type(error)


def _ckzg_verdict(kzg: CkzgBackend, grid: Grid, batch: Batch) -> object:
    rows, columns, cells, proofs = batch
    try:
        return kzg.verify_cell_proof_batch([grid.commitments[row] for row in rows], columns, cells, proofs)
    except DAError as error:
        return type(error)


def _flip_bit(cell: Cell) -> Cell:
    """The cell with the lowest bit of its first field element flipped (still canonical)."""
    return Cell(cell[:31] + bytes([cell[31] ^ 1]) + cell[32:])


CORRUPTIONS = ["none", "flipped-bit", "neighbour-proof", "wrong-row", "original-row-for-extended"]


def _corrupt(kind: str, at: int, batch: Batch) -> None:
    rows, _, cells, proofs = batch
    at %= len(cells)
    if kind == "flipped-bit":
        cells[at] = _flip_bit(cells[at])
    elif kind == "neighbour-proof":
        proofs[at] = proofs[(at + 1) % len(cells)] if len(cells) > 1 else KZGProof(proofs[at][:-1] + b"\x00")
    elif kind == "wrong-row":
        rows[at] = RowIndex((rows[at] + 1) % (2 * ORIGINAL_ROWS))
    elif kind == "original-row-for-extended":
        rows[at] = RowIndex(
            rows[at] % ORIGINAL_ROWS if rows[at] >= ORIGINAL_ROWS else rows[at] + ORIGINAL_ROWS
        )


def test_every_cell_of_the_2d_grid_verifies_in_one_folded_batch(
    lean: LeanCellVerifier, kzg: CkzgBackend, grid: Grid
) -> None:
    batch = _batch(grid, [(row, column) for row in range(2 * ORIGINAL_ROWS) for column in range(128)])
    assert lean.verify_extended_cell_proof_batch(grid.originals, *batch) is True
    assert _ckzg_verdict(kzg, grid, batch) is True


@pytest.mark.parametrize("kind", CORRUPTIONS[1:])
def test_a_flipped_bit_a_neighbours_proof_or_a_wrong_row_is_rejected(
    lean: LeanCellVerifier, kzg: CkzgBackend, grid: Grid, kind: str
) -> None:
    picks = [(ORIGINAL_ROWS + 1, 5), (ORIGINAL_ROWS, 77), (0, 5), (2 * ORIGINAL_ROWS - 1, 127), (1, 64)]
    for at in range(len(picks)):
        batch = _batch(grid, picks)
        _corrupt(kind, at, batch)
        assert lean.verify_extended_cell_proof_batch(grid.originals, *batch) is False, (kind, at)
        assert _ckzg_verdict(kzg, grid, batch) is False, (kind, at)


@settings(max_examples=examples(20, 0.7), deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 2 * ORIGINAL_ROWS - 1), st.integers(0, 127)), min_size=1, max_size=24
    ),
    kind=st.sampled_from(CORRUPTIONS),
    at=st.integers(0, 23),
)
def test_the_folded_batch_agrees_with_ckzg_on_derived_extended_commitments(
    lean: LeanCellVerifier, kzg: CkzgBackend, grid: Grid, picks: list[tuple[int, int]], kind: str, at: int
) -> None:
    batch = _batch(grid, picks)
    _corrupt(kind, at, batch)
    expected = _ckzg_verdict(kzg, grid, batch)
    assert _lean_verdict(lean, grid, batch) == expected
    if kind == "none":
        assert expected is True


def test_the_1d_entry_point_is_unchanged_for_original_rows(lean: LeanCellVerifier, grid: Grid) -> None:
    rows, columns, cells, proofs = _batch(grid, [(0, 3), (1, 100), (2, 64)])
    commitments = [grid.originals[row] for row in rows]
    assert lean.verify_cell_proof_batch(commitments, columns, cells, proofs) is True
    assert lean.verify_extended_cell_proof_batch(grid.originals, rows, columns, cells, proofs) is True


def test_malformed_2d_batches_are_typed_errors(lean: LeanCellVerifier, grid: Grid) -> None:
    rows, columns, cells, proofs = _batch(grid, [(ORIGINAL_ROWS, 1), (0, 2)])
    with pytest.raises(InvalidKZGInput, match=r"row index 6 is outside 0\.\.5"):
        lean.verify_extended_cell_proof_batch(grid.originals, [RowIndex(6), rows[1]], columns, cells, proofs)
    with pytest.raises(InvalidKZGInput, match="row index -1"):
        lean.verify_extended_cell_proof_batch(grid.originals, [RowIndex(-1), rows[1]], columns, cells, proofs)
    with pytest.raises(InvalidKZGInput, match="lengths must match"):
        lean.verify_extended_cell_proof_batch(grid.originals, rows[:1], columns, cells, proofs)
    with pytest.raises(InvalidKZGInput, match="0 original commitments"):
        lean.verify_extended_cell_proof_batch([], rows, columns, cells, proofs)
    with pytest.raises(InvalidKZGInput, match=r"513 original commitments, expected 1\.\.512"):
        lean.verify_extended_cell_proof_batch(
            [grid.originals[0]] * (MAX_ROWS_PER_BLOB + 1), rows, columns, cells, proofs
        )
    with pytest.raises(InvalidKZGInput, match="not a G1 point"):
        bad = (KZGCommitment(grid.originals[0][:1] + bytes(47)), *grid.originals[1:])
        lean.verify_extended_cell_proof_batch(bad, rows, columns, cells, proofs)
    assert lean.verify_extended_cell_proof_batch(grid.originals, [], [], [], []) is True
