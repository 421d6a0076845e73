"""Recovery in both dimensions: the R original rows of a blob from any sufficient subset of its
2R x 128 grid (specs/das-core.md, "The 2D extension", "Recovery").

Two decoders, applied until neither makes progress (a fixed point):

- a *column* with at least R of its 2R cells is decoded by Lagrange interpolation over the rows'
  positions x = 0..2R-1 (the scale s_i of each extended row divided out first and multiplied back
  after), natively (`da._scalar_field.combine_cells`): cheap, so columns go first;
- a *row* (original or extended: both are rows of the EIP-7594 code) with at least 64 of its 128
  cells is decoded by `recover_cells_and_kzg_proofs` (`da.recovery.recover_row`), one row at a time
  and only when no column can be decoded (a row costs about 0.25 s, a column well under 1 ms).

The loop stops as soon as every original row has 64 cells (`recover_row_bytes` then takes the
systematic half or interpolates). If it stalls first, `NotEnoughCells` names the original rows
still short and every column short of R cells. Cells handed in must be verified
(`da.grid_samples.verify_grid_samples`): recovery interpolates whatever it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

from da import _scalar_field
from da.constants import BYTES_PER_CELL, CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.errors import MalformedSample, NotEnoughCells
from da.header import validate_header
from da.kzg import CellRecoverer
from da.packing import unpack_rows
from da.recovery import recover_row, recover_row_bytes
from da.row_domain import BLS_MODULUS, RowDomain, compute_row_domain
from da.types import BlobHeader, Cell, CellCoordinate, ColumnIndex, RowBytes, RowIndex

GridCells = Mapping[CellCoordinate, Cell]
"""Verified cells of the grid, by coordinate (row 0..2R-1)."""


def recover_grid_rows(row_count: int, cells: GridCells, recoverer: CellRecoverer) -> list[RowBytes]:
    """The R original rows (packed, as `pack_blob` made them) from verified cells of the 2R x 128 grid.

    Raises `MalformedSample` for a coordinate outside the grid or a cell of the wrong size and
    `NotEnoughCells` when row and column decoding stall before every original row has 64 cells."""
    if not isinstance(row_count, int) or not 1 <= row_count <= MAX_ROWS_PER_BLOB:
        raise MalformedSample(f"row_count must be in 1..{MAX_ROWS_PER_BLOB}, got {row_count!r}")
    grid = _place(row_count, cells)
    domain = compute_row_domain(row_count)
    matrices: dict[tuple[tuple[int, ...], tuple[int, ...]], bytes] = {}  # this call's, at most 128
    while not _originals_complete(grid, row_count):
        if _decode_columns(grid, domain, matrices):
            continue
        if not _decode_one_row(grid, recoverer):
            raise _shortage(grid, row_count)
    return [recover_row_bytes(recoverer, RowIndex(row), grid[row]) for row in range(row_count)]


def recover_grid_blob(header: BlobHeader, cells: GridCells, recoverer: CellRecoverer) -> bytes:
    """The blob's bytes from verified cells of its grid (`recover_grid_rows`, then `unpack_rows`)."""
    validate_header(header)
    return unpack_rows(recover_grid_rows(header.row_count, cells, recoverer), header.byte_length)


def _place(row_count: int, cells: GridCells) -> list[dict[ColumnIndex, Cell]]:
    grid: list[dict[ColumnIndex, Cell]] = [{} for _ in range(2 * row_count)]
    for coordinate, cell in cells.items():
        row, column = coordinate.row, coordinate.column
        if not 0 <= row < 2 * row_count or not 0 <= column < CELLS_PER_ROW:
            raise MalformedSample(
                f"cell ({row}, {column}) is outside the {2 * row_count}x{CELLS_PER_ROW} grid"
            )
        if not isinstance(cell, bytes) or len(cell) != BYTES_PER_CELL:
            raise MalformedSample(f"cell ({row}, {column}) is not {BYTES_PER_CELL} bytes")
        grid[row][column] = cell
    return grid


