"""The packing rule: blob bytes <-> rows of canonical field elements (31 data bytes per element).

Every 32-byte field element is a zero byte followed by 31 blob bytes, so it is always below the
BLS12-381 scalar modulus; the blob is prefixed with its length (uint64, little-endian) and the last
row is zero-padded. Unpacking accepts only the canonical form, so one blob has exactly one packing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from da.config import DAConfig
from da.constants import (
    BYTES_PER_FIELD_ELEMENT,
    BYTES_PER_ROW,
    LENGTH_PREFIX_BYTES,
    MAX_SUPPORTED_BLOB_BYTES,
    USABLE_BYTES_PER_FIELD_ELEMENT,
    USABLE_BYTES_PER_ROW,
)
from da.errors import BlobTooLarge, EmptyBlob, InvalidBlobEncoding
from da.row_count import compute_row_count
from da.types import RowBytes


def validate_blob_size(byte_length: int, config: DAConfig) -> None:
    """Raise `EmptyBlob` or `BlobTooLarge` unless 1 <= byte_length <= config.max_blob_bytes."""
    if byte_length == 0:
        raise EmptyBlob
    if byte_length > config.max_blob_bytes:
        raise BlobTooLarge(byte_length, config.max_blob_bytes)


def pack_blob(data: bytes, config: DAConfig) -> list[RowBytes]:
    """Pack blob bytes into rows of 4096 canonical field elements (EIP-4844 blobs)."""
    validate_blob_size(len(data), config.validate())
    row_count = compute_row_count(len(data))
    payload = np.zeros(row_count * USABLE_BYTES_PER_ROW, dtype=np.uint8)
    payload[:LENGTH_PREFIX_BYTES] = np.frombuffer(
        len(data).to_bytes(LENGTH_PREFIX_BYTES, "little"), dtype=np.uint8
    )
    payload[LENGTH_PREFIX_BYTES : LENGTH_PREFIX_BYTES + len(data)] = np.frombuffer(data, dtype=np.uint8)
    element_count = payload.size // USABLE_BYTES_PER_FIELD_ELEMENT
    elements = np.zeros((element_count, BYTES_PER_FIELD_ELEMENT), dtype=np.uint8)
    elements[:, 1:] = payload.reshape(-1, USABLE_BYTES_PER_FIELD_ELEMENT)
    flat = elements.tobytes()
    return [RowBytes(flat[i : i + BYTES_PER_ROW]) for i in range(0, len(flat), BYTES_PER_ROW)]


def unpack_rows(rows: list[RowBytes], byte_length: int) -> bytes:
    """Invert `pack_blob`: check the rows are the canonical packing of `byte_length` bytes, return them.

    Raises `InvalidBlobEncoding` if the row count, a field element's top byte, the length prefix or
    the padding is not what `pack_blob` would have produced.
    """
    unpacker = BlobUnpacker(byte_length)
    if len(rows) != unpacker.row_count:
        raise InvalidBlobEncoding(f"{len(rows)} rows given, {unpacker.row_count} expected")
    unpacker.add(rows)
    return unpacker.finish()


class BlobUnpacker:
    """`unpack_rows` a window of rows at a time, in order: it holds the blob's bytes so far, never the
    packed rows already added (a reader rebuilding a large blob keeps one window of cells at once).
    Every check of `unpack_rows` is made, each as soon as its bytes arrive."""

    def __init__(self, byte_length: int) -> None:
        if not 1 <= byte_length <= MAX_SUPPORTED_BLOB_BYTES:
            raise InvalidBlobEncoding(f"byte length {byte_length} is outside the supported range")
        self.byte_length = byte_length
        self.row_count = compute_row_count(byte_length)
        self.rows_added = 0
        self._data = bytearray()

    def add(self, rows: Sequence[RowBytes]) -> None:
        """Check and unpack the next rows; raises `InvalidBlobEncoding` (then nothing is added)."""
        if self.rows_added + len(rows) > self.row_count:
            raise InvalidBlobEncoding(f"{self.rows_added + len(rows)} rows given, {self.row_count} expected")
        for offset, row in enumerate(rows):
            if len(row) != BYTES_PER_ROW:
                index = self.rows_added + offset
                raise InvalidBlobEncoding(f"row {index} is {len(row)} bytes, {BYTES_PER_ROW} expected")
        if not rows:
            return
        elements = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, BYTES_PER_FIELD_ELEMENT)
        if elements[:, 0].any():
            raise InvalidBlobEncoding("a field element has a non-zero top byte")
        payload = elements[:, 1:].tobytes()
        if self.rows_added == 0:
            prefix = int.from_bytes(payload[:LENGTH_PREFIX_BYTES], "little")
            if prefix != self.byte_length:
                raise InvalidBlobEncoding(
                    f"length prefix says {prefix} bytes, header says {self.byte_length}"
                )
            payload = payload[LENGTH_PREFIX_BYTES:]
        keep = self.byte_length - len(self._data)
        padding = payload[keep:]
        if padding.count(0) != len(padding):
            raise InvalidBlobEncoding("padding after the blob is not zero")
        self._data += payload[:keep]
        self.rows_added += len(rows)

    def finish(self) -> bytes:
        """The blob's bytes once every row was added; raises `InvalidBlobEncoding` before."""
        if self.rows_added != self.row_count:
            raise InvalidBlobEncoding(f"{self.rows_added} rows given, {self.row_count} expected")
        return bytes(self._data)
