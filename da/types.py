"""Typed values of the DA layer: indices and byte kinds as NewTypes, headers and samples as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

RowIndex = NewType("RowIndex", int)
ColumnIndex = NewType("ColumnIndex", int)
DataRoot = NewType("DataRoot", bytes)
Bytes32 = NewType("Bytes32", bytes)
KZGCommitment = NewType("KZGCommitment", bytes)
KZGProof = NewType("KZGProof", bytes)
Cell = NewType("Cell", bytes)
RowBytes = NewType("RowBytes", bytes)


@dataclass(frozen=True, slots=True)
class CellCoordinate:
    """Where a cell sits in the extended matrix: row `row`, column `column`."""

    row: RowIndex
    column: ColumnIndex


@dataclass(frozen=True, slots=True)
class BlobHeader:
    """What binds a blob: its byte length, its row count and one KZG commitment per row.

    Its SSZ `hash_tree_root` is the data root (see `da.header.compute_data_root`).
    """

    byte_length: int
    row_count: int
    row_commitments: tuple[KZGCommitment, ...]


@dataclass(frozen=True, slots=True)
class Sample:
    """One cell with everything needed to check it against a data root alone."""

    row: RowIndex
    column: ColumnIndex
    cell: Cell
    proof: KZGProof
    commitment: KZGCommitment
    commitment_branch: tuple[Bytes32, ...]

    @property
    def coordinate(self) -> CellCoordinate:
        """The sample's position in the extended matrix."""
        return CellCoordinate(self.row, self.column)


@dataclass(frozen=True, slots=True)
class SampleValidity:
    """Which samples of a sequence verify against a data root, and what finding out cost."""

    valid: tuple[bool, ...]
    """One entry per sample, in the order given."""
    batches: int
    """Batched checks (`verify_samples` calls) made: 1 when every sample verifies."""


@dataclass(frozen=True, slots=True)
class GridSample:
    """One cell of a blob's 2R x 128 grid (row 0..2R-1) with its KZG proof, checked against the blob's
    header instead of a Merkle branch (`da.grid_samples.verify_grid_samples`): the commitment of an
    original row is the header's, that of an extended row is derived from the header's R commitments
    (it has no leaf under the data root, so no branch could prove it)."""

    row: RowIndex
    column: ColumnIndex
    cell: Cell
    proof: KZGProof

    @property
    def coordinate(self) -> CellCoordinate:
        """The sample's position in the grid."""
        return CellCoordinate(self.row, self.column)
