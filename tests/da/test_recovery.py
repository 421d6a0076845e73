"""Recovery from any half of each row, and exact reports of which rows lack cells."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import (
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    EncodedBlob,
    MalformedSample,
    NotEnoughCells,
    RowIndex,
    recover_blob,
    recover_row,
)
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from da.types import Cell
from tests.examples import examples

half_of_a_row = st.lists(
    st.integers(0, CELLS_PER_ROW - 1),
    min_size=CELLS_NEEDED_TO_RECOVER_ROW,
    max_size=CELLS_NEEDED_TO_RECOVER_ROW,
    unique=True,
)


def _subset(encoded: EncodedBlob, columns_per_row: list[list[int]]) -> dict[CellCoordinate, Cell]:
    return {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): encoded.rows[row].cells[column]
        for row, columns in enumerate(columns_per_row)
        for column in columns
    }


@settings(max_examples=examples(12, 0.4))
@given(columns_per_row=st.lists(half_of_a_row, min_size=2, max_size=2))
def test_recovery_from_random_half_of_every_row(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob], columns_per_row: list[list[int]]
) -> None:
    data, encoded = two_row_blob
    assert recover_blob(encoded.header, _subset(encoded, columns_per_row), kzg) == data


@settings(max_examples=examples(12, 0.4))
@given(columns=half_of_a_row)
def test_recover_row_rebuilds_all_cells(
    kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob], columns: list[int]
) -> None:
    _data, encoded = one_row_blob
    cells = {ColumnIndex(c): encoded.rows[0].cells[c] for c in columns}
    assert recover_row(kzg, RowIndex(0), cells) == list(encoded.rows[0].cells)


def test_short_rows_are_named_with_their_counts(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    cells = _subset(encoded, [list(range(63)), list(range(64, 128))])
    with pytest.raises(NotEnoughCells) as raised:
        recover_blob(encoded.header, cells, kzg)
    assert raised.value.received == {0: 63}
    assert raised.value.rows == [0]
    assert "row 0: 63/64" in str(raised.value)
    with pytest.raises(NotEnoughCells) as raised:
        recover_blob(encoded.header, {}, kzg)
    assert raised.value.received == {0: 0, 1: 0}


def test_cells_outside_the_matrix_are_malformed(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    cells = _subset(encoded, [list(range(64)), list(range(64))])
    cells[CellCoordinate(RowIndex(2), ColumnIndex(0))] = encoded.rows[0].cells[0]
    with pytest.raises(MalformedSample, match="outside the 2x128 matrix"):
        recover_blob(encoded.header, cells, kzg)
    with pytest.raises(MalformedSample, match="not 2048 bytes"):
        recover_row(kzg, RowIndex(0), {ColumnIndex(c): Cell(b"\x00") for c in range(64)})
