"""The 2D extension against ckzg: extended cells, proofs and commitments are those of the combined
rows, every grid cell verifies against the derived commitments, and tampered samples do not."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import py_arkworks_bls12381 as ark
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from da import (
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    ExtendedBlob,
    GridSample,
    InvalidKZGInput,
    MalformedSample,
    RowIndex,
    compute_extended_column_cells,
    compute_extended_column_proofs,
    compute_extended_commitments,
    compute_grid_commitments,
    extend_rows,
    extension,
    verify_grid_samples,
)
from da.constants import (
    BYTES_PER_CELL,
    CELLS_PER_ROW,
    FIELD_ELEMENTS_PER_CELL,
    LENGTH_PREFIX_BYTES,
    MAX_ROWS_PER_BLOB,
    USABLE_BYTES_PER_ROW,
)
from da.encoding import EncodedRow, assemble_encoded_blob
from da.header import compute_data_root
from da.lean_verifier import load_lean_verifier
from da.row_domain import BLS_MODULUS, ROW_TABLE_CACHE_SIZE, compute_row_domain
from da.types import Cell, DataRoot, KZGCommitment, KZGProof, RowBytes
from tests.environment import require_or_skip
from tests.examples import examples
from tests.official_vectors import MISSING, find_vector_source

ROW_COUNTS = [1, 2, 8, 9, pytest.param(17, marks=pytest.mark.slow), pytest.param(33, marks=pytest.mark.slow)]


def _elements(data: bytes) -> list[int]:
    return [int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)]


def _row_bytes(row: EncodedRow) -> bytes:
    """The row itself: the first 64 cells (the EIP-7594 extension is systematic)."""
    return b"".join(row.cells[:64])


def _combined_row(columns: list[list[int]], coefficients: tuple[int, ...]) -> RowBytes:
    """sum_k coefficients[k] * row k, element by element, in plain Python integers (`columns[k]` is
    row k's elements)."""
    values = [
        sum(c * column[e] for c, column in zip(coefficients, columns, strict=True)) % BLS_MODULUS
        for e in range(len(columns[0]))
    ]
    return RowBytes(b"".join(v.to_bytes(32, "big") for v in values))


@pytest.mark.parametrize("row_count", ROW_COUNTS)
def test_extended_rows_are_ckzg_on_the_combined_rows(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], row_count: int
) -> None:
    """Byte for byte: ckzg's commitment, cells and proofs of sum_k M[i][k] row k are extended row R+i."""
    grid = make_grid(row_count)
    domain = compute_row_domain(row_count)
    columns = [_elements(_row_bytes(row)) for row in grid.blob.rows]
    for i, extended in enumerate(grid.extended_rows):
        combined = _combined_row(columns, domain.field_coefficients(row_count + i))
        cells, proofs = kzg.compute_cells_and_proofs(combined)
        assert extended.cells == tuple(cells), f"row {row_count + i}: cells"
        assert extended.proofs == tuple(proofs), f"row {row_count + i}: proofs"
        assert extended.commitment == kzg.compute_row_commitment(combined), f"row {row_count + i}"


@pytest.mark.parametrize("row_count", ROW_COUNTS)
def test_every_grid_cell_verifies_against_the_derived_commitments(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], row_count: int
) -> None:
    grid = make_grid(row_count)
    samples = [sample for column in range(CELLS_PER_ROW) for sample in grid.get_column(ColumnIndex(column))]
    assert len(samples) == 2 * row_count * CELLS_PER_ROW
    assert verify_grid_samples(grid.blob.data_root, grid.blob.header, samples, kzg)
    commitments = compute_grid_commitments(grid.blob.header)
    assert commitments[row_count:] == tuple(row.commitment for row in grid.extended_rows)


