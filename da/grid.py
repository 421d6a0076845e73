"""A blob's 2D grid: its 1D encoding (R original rows) and the R extended rows derived from it
(`da.extension`; specs/das-core.md, "The 2D extension").

The 1D `EncodedBlob` is kept whole and unchanged (header, data root, rows, commitment branches), so
everything built on it keeps working; `ExtendedBlob` adds the extended rows and serves `GridSample`s
for any row 0..2R-1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from da.constants import CELLS_PER_ROW
from da.encoding import EncodedBlob, EncodedRow
from da.errors import InvalidKZGInput, MalformedSample
from da.extension import (
    check_row_count,
    compute_extended_column_cells,
    compute_extended_column_proofs,
    compute_extended_commitments,
)
from da.types import (
    BlobHeader,
    Cell,
    CellCoordinate,
    ColumnIndex,
    DataRoot,
    GridSample,
    KZGCommitment,
    KZGProof,
    RowIndex,
)

ExtendedColumn = tuple[tuple[Cell, ...], tuple[KZGProof, ...]]
"""One column's R extended cells and their proofs, rows R..2R-1 in order."""


def extend_rows(rows: Sequence[EncodedRow]) -> tuple[EncodedRow, ...]:
    """The R extended rows (commitment, 128 cells, 128 proofs) of R encoded original rows.

    The rows are taken as this process's own encoding (their points are not subgroup-checked again);
    raises `InvalidKZGInput` for a row count outside 1..64 or malformed cells or points.
    `da.pool.EncoderPool.extend_rows` spreads the columns over worker processes, same result."""
    check_extendable_rows(rows)
    columns = [extend_column(*column_of(rows, ColumnIndex(column))) for column in range(CELLS_PER_ROW)]
    return assemble_extended_rows(extend_commitments(rows), columns)


def check_extendable_rows(rows: Sequence[EncodedRow]) -> int:
    """R, if `rows` are 1..64 rows of 128 cells and 128 proofs each; else raises `InvalidKZGInput`."""
    count = check_row_count("extend_rows", len(rows))
    for index, row in enumerate(rows):
        if len(row.cells) != CELLS_PER_ROW or len(row.proofs) != CELLS_PER_ROW:
            raise InvalidKZGInput(
                "extend_rows", f"row {index} has {len(row.cells)} cells and {len(row.proofs)} proofs, not 128"
            )
    return count


def column_of(rows: Sequence[EncodedRow], column: ColumnIndex) -> tuple[list[Cell], list[KZGProof]]:
    """Column `column` of the original rows: its R cells and R proofs, row 0 first."""
    return [row.cells[column] for row in rows], [row.proofs[column] for row in rows]


def extend_column(cells: Sequence[Cell], proofs: Sequence[KZGProof]) -> ExtendedColumn:
    """One column's extended cells and proofs from its R original cells and this process's own (or
    verified) proofs: the unit of work `extend_rows` repeats 128 times (columns are independent)."""
    return (
        tuple(compute_extended_column_cells(cells)),
        tuple(compute_extended_column_proofs(proofs, verified=True)),
    )


def extend_commitments(rows: Sequence[EncodedRow]) -> list[KZGCommitment]:
    """The extended rows' commitments, derived from the original rows' own commitments."""
    return compute_extended_commitments([row.commitment for row in rows], verified=True)


def assemble_extended_rows(
    commitments: Sequence[KZGCommitment], columns: Sequence[ExtendedColumn]
) -> tuple[EncodedRow, ...]:
    """The R extended rows from their commitments and the 128 extended columns, column 0 first."""
    return tuple(
        EncodedRow(
            commitment=commitment,
            cells=tuple(cells[i] for cells, _ in columns),
            proofs=tuple(proofs[i] for _, proofs in columns),
        )
        for i, commitment in enumerate(commitments)
    )


@dataclass(frozen=True, slots=True)
class ExtendedBlob:
    """A blob's 2R x 128 grid: its 1D encoding (`blob`: header, data root, the R original rows and
    their commitment branches, unchanged) and the R extended rows with their derived commitments."""

    blob: EncodedBlob
    extended_rows: tuple[EncodedRow, ...]

    @property
    def data_root(self) -> DataRoot:
        """The blob's data root (a commitment to its R original rows)."""
        return self.blob.data_root

    @property
    def header(self) -> BlobHeader:
        """The blob's header: its R original row commitments."""
        return self.blob.header

    @property
    def row_count(self) -> int:
        """R: the original rows (the header's `row_count`)."""
        return len(self.blob.rows)

    @property
    def grid_rows(self) -> int:
        """2R: the rows of the grid."""
        return 2 * self.row_count

    def get_row(self, row: RowIndex) -> EncodedRow:
        """Row `row` of the grid (original below R, extended from R); raises `MalformedSample`
        outside 0..2R-1."""
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < self.grid_rows:
            raise MalformedSample(f"row {row!r} is outside the grid's rows 0..{self.grid_rows - 1}")
        if row < self.row_count:
            return self.blob.rows[row]
        return self.extended_rows[row - self.row_count]

    def get_sample(self, coordinate: CellCoordinate) -> GridSample:
        """The sample at `coordinate` of the 2R x 128 grid; raises `MalformedSample` outside it.

        It carries no commitment and no branch: its verifier takes the row's commitment from the
        header (or derives it from the header, for an extended row; `da.grid_samples`)."""
        column = coordinate.column
        if not isinstance(column, int) or isinstance(column, bool) or not 0 <= column < CELLS_PER_ROW:
            raise MalformedSample(f"column {column!r} is outside 0..{CELLS_PER_ROW - 1}")
        encoded = self.get_row(coordinate.row)
        return GridSample(
            row=coordinate.row, column=column, cell=encoded.cells[column], proof=encoded.proofs[column]
        )

    def get_samples(self, coordinates: Sequence[CellCoordinate]) -> list[GridSample]:
        """The samples at each coordinate, in order."""
        return [self.get_sample(coordinate) for coordinate in coordinates]

    def get_column(self, column: ColumnIndex) -> list[GridSample]:
        """Every grid row's sample in column `column`, row 0 first (2R samples)."""
        return [self.get_sample(CellCoordinate(RowIndex(row), column)) for row in range(self.grid_rows)]


def compute_extended_blob(blob: EncodedBlob) -> ExtendedBlob:
    """The 2D grid of an encoded blob (its own encoding: points are not subgroup-checked again)."""
    return ExtendedBlob(blob=blob, extended_rows=extend_rows(blob.rows))


__all__ = ["ExtendedBlob", "compute_extended_blob", "extend_rows"]
