"""Recovery: rebuild rows from any half of their cells, and the original blob bytes from rows.

Cells handed to recovery must already be verified against the header's commitments (for example
with `verify_samples`): recovery interpolates whatever it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

from da.constants import BYTES_PER_CELL, CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from da.errors import MalformedSample, NotEnoughCells
from da.header import validate_header
from da.kzg import CellRecoverer
from da.packing import unpack_rows
from da.types import BlobHeader, Cell, CellCoordinate, ColumnIndex, RowBytes, RowIndex

RowCells = Mapping[ColumnIndex, Cell]
"""The cells known for one row, by column."""


def recover_row(recoverer: CellRecoverer, row: RowIndex, cells: RowCells) -> list[Cell]:
    """All 128 cells of a row from at least 64 of them; raises `NotEnoughCells` with fewer."""
    _validate_row_cells(row, cells)
    if len(cells) < CELLS_NEEDED_TO_RECOVER_ROW:
        raise NotEnoughCells({row: len(cells)}, CELLS_NEEDED_TO_RECOVER_ROW)
    if len(cells) == CELLS_PER_ROW:
        return [cells[ColumnIndex(column)] for column in range(CELLS_PER_ROW)]
    columns = sorted(cells)
    recovered, _proofs = recoverer.recover_cells_and_proofs(columns, [cells[c] for c in columns])
    return recovered


def recover_row_bytes(recoverer: CellRecoverer, row: RowIndex, cells: RowCells) -> RowBytes:
    """The packed row (an EIP-4844 blob) from at least 64 of its cells.

    The extension is systematic: cells 0..63 are the row itself, so no interpolation is needed when
    they are all present.
    """
    _validate_row_cells(row, cells)
    systematic = [ColumnIndex(column) for column in range(CELLS_NEEDED_TO_RECOVER_ROW)]
    if all(column in cells for column in systematic):
        return RowBytes(b"".join(cells[column] for column in systematic))
    return RowBytes(b"".join(recover_row(recoverer, row, cells)[:CELLS_NEEDED_TO_RECOVER_ROW]))


def group_cells_by_row(
    header: BlobHeader, cells: Mapping[CellCoordinate, Cell]
) -> list[dict[ColumnIndex, Cell]]:
    """Split cells into rows, checking that every row can be rebuilt.

    Raises `MalformedSample` for a coordinate outside the header's matrix and `NotEnoughCells`
    naming every row that has fewer than 64 cells.
    """
    validate_header(header)
    rows: list[dict[ColumnIndex, Cell]] = [{} for _ in range(header.row_count)]
    for coordinate, cell in cells.items():
        if not 0 <= coordinate.row < header.row_count or not 0 <= coordinate.column < CELLS_PER_ROW:
            raise MalformedSample(
                f"cell ({coordinate.row}, {coordinate.column}) is outside the "
                f"{header.row_count}x{CELLS_PER_ROW} matrix"
            )
        rows[coordinate.row][coordinate.column] = cell
    short = {
        row: len(row_cells)
        for row, row_cells in enumerate(rows)
        if len(row_cells) < CELLS_NEEDED_TO_RECOVER_ROW
    }
    if short:
        raise NotEnoughCells(short, CELLS_NEEDED_TO_RECOVER_ROW)
    return rows


def recover_blob(header: BlobHeader, cells: Mapping[CellCoordinate, Cell], recoverer: CellRecoverer) -> bytes:
    """The original blob bytes from any cells holding at least 64 per row (serially)."""
    rows = group_cells_by_row(header, cells)
    packed = [recover_row_bytes(recoverer, RowIndex(row), row_cells) for row, row_cells in enumerate(rows)]
    return unpack_rows(packed, header.byte_length)


def _validate_row_cells(row: RowIndex, cells: RowCells) -> None:
    for column, cell in cells.items():
        if not isinstance(column, int) or isinstance(column, bool) or not 0 <= column < CELLS_PER_ROW:
            raise MalformedSample(f"row {row}: column {column} is outside [0, {CELLS_PER_ROW})")
        if not isinstance(cell, bytes) or len(cell) != BYTES_PER_CELL:
            raise MalformedSample(f"row {row}: cell {column} is not {BYTES_PER_CELL} bytes")