def test_the_lean_verifier_checks_grid_samples(make_grid: Callable[[int], ExtendedBlob]) -> None:
    """What a light client runs: 30 random grid samples against the header, with the lean verifier."""
    grid = make_grid(9)
    rng = random.Random(9)
    picks = [CellCoordinate(RowIndex(rng.randrange(18)), ColumnIndex(rng.randrange(128))) for _ in range(30)]
    samples = grid.get_samples(picks)
    lean = load_lean_verifier()
    assert verify_grid_samples(grid.blob.data_root, grid.blob.header, samples, lean)
    extended = next(sample for sample in samples if sample.row >= 9)
    swapped = GridSample(RowIndex(extended.row - 9), extended.column, extended.cell, extended.proof)
    assert not verify_grid_samples(grid.blob.data_root, grid.blob.header, [*samples, swapped], lean)


def test_original_rows_sample_as_in_one_dimension(make_grid: Callable[[int], ExtendedBlob]) -> None:
    grid = make_grid(2)
    for row in range(2):
        coordinate = CellCoordinate(RowIndex(row), ColumnIndex(77))
        one_d, two_d = grid.blob.get_sample(coordinate), grid.get_sample(coordinate)
        assert (two_d.cell, two_d.proof) == (one_d.cell, one_d.proof)
    assert len(grid.get_column(ColumnIndex(0))) == 4


@pytest.mark.parametrize("row_count", [2, 9])
def test_tampered_grid_samples_are_rejected(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], row_count: int
) -> None:
    """A flipped bit, a neighbour's proof, an original row's commitment, another blob's header."""
    grid = make_grid(row_count)
    root, header = grid.blob.data_root, grid.blob.header
    sample = grid.get_sample(CellCoordinate(RowIndex(2 * row_count - 1), ColumnIndex(5)))
    neighbour = grid.get_sample(CellCoordinate(RowIndex(2 * row_count - 1), ColumnIndex(6)))
    assert verify_grid_samples(root, header, [sample, neighbour], kzg)
    flipped = bytearray(sample.cell)
    flipped[100] ^= 1
    bad_cell = GridSample(sample.row, sample.column, Cell(bytes(flipped)), sample.proof)
    assert not verify_grid_samples(root, header, [neighbour, bad_cell], kzg)
    assert not verify_grid_samples(
        root, header, [GridSample(sample.row, sample.column, sample.cell, neighbour.proof)], kzg
    )
    # The extended cell claimed for the original row at the same offset: the header's commitment.
    as_original = GridSample(RowIndex(row_count - 1), sample.column, sample.cell, sample.proof)
    assert not verify_grid_samples(root, header, [as_original], kzg)
    assert not kzg.verify_cell_proof_batch(
        [header.row_commitments[row_count - 1]], [sample.column], [sample.cell], [sample.proof]
    )
    other = assemble_encoded_blob(header.byte_length, tuple(reversed(grid.blob.rows)))
    assert not verify_grid_samples(root, other.header, [sample], kzg)
    assert not verify_grid_samples(other.data_root, header, [sample], kzg)


def test_malformed_grid_samples_raise(kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob]) -> None:
    grid = make_grid(2)
    root, header = grid.blob.data_root, grid.blob.header
    sample = grid.get_sample(CellCoordinate(RowIndex(3), ColumnIndex(0)))
    for bad in (
        GridSample(RowIndex(4), sample.column, sample.cell, sample.proof),
        GridSample(sample.row, ColumnIndex(128), sample.cell, sample.proof),
        GridSample(sample.row, sample.column, Cell(sample.cell[:-1]), sample.proof),
        GridSample(sample.row, sample.column, sample.cell, KZGProof(sample.proof + b"\x00")),
    ):
        with pytest.raises(MalformedSample):
            verify_grid_samples(root, header, [bad], kzg)
    with pytest.raises(MalformedSample):
        verify_grid_samples(DataRoot(root[:31]), header, [sample], kzg)
    with pytest.raises(MalformedSample):
        grid.get_sample(CellCoordinate(RowIndex(4), ColumnIndex(0)))


