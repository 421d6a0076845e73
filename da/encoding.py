"""Blob encoding: pack, commit and prove every row, bind the commitments into the data root.

`encode_row` is the unit of work (one row, ~0.2-0.4 s of ckzg holding the GIL); `encode_blob` runs it
serially and `da.pool.EncoderPool` runs it in worker processes. Both assemble the same `EncodedBlob`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from da.config import DAConfig
from da.constants import CELLS_PER_ROW
from da.errors import MalformedHeader, MalformedSample
from da.header import compute_commitment_branches, compute_data_root
from da.kzg import CellProver
from da.packing import pack_blob
from da.types import (
    BlobHeader,
    Bytes32,
    Cell,
    CellCoordinate,
    ColumnIndex,
    DataRoot,
    KZGCommitment,
    KZGProof,
    RowBytes,
    RowIndex,
    Sample,
)

ProgressCallback = Callable[[int, int], None]
"""Called as `progress(rows_done, rows_total)` after each row is encoded."""


@dataclass(frozen=True, slots=True)
class EncodedRow:
    """One row's commitment and its 128 cells with proofs."""

    commitment: KZGCommitment
    cells: tuple[Cell, ...]
    proofs: tuple[KZGProof, ...]


@dataclass(frozen=True, slots=True)
class EncodedBlob:
    """The extended matrix of a blob, its header, data root and commitment branches."""

    header: BlobHeader
    data_root: DataRoot
    rows: tuple[EncodedRow, ...]
    commitment_branches: tuple[tuple[Bytes32, ...], ...]

    def get_sample(self, coordinate: CellCoordinate) -> Sample:
        """The sample at `coordinate`; raises `MalformedSample` if it lies outside the matrix."""
        row, column = coordinate.row, coordinate.column
        if not 0 <= row < len(self.rows) or not 0 <= column < CELLS_PER_ROW:
            raise MalformedSample(
                f"cell ({row}, {column}) is outside the {len(self.rows)}x{CELLS_PER_ROW} matrix"
            )
        encoded_row = self.rows[row]
        return Sample(
            row=row,
            column=column,
            cell=encoded_row.cells[column],
            proof=encoded_row.proofs[column],
            commitment=encoded_row.commitment,
            commitment_branch=self.commitment_branches[row],
        )

    def get_samples(self, coordinates: Iterable[CellCoordinate]) -> list[Sample]:
        """The samples at each coordinate, in order."""
        return [self.get_sample(coordinate) for coordinate in coordinates]

    def get_column(self, column: ColumnIndex) -> list[Sample]:
        """Every row's sample in column `column` (what a custodian of that column holds)."""
        return [self.get_sample(CellCoordinate(RowIndex(row), column)) for row in range(len(self.rows))]


def encode_row(prover: CellProver, row: RowBytes, commitment: KZGCommitment | None = None) -> EncodedRow:
    """Commit to one packed row and compute its cells and proofs; a `commitment` already computed
    for this row (`compute_blob_header`) is used instead of committing again."""
    if commitment is None:
        commitment = prover.compute_row_commitment(row)
    cells, proofs = prover.compute_cells_and_proofs(row)
    return EncodedRow(commitment=commitment, cells=tuple(cells), proofs=tuple(proofs))


def assemble_encoded_blob(byte_length: int, rows: Iterable[EncodedRow]) -> EncodedBlob:
    """Build the header, data root and branches over already-encoded rows."""
    encoded_rows = tuple(rows)
    header = BlobHeader(
        byte_length=byte_length,
        row_count=len(encoded_rows),
        row_commitments=tuple(row.commitment for row in encoded_rows),
    )
    return EncodedBlob(
        header=header,
        data_root=compute_data_root(header),
        rows=encoded_rows,
        commitment_branches=tuple(compute_commitment_branches(header)),
    )


def check_row_commitments(
    row_count: int, commitments: Sequence[KZGCommitment] | None
) -> Sequence[KZGCommitment | None]:
    """One known commitment per row, or None per row when they are not known; raises
    `MalformedHeader` when the count does not match the blob's packing."""
    if commitments is None:
        return [None] * row_count
    if len(commitments) != row_count:
        raise MalformedHeader(f"{len(commitments)} row commitments for a blob of {row_count} rows")
    return list(commitments)


def compute_blob_header(data: bytes, prover: CellProver, config: DAConfig | None = None) -> BlobHeader:
    """The header (so the data root) a blob will have once encoded, from its row commitments alone:
    about a sixth of the work of `encode_blob`, so a node can answer a post before encoding it."""
    rows = pack_blob(data, (config or DAConfig()).validate())
    return BlobHeader(
        byte_length=len(data),
        row_count=len(rows),
        row_commitments=tuple(prover.compute_row_commitment(row) for row in rows),
    )


def encode_blob(
    data: bytes,
    prover: CellProver,
    config: DAConfig | None = None,
    progress: ProgressCallback | None = None,
    commitments: Sequence[KZGCommitment] | None = None,
) -> EncodedBlob:
    """Encode a blob serially in this process (see `da.pool.EncoderPool` for the parallel path).

    `commitments`: the rows' commitments if already known (from `compute_blob_header`), one per row;
    they are not computed again (about a sixth of the work)."""
    rows = pack_blob(data, (config or DAConfig()).validate())
    known = check_row_commitments(len(rows), commitments)
    encoded: list[EncodedRow] = []
    for row, commitment in zip(rows, known, strict=True):
        encoded.append(encode_row(prover, row, commitment))
        if progress is not None:
            progress(len(encoded), len(rows))
    return assemble_encoded_blob(len(data), encoded)
