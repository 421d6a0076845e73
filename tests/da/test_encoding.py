"""Encoding round trips: blob -> cells -> (half the cells) -> the same bytes, at every size class."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import (
    BlobTooLarge,
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    DAConfig,
    EmptyBlob,
    RowIndex,
    compute_data_root,
    encode_blob,
    recover_blob,
    verify_samples,
)
from da.constants import (
    CELLS_PER_ROW,
    DEFAULT_MAX_BLOB_BYTES,
    LENGTH_PREFIX_BYTES,
    USABLE_BYTES_PER_ROW,
)
from da.types import Cell
from tests.examples import examples

ONE_ROW_MAX = USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES


def _odd_columns(encoded_rows: int, cells: list[tuple[Cell, ...]]) -> dict[CellCoordinate, Cell]:
    """Every odd column: half of each row, none of the systematic half intact."""
    return {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): cells[row][column]
        for row in range(encoded_rows)
        for column in range(1, CELLS_PER_ROW, 2)
    }


def _round_trip(kzg: CkzgBackend, data: bytes) -> None:
    encoded = encode_blob(data, kzg)
    assert encoded.data_root == compute_data_root(encoded.header)
    assert encoded.header.byte_length == len(data)
    cells = [row.cells for row in encoded.rows]
    assert recover_blob(encoded.header, _odd_columns(len(cells), cells), kzg) == data
    last = CellCoordinate(RowIndex(len(cells) - 1), ColumnIndex(CELLS_PER_ROW - 1))
    assert verify_samples(encoded.data_root, encoded.get_samples([last]), kzg)


@pytest.mark.parametrize(
    "size", [1, 31, ONE_ROW_MAX, ONE_ROW_MAX + 1], ids=["1-byte", "31-bytes", "row-full", "row-plus-1"]
)
def test_round_trip_at_boundaries(kzg: CkzgBackend, size: int) -> None:
    _round_trip(kzg, random.Random(size).randbytes(size))


def test_round_trip_at_17_rows(kzg: CkzgBackend) -> None:
    data = random.Random(2).randbytes(2 * 1024 * 1024)
    encoded = encode_blob(data, kzg)
    assert encoded.header.row_count == 17
    # Keep only the parity half of every row; recovery must interpolate all 17 rows.
    cells = [row.cells for row in encoded.rows]
    assert recover_blob(encoded.header, _odd_columns(17, cells), kzg) == data


@pytest.mark.slow
def test_round_trip_at_max_size(kzg: CkzgBackend) -> None:
    """Slow suite: the default limit, 32 MiB in 265 rows (about 100 s of FK20 on one core)."""
    data = random.Random(2).randbytes(DEFAULT_MAX_BLOB_BYTES)
    encoded = encode_blob(data, kzg)
    assert encoded.header.row_count == 265
    cells = [row.cells for row in encoded.rows]
    assert recover_blob(encoded.header, _odd_columns(265, cells), kzg) == data


@settings(max_examples=examples(6, 0.2))
@given(size=st.integers(min_value=1, max_value=2 * USABLE_BYTES_PER_ROW), seed=st.integers(0, 2**32))
def test_round_trip_random_sizes(kzg: CkzgBackend, size: int, seed: int) -> None:
    _round_trip(kzg, random.Random(seed).randbytes(size))


def test_empty_and_oversize_blobs_are_rejected(kzg: CkzgBackend) -> None:
    with pytest.raises(EmptyBlob):
        encode_blob(b"", kzg)
    with pytest.raises(BlobTooLarge) as raised:
        encode_blob(bytes(DEFAULT_MAX_BLOB_BYTES + 1), kzg)
    assert raised.value.limit == DEFAULT_MAX_BLOB_BYTES
    with pytest.raises(BlobTooLarge):
        encode_blob(bytes(101), kzg, DAConfig(max_blob_bytes=100))


def test_encoding_is_deterministic_and_reports_progress(kzg: CkzgBackend) -> None:
    data = random.Random(9).randbytes(ONE_ROW_MAX + 10)
    seen: list[tuple[int, int]] = []
    first = encode_blob(data, kzg, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]
    assert encode_blob(data, kzg) == first
    assert encode_blob(data + b"\x00", kzg).data_root != first.data_root


@pytest.mark.slow
@settings(max_examples=examples(17, 0.5))
@given(rows=st.integers(min_value=1, max_value=17), seed=st.integers(0, 2**32))
def test_round_trip_every_row_count(kzg: CkzgBackend, rows: int, seed: int) -> None:
    """Slow suite: random sizes across every row count up to 17 (2 MiB)."""
    chooser = random.Random(seed)
    low = (rows - 1) * USABLE_BYTES_PER_ROW
    high = rows * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES
    size = chooser.randint(low, high)
    _round_trip(kzg, chooser.randbytes(max(size, 1)))