def test_a_header_commitment_off_the_curve_does_not_verify(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob]
) -> None:
    grid = make_grid(2)
    rows = grid.blob.rows
    broken = EncodedRow(KZGCommitment(b"\xaa" * 48), rows[1].cells, rows[1].proofs)
    blob = assemble_encoded_blob(grid.blob.header.byte_length, (rows[0], broken))
    sample = grid.get_sample(CellCoordinate(RowIndex(3), ColumnIndex(0)))
    assert not verify_grid_samples(blob.data_root, blob.header, [sample], kzg)
    with pytest.raises(InvalidKZGInput):
        compute_extended_commitments(blob.header.row_commitments)


# --- The native cell combination and the G1 differences against plain references ----------------

field_elements = st.one_of(st.integers(0, BLS_MODULUS - 1), st.sampled_from([0, 1, BLS_MODULUS - 1]))


@settings(max_examples=examples(20))
@given(data=st.data(), row_count=st.integers(1, 6))
def test_native_cell_combination_is_the_field_combination(data: st.DataObject, row_count: int) -> None:
    columns = [
        data.draw(
            st.lists(field_elements, min_size=FIELD_ELEMENTS_PER_CELL, max_size=FIELD_ELEMENTS_PER_CELL)
        )
        for _ in range(row_count)
    ]
    cells = [Cell(b"".join(v.to_bytes(32, "big") for v in column)) for column in columns]
    domain = compute_row_domain(row_count)
    expected = [
        [
            sum(c * column[t] for c, column in zip(domain.field_coefficients(x), columns, strict=True))
            % BLS_MODULUS
            for t in range(FIELD_ELEMENTS_PER_CELL)
        ]
        for x in range(row_count, 2 * row_count)
    ]
    assert [_elements(cell) for cell in compute_extended_column_cells(cells)] == expected


def test_bad_cells_are_refused() -> None:
    with pytest.raises(InvalidKZGInput, match="not canonical"):
        compute_extended_column_cells([Cell(BLS_MODULUS.to_bytes(32, "big") * FIELD_ELEMENTS_PER_CELL)])
    with pytest.raises(InvalidKZGInput, match=r"1\.\.512"):
        compute_extended_column_cells([])
    with pytest.raises(InvalidKZGInput, match=r"1\.\.512"):
        compute_extended_column_cells([Cell(bytes(BYTES_PER_CELL))] * (MAX_ROWS_PER_BLOB + 1))
    with pytest.raises(InvalidKZGInput, match="2048 bytes"):
        compute_extended_column_cells([Cell(bytes(BYTES_PER_CELL - 1))])
    with pytest.raises(InvalidKZGInput, match="not a G1 point"):
        compute_extended_column_proofs([KZGProof(b"\x11" * 48)])
    with pytest.raises(InvalidKZGInput, match=r"1\.\.512"):
        extend_rows(())
    short = EncodedRow(KZGCommitment(bytes(48)), (Cell(bytes(BYTES_PER_CELL)),), (KZGProof(bytes(48)),))
    with pytest.raises(InvalidKZGInput, match="not 128"):
        extend_rows((short,))


def _msm_reference(points: list[ark.G1Point], row_count: int) -> list[bytes]:
    """sum_k M[i][k] points[k] for each extended row, by arkworks' multi-scalar multiplication."""
    domain = compute_row_domain(row_count)
    return [
        ark.G1Point.multiexp_unchecked(
            points, [ark.Scalar.from_le_bytes(c.to_bytes(32, "little")) for c in domain.field_coefficients(x)]
        ).to_compressed_bytes()
        for x in range(row_count, 2 * row_count)
    ]


@pytest.mark.parametrize("row_count", [1, 2, 3, 8, 9, 17, 64])
def test_g1_differences_are_the_multi_scalar_multiplication_by_m(row_count: int) -> None:
    rng = random.Random(row_count)
    points = [ark.G1Point() * ark.Scalar(rng.randrange(1, 2**64)) for _ in range(row_count)]
    compressed = [KZGCommitment(point.to_compressed_bytes()) for point in points]
    expected = _msm_reference(points, row_count)
    assert compute_extended_commitments(compressed) == expected
    assert compute_extended_column_proofs([KZGProof(c) for c in compressed], verified=True) == expected


