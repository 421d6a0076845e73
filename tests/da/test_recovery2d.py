"""Recovery from the 2R x 128 grid: recoverable erasure patterns rebuild the rows exactly, the minimum
unrecoverable pattern ((R+1) x 65 cells) raises `NotEnoughCells` naming what is missing.

Which patterns are recoverable is decided here independently of `da.recovery2d`: a plain peeling
over booleans (a row with >= 64 known cells, or a column with >= R, becomes fully known)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from da import (
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    EncodedBlob,
    ExtendedBlob,
    MalformedSample,
    NotEnoughCells,
    RowIndex,
    compute_extended_blob,
    recover_grid_blob,
    recover_grid_rows,
)
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.types import Cell, RowBytes
from tests.examples import examples

Pattern = frozenset[tuple[int, int]]
"""Withheld (row, column) pairs."""


def _known(grid: ExtendedBlob, withheld: Pattern) -> dict[CellCoordinate, Cell]:
    return {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): grid.get_row(RowIndex(row)).cells[column]
        for row in range(grid.grid_rows)
        for column in range(CELLS_PER_ROW)
        if (row, column) not in withheld
    }


def _originals(grid: ExtendedBlob) -> list[RowBytes]:
    return [RowBytes(b"".join(row.cells[:CELLS_NEEDED_TO_RECOVER_ROW])) for row in grid.blob.rows]


def _peel(row_count: int, withheld: Pattern) -> list[int]:
    """The original rows a row-and-column peeling leaves with fewer than 64 cells (empty: recoverable)."""
    known = [
        [(row, column) not in withheld for column in range(CELLS_PER_ROW)] for row in range(2 * row_count)
    ]
    changed = True
    while changed and any(sum(known[row]) < CELLS_NEEDED_TO_RECOVER_ROW for row in range(row_count)):
        changed = False
        for row in range(2 * row_count):
            if CELLS_NEEDED_TO_RECOVER_ROW <= sum(known[row]) < CELLS_PER_ROW:
                known[row] = [True] * CELLS_PER_ROW
                changed = True
        for column in range(CELLS_PER_ROW):
            present = sum(known[row][column] for row in range(2 * row_count))
            if row_count <= present < 2 * row_count:
                for row in range(2 * row_count):
                    known[row][column] = True
                changed = True
    return [row for row in range(row_count) if sum(known[row]) < CELLS_NEEDED_TO_RECOVER_ROW]


def _rectangle(rows: range | list[int], columns: range | list[int]) -> Pattern:
    return frozenset((row, column) for row in rows for column in columns)


@pytest.mark.parametrize("row_count", [1, 2, 8, 9, pytest.param(33, marks=pytest.mark.slow)])
def test_the_minimum_unrecoverable_pattern_names_what_is_missing(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], row_count: int
) -> None:
    """(R+1) x 65 withheld: those rows keep 63 cells, those columns R-1: nothing can be decoded."""
    grid = make_grid(row_count)
    withheld = _rectangle(range(row_count + 1), range(65))
    with pytest.raises(NotEnoughCells) as raised:
        recover_grid_rows(row_count, _known(grid, withheld), kzg)
    error = raised.value
    assert error.received == dict.fromkeys(range(row_count), 63)
    assert error.needed == CELLS_NEEDED_TO_RECOVER_ROW
    assert error.columns == dict.fromkeys(range(65), row_count - 1)
    assert error.column_needed == row_count
    assert f"65 column(s) short of {row_count} cells (0..64: {row_count - 1}/{row_count})" in str(error)


@pytest.mark.parametrize("row_count", [2, 9, pytest.param(33, marks=pytest.mark.slow)])
@pytest.mark.parametrize(("withheld_rows", "withheld_columns"), [(0, 65), (1, 64)])
def test_one_cell_row_or_column_less_recovers(
    kzg: CkzgBackend,
    make_grid: Callable[[int], ExtendedBlob],
    row_count: int,
    withheld_rows: int,
    withheld_columns: int,
) -> None:
    """R x 65 (columns decode) and (R+1) x 64 (a row decodes, then the columns) both recover."""
    grid = make_grid(row_count)
    withheld = _rectangle(range(row_count + withheld_rows), range(withheld_columns))
    assert recover_grid_rows(row_count, _known(grid, withheld), kzg) == _originals(grid)


@pytest.mark.parametrize(
    "row_count", [2, pytest.param(9, marks=pytest.mark.slow), pytest.param(33, marks=pytest.mark.slow)]
)
def test_the_extended_half_of_half_the_columns_recovers(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], row_count: int
) -> None:
    """A minimum recoverable set with no systematic shortcut: rows R..2R-1, columns 64..127 only."""
    grid = make_grid(row_count)
    withheld = _rectangle(range(row_count), range(CELLS_PER_ROW)) | _rectangle(
        range(row_count, 2 * row_count), range(64)
    )
    assert recover_grid_rows(row_count, _known(grid, withheld), kzg) == _originals(grid)


@settings(max_examples=examples(30, 0.5))
@given(data=st.data(), row_count=st.sampled_from([1, 2, 8, 9]))
def test_any_placement_of_the_minimum_pattern_is_unrecoverable(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], data: st.DataObject, row_count: int
) -> None:
    rows = data.draw(
        st.lists(
            st.integers(0, 2 * row_count - 1), min_size=row_count + 1, max_size=row_count + 1, unique=True
        )
    )
    columns = data.draw(st.lists(st.integers(0, CELLS_PER_ROW - 1), min_size=65, max_size=65, unique=True))
    withheld = _rectangle(rows, columns)
    short = _peel(row_count, withheld)
    assert short
    with pytest.raises(NotEnoughCells) as raised:
        recover_grid_rows(row_count, _known(make_grid(row_count), withheld), kzg)
    assert raised.value.rows == short


@st.composite
def erasure_patterns(draw: st.DrawFn, row_count: int) -> Pattern:
    """A withheld rectangle of random rows and columns near the threshold, plus scattered cells."""
    rows = draw(st.lists(st.integers(0, 2 * row_count - 1), max_size=2 * row_count, unique=True))
    columns = draw(st.lists(st.integers(0, CELLS_PER_ROW - 1), min_size=55, max_size=75, unique=True))
    scattered = draw(
        st.lists(st.tuples(st.integers(0, 2 * row_count - 1), st.integers(0, CELLS_PER_ROW - 1)), max_size=40)
    )
    return _rectangle(rows, columns) | frozenset(scattered)


@pytest.mark.parametrize("row_count", [2, pytest.param(9, marks=pytest.mark.slow)])
@settings(max_examples=examples(20, 0.3))
@given(data=st.data())
def test_recoverable_patterns_recover_exactly_and_others_name_their_rows(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob], data: st.DataObject, row_count: int
) -> None:
    grid = make_grid(row_count)
    withheld = data.draw(erasure_patterns(row_count))
    short = _peel(row_count, withheld)
    event("recoverable" if not short else "unrecoverable")
    if short:
        with pytest.raises(NotEnoughCells) as raised:
            recover_grid_rows(row_count, _known(grid, withheld), kzg)
        assert raised.value.rows == short
    else:
        assert recover_grid_rows(row_count, _known(grid, withheld), kzg) == _originals(grid)


def test_a_blob_is_rebuilt_from_its_extended_rows(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, blob = two_row_blob
    grid = compute_extended_blob(blob)
    withheld = _rectangle(range(2), range(CELLS_PER_ROW))  # every original cell
    assert recover_grid_blob(blob.header, _known(grid, withheld), kzg) == data


def test_cells_outside_the_grid_are_malformed(
    kzg: CkzgBackend, make_grid: Callable[[int], ExtendedBlob]
) -> None:
    grid = make_grid(1)
    cell = grid.blob.rows[0].cells[0]
    with pytest.raises(MalformedSample, match="outside"):
        recover_grid_rows(1, {CellCoordinate(RowIndex(2), ColumnIndex(0)): cell}, kzg)
    with pytest.raises(MalformedSample, match="2048 bytes"):
        recover_grid_rows(1, {CellCoordinate(RowIndex(1), ColumnIndex(0)): Cell(cell[:5])}, kzg)
    with pytest.raises(MalformedSample, match=r"row_count must be in 1\.\.512, got 513"):
        recover_grid_rows(MAX_ROWS_PER_BLOB + 1, {}, kzg)


def test_not_enough_cells_keeps_its_one_dimensional_form_and_pickles() -> None:
    one_d = NotEnoughCells({3: 10}, 64)
    assert str(one_d) == "not enough cells to recover 1 row(s) (row 3: 10/64)"
    assert one_d.columns == {}
    two_d = NotEnoughCells({0: 63}, 64, {5: 1, 6: 1, 9: 0}, 2)
    copy = pickle.loads(pickle.dumps(two_d))
    assert (copy.received, copy.needed, copy.columns, copy.column_needed) == (
        {0: 63},
        64,
        {5: 1, 6: 1, 9: 0},
        2,
    )
    assert str(copy) == str(two_d)
    assert "3 column(s) short of 2 cells (5..6: 1/2, 9: 0/2)" in str(two_d)
