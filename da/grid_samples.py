"""Samples of the 2D grid: checked against a blob's header, whose data root the verifier knows.

A `GridSample` is (row, column, cell, proof) for any row 0..2R-1. An extended row's commitment has no
leaf under the data root, so no Merkle branch can prove it; instead the verifier holds the header
(20 + 48 R bytes, fetched once per blob and checked by hashing it to the data root) and takes each
original row's commitment from it and derives the extended ones (`compute_extended_commitments`).
Then all samples are one `verify_cell_kzg_proof_batch`. Past a handful of samples the header costs
fewer bytes than a branch and a commitment per sample (336 bytes each).

As in `da.samples`: malformed structure raises (`MalformedSample`, `MalformedHeader`); well-formed
but wrong input (a header that is not the root's, a failing proof, bytes that are not a point)
returns False.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from da.constants import BYTES_PER_CELL, BYTES_PER_PROOF, BYTES_PER_ROOT, CELLS_PER_ROW
from da.errors import InvalidKZGInput, MalformedSample
from da.extension import compute_extended_commitments
from da.header import compute_data_root, validate_header
from da.kzg import CellVerifier
from da.samples import check_sample_bytes, check_sample_index, compute_batch_validity
from da.types import (
    BlobHeader,
    Cell,
    ColumnIndex,
    DataRoot,
    GridSample,
    KZGCommitment,
    KZGProof,
    RowIndex,
    SampleValidity,
)


@runtime_checkable
class GridCellVerifier(Protocol):
    """A verifier that checks cells of the 2D grid against the R original commitments alone
    (`da.lean_verifier.LeanCellVerifier`); `verify_grid_samples` uses it when the verifier has it."""

    def verify_extended_cell_proof_batch(
        self,
        original_commitments: Sequence[KZGCommitment],
        rows: Sequence[RowIndex],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """True iff every cell verifies in its grid row (R..2R-1 extended)."""


def validate_grid_sample(sample: GridSample, row_count: int) -> None:
    """Raise `MalformedSample` unless `sample` is a `GridSample` of a grid of `row_count` original
    rows: row in 0..2R-1, column in 0..127, a 2,048-byte cell and a 48-byte proof."""
    if not isinstance(sample, GridSample):
        raise MalformedSample(f"expected a GridSample, got {type(sample).__name__}")
    check_sample_index("row", sample.row, 2 * row_count)
    check_sample_index("column", sample.column, CELLS_PER_ROW)
    check_sample_bytes("cell", sample.cell, BYTES_PER_CELL)
    check_sample_bytes("proof", sample.proof, BYTES_PER_PROOF)


def compute_grid_commitments(header: BlobHeader) -> tuple[KZGCommitment, ...]:
    """The commitments of all 2R grid rows: the header's R, then the R derived ones. Raises
    `MalformedHeader` for an invalid header and `InvalidKZGInput` for a commitment that is not a G1
    point in the subgroup."""
    validate_header(header)
    extended = compute_extended_commitments(header.row_commitments)
    return (*header.row_commitments, *extended)


def verify_grid_samples(
    data_root: DataRoot, header: BlobHeader, samples: Sequence[GridSample], verifier: CellVerifier
) -> bool:
    """True iff `header` hashes to `data_root` and every sample's proof holds under its row's
    commitment (the header's, or derived from it for rows R..2R-1), in one batched check: the
    verifier's folded grid batch when it has one (`GridCellVerifier`), else its plain batch with
    the derived commitments. The one entry point for grid samples.

    An empty sequence verifies if the header is the root's. Raises `MalformedSample` for a malformed
    root or sample and `MalformedHeader` for an invalid header."""
    check_sample_bytes("data root", data_root, BYTES_PER_ROOT)
    validate_header(header)
    for sample in samples:
        validate_grid_sample(sample, header.row_count)
    if compute_data_root(header) != data_root:
        return False
    if not samples:
        return True
    row_count = header.row_count
    commitments: Sequence[KZGCommitment] = header.row_commitments
    try:
        if isinstance(verifier, GridCellVerifier):
            # The lean verifier folds the extended rows' weights into the originals': no extended
            # commitment is derived at all.
            return verifier.verify_extended_cell_proof_batch(
                header.row_commitments,
                [sample.row for sample in samples],
                [sample.column for sample in samples],
                [sample.cell for sample in samples],
                [sample.proof for sample in samples],
            )
        if any(sample.row >= row_count for sample in samples):
            commitments = (*header.row_commitments, *compute_extended_commitments(header.row_commitments))
        return verifier.verify_cell_proof_batch(
            [commitments[sample.row] for sample in samples],
            [sample.column for sample in samples],
            [sample.cell for sample in samples],
            [sample.proof for sample in samples],
        )
    except InvalidKZGInput:
        # Structure was validated above: a commitment, proof or cell value is well formed on the
        # wire but is not a point or a canonical scalar, so it cannot verify.
        return False


def compute_grid_sample_validity(
    data_root: DataRoot, header: BlobHeader, samples: Sequence[GridSample], verifier: CellVerifier
) -> SampleValidity:
    """Which of `samples` verify against `header` (which must hash to `data_root`): one batched check,
    halved only when it fails (`da.samples.compute_batch_validity`), so a bad cell sinks only
    itself. A malformed sample never verifies; a malformed root or an invalid header raises."""
    check_sample_bytes("data root", data_root, BYTES_PER_ROOT)
    validate_header(header)
    return compute_batch_validity(
        samples, lambda batch: verify_grid_samples(data_root, header, batch, verifier)
    )


__all__ = [
    "GridCellVerifier",
    "compute_grid_commitments",
    "compute_grid_sample_validity",
    "validate_grid_sample",
    "verify_grid_samples",
]