@pytest.mark.parametrize("row_count", [1, 2, 8, 9, 17])
def test_extended_rows_need_no_scale(row_count: int) -> None:
    """s_i = 1: extended row R+i is the column polynomial at R+i itself (every R: test_row_domain)."""
    assert set(compute_row_domain(row_count).scales) == {1}


def test_the_per_row_count_caches_are_bounded() -> None:
    """Cells of 40 different row counts leave at most ROW_TABLE_CACHE_SIZE matrices (8 MiB each at
    R = 512) and scale tables cached. The cells take the matrix only when a scale is not 1 (never:
    they are extended by forward differences), so it is asked for directly too."""
    extension._extension_matrix.cache_clear()
    extension._field_scales.cache_clear()
    for row_count in range(1, 41):
        compute_extended_column_cells([Cell(bytes(BYTES_PER_CELL))] * row_count)
        compute_extended_commitments([KZGCommitment(ark.G1Point().to_compressed_bytes())] * row_count)
        extension._extension_matrix(row_count)
    for cached in (extension._extension_matrix, extension._field_scales):
        info = cached.cache_info()
        assert info.maxsize == ROW_TABLE_CACHE_SIZE
        assert info.currsize == ROW_TABLE_CACHE_SIZE
        assert info.misses == 40


# --- Official vectors as the original rows --------------------------------------------------------


def _valid_vector_rows(into: Path) -> list[tuple[RowBytes, list[bytes], list[bytes]]]:
    """The blob, cells and proofs of every `compute_cells_and_kzg_proofs` vector that must succeed."""
    source = find_vector_source()
    if source is None:
        require_or_skip(MISSING)
        return []
    folder = source.unpack(into)
    found = []
    for case in source.cases("compute_cells_and_kzg_proofs"):
        document: dict[str, Any] = yaml.safe_load((folder / case).read_text())
        if document["output"] is None:
            continue
        cells, proofs = document["output"]
        found.append(
            (
                RowBytes(bytes.fromhex(document["input"]["blob"].removeprefix("0x"))),
                [bytes.fromhex(c.removeprefix("0x")) for c in cells],
                [bytes.fromhex(p.removeprefix("0x")) for p in proofs],
            )
        )
    return found


def test_official_vectors_hold_for_every_original_row_of_a_grid(kzg: CkzgBackend, tmp_path: Path) -> None:
    """The valid `compute_cells_and_kzg_proofs` vectors as the original rows of one grid: each original
    row samples exactly the vector's cells and proofs, and every extended cell verifies."""
    vectors = _valid_vector_rows(tmp_path)
    assert len(vectors) >= 2, "expected several valid compute_cells_and_kzg_proofs vectors"
    rows = tuple(
        EncodedRow(kzg.compute_row_commitment(blob), tuple(map(Cell, cells)), tuple(map(KZGProof, proofs)))
        for blob, cells, proofs in vectors
    )
    extended = extend_rows(rows)
    blob = assemble_encoded_blob(len(rows) * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES, rows)
    grid = ExtendedBlob(blob, extended)
    for row, (_blob, cells, proofs) in enumerate(vectors):
        for column in (0, 63, 64, 127):
            sample = grid.get_sample(CellCoordinate(RowIndex(row), ColumnIndex(column)))
            assert (sample.cell, sample.proof) == (cells[column], proofs[column])
    samples = [
        grid.get_sample(CellCoordinate(RowIndex(row), ColumnIndex(column)))
        for row in range(len(rows), 2 * len(rows))
        for column in range(CELLS_PER_ROW)
    ]
    assert compute_data_root(blob.header) == blob.data_root
    assert verify_grid_samples(blob.data_root, blob.header, samples, kzg)