def _originals_complete(grid: list[dict[ColumnIndex, Cell]], row_count: int) -> bool:
    return all(len(grid[row]) >= CELLS_NEEDED_TO_RECOVER_ROW for row in range(row_count))


def _decode_columns(
    grid: list[dict[ColumnIndex, Cell]],
    domain: RowDomain,
    matrices: dict[tuple[tuple[int, ...], tuple[int, ...]], bytes],
) -> bool:
    """Fill every column that has at least R and fewer than 2R cells; True iff any was filled."""
    row_count = domain.original_rows
    progress = False
    for c in range(CELLS_PER_ROW):
        column = ColumnIndex(c)
        present = [row for row in range(2 * row_count) if column in grid[row]]
        if len(present) < row_count or len(present) == 2 * row_count:
            continue
        known = tuple(present[:row_count])
        missing = tuple(row for row in range(2 * row_count) if column not in grid[row])
        matrix = matrices.get((known, missing))
        if matrix is None:
            matrix = matrices[(known, missing)] = _interpolation_matrix(domain, known, missing)
        combined = _scalar_field.combine_cells(b"".join(grid[row][column] for row in known), matrix)
        for index, row in enumerate(missing):
            grid[row][column] = Cell(combined[index * BYTES_PER_CELL : (index + 1) * BYTES_PER_CELL])
        progress = True
    return progress


def _decode_one_row(grid: list[dict[ColumnIndex, Cell]], recoverer: CellRecoverer) -> bool:
    """Complete the first grid row with at least 64 and fewer than 128 cells; True iff there was one.

    One at a time, columns first: a row decode (about 0.25 s of ckzg, proofs included) may give the
    columns what they lack, and column decodes cost far less."""
    for row, cells in enumerate(grid):
        if CELLS_NEEDED_TO_RECOVER_ROW <= len(cells) < CELLS_PER_ROW:
            recovered = recover_row(recoverer, RowIndex(row), cells)
            grid[row] = {ColumnIndex(column): cell for column, cell in enumerate(recovered)}
            return True
    return False


def _interpolation_matrix(domain: RowDomain, known: tuple[int, ...], missing: tuple[int, ...]) -> bytes:
    """Coefficients taking the stored cells at rows `known` (R of them) to those at rows `missing`,
    in the Montgomery form `combine_cells` takes: stored(y) = s(y) sum_j l_j(y) stored(x_j) / s(x_j),
    l_j the Lagrange basis over the positions of `known` and s the row's scale (1 for originals)."""
    p = BLS_MODULUS
    positions = [domain.position(row) for row in known]
    unscale = [1 if row < domain.original_rows else domain.field_scale_inverse(row) for row in known]
    weights = []  # 1 / prod_{m != j} (x_j - x_m) / s(x_j)
    for j, x_j in enumerate(positions):
        denominator = 1
        for m, x_m in enumerate(positions):
            if m != j:
                denominator *= x_j - x_m
        weights.append(pow(denominator % p, -1, p) * unscale[j] % p)
    values: list[int] = []
    for row in missing:
        y = domain.position(row)
        scale = 1 if row < domain.original_rows else pow(domain.field_scale_inverse(row), -1, p)
        whole = 1
        for x in positions:
            whole *= y - x
        whole = whole % p * scale % p
        values.extend(whole * pow((y - x_j) % p, -1, p) * weights[j] % p for j, x_j in enumerate(positions))
    return _scalar_field.to_montgomery(b"".join(v.to_bytes(32, "little") for v in values))


def _shortage(grid: list[dict[ColumnIndex, Cell]], row_count: int) -> NotEnoughCells:
    rows = {row: len(grid[row]) for row in range(row_count) if len(grid[row]) < CELLS_NEEDED_TO_RECOVER_ROW}
    columns = {}
    for column in range(CELLS_PER_ROW):
        count = sum(1 for cells in grid if ColumnIndex(column) in cells)
        if count < row_count:
            columns[column] = count
    return NotEnoughCells(rows, CELLS_NEEDED_TO_RECOVER_ROW, columns, row_count)


__all__ = ["GridCells", "recover_grid_blob", "recover_grid_rows"]
