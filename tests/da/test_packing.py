"""The packing rule: canonical field elements, length prefix, row boundaries, size limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from da import BlobTooLarge, DAConfig, EmptyBlob, InvalidBlobEncoding, InvalidConfig
from da.constants import (
    BYTES_PER_FIELD_ELEMENT,
    BYTES_PER_ROW,
    DEFAULT_MAX_BLOB_BYTES,
    LENGTH_PREFIX_BYTES,
    MAX_SUPPORTED_BLOB_BYTES,
    USABLE_BYTES_PER_ROW,
)
from da.packing import pack_blob, unpack_rows
from da.row_count import compute_row_count
from da.types import RowBytes

ONE_ROW_MAX = USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES


@given(st.binary(min_size=1, max_size=3 * USABLE_BYTES_PER_ROW))
def test_pack_unpack_round_trip(data: bytes) -> None:
    rows = pack_blob(data, DAConfig())
    assert len(rows) == compute_row_count(len(data))
    assert all(len(row) == BYTES_PER_ROW for row in rows)
    assert all(row[i] == 0 for row in rows for i in range(0, BYTES_PER_ROW, BYTES_PER_FIELD_ELEMENT))
    assert unpack_rows(rows, len(data)) == data


@pytest.mark.parametrize(
    ("size", "rows"),
    [
        (1, 1),
        (ONE_ROW_MAX, 1),
        (ONE_ROW_MAX + 1, 2),
        (2 * USABLE_BYTES_PER_ROW - 8, 2),
        (2 * 1024 * 1024, 17),
        (DEFAULT_MAX_BLOB_BYTES, 265),
        (MAX_SUPPORTED_BLOB_BYTES, 512),
    ],
)
def test_row_boundaries(size: int, rows: int) -> None:
    assert compute_row_count(size) == rows
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    config = DAConfig(max_blob_bytes=MAX_SUPPORTED_BLOB_BYTES)
    packed = pack_blob(data, config)
    assert len(packed) == rows
    assert unpack_rows(packed, size) == data


def test_empty_blob_is_rejected() -> None:
    with pytest.raises(EmptyBlob, match="empty"):
        pack_blob(b"", DAConfig())


def test_oversize_blob_names_size_and_limit() -> None:
    config = DAConfig(max_blob_bytes=1000)
    with pytest.raises(BlobTooLarge) as raised:
        pack_blob(bytes(1001), config)
    assert (raised.value.size, raised.value.limit) == (1001, 1000)
    assert pack_blob(bytes(1000), config)


@pytest.mark.parametrize("bad", [0, -5, MAX_SUPPORTED_BLOB_BYTES + 1])
def test_config_validation_names_the_field(bad: int) -> None:
    with pytest.raises(InvalidConfig) as raised:
        DAConfig(max_blob_bytes=bad).validate()
    assert raised.value.field == "max_blob_bytes"


def _corrupt(row: RowBytes, offset: int, value: int) -> RowBytes:
    return RowBytes(row[:offset] + bytes([value]) + row[offset + 1 :])


def test_non_canonical_rows_are_rejected() -> None:
    data = b"tessera"
    (row,) = pack_blob(data, DAConfig())
    with pytest.raises(InvalidBlobEncoding, match="top byte"):
        unpack_rows([_corrupt(row, 64, 1)], len(data))
    with pytest.raises(InvalidBlobEncoding, match="padding"):
        unpack_rows([_corrupt(row, BYTES_PER_ROW - 1, 1)], len(data))
    with pytest.raises(InvalidBlobEncoding, match="length prefix"):
        unpack_rows([row], len(data) + 1)
    with pytest.raises(InvalidBlobEncoding, match="rows given"):
        unpack_rows([row, row], len(data))
    with pytest.raises(InvalidBlobEncoding, match="bytes, 131072 expected"):
        unpack_rows([RowBytes(row[:-1])], len(data))
