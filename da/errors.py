"""Typed errors of the DA layer: one root (`DAError`), one subclass per failure, each carrying its numbers."""

from __future__ import annotations

from collections.abc import Mapping


class DAError(Exception):
    """Root of every error raised by `da/`.

    Errors cross process boundaries (the encoder pool), so subclasses that take their own
    constructor arguments record them in `_reduce_args` for pickling.
    """

    _reduce_args: tuple[object, ...] | None = None

    def __reduce__(self) -> tuple[type[DAError], tuple[object, ...]]:
        return (type(self), self._reduce_args if self._reduce_args is not None else self.args)


class InvalidConfig(DAError):
    """Raised when a `DAConfig` field is out of range; names the field."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid DA config {field}={value!r}: {reason}")
        self._reduce_args = (field, value, reason)
        self.field = field
        self.value = value
        self.reason = reason


class EmptyBlob(DAError):
    """Raised when asked to encode a blob of zero bytes."""

    def __init__(self) -> None:
        super().__init__("blob is empty: a blob must hold at least 1 byte")
        self._reduce_args = ()


class BlobTooLarge(DAError):
    """Raised when a blob exceeds the configured `max_blob_bytes`."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"blob is {size} bytes, over the limit of {limit} bytes")
        self._reduce_args = (size, limit)
        self.size = size
        self.limit = limit


class MalformedHeader(DAError):
    """Raised when a blob header is inconsistent or its bytes do not decode."""


class MalformedSample(DAError):
    """Raised when a sample is structurally invalid (lengths, indices), as opposed to merely wrong."""


class InvalidKZGInput(DAError):
    """Raised when the KZG backend rejects its input (bad length, not a curve point, scalar >= modulus)."""

    def __init__(self, operation: str, detail: str) -> None:
        super().__init__(f"{operation}: {detail}")
        self._reduce_args = (operation, detail)
        self.operation = operation
        self.detail = detail


class NotEnoughCells(DAError):
    """Raised when rows cannot be rebuilt; `received` maps each short row to its cell count.

    From the 2D grid (`da.recovery2d`) the counts are those known at the fixed point of row and column
    decoding, and `columns` maps each column still short of `column_needed` (R) cells to its count;
    both are empty/0 for a 1D recovery."""

    def __init__(
        self,
        received: Mapping[int, int],
        needed: int,
        columns: Mapping[int, int] | None = None,
        column_needed: int = 0,
    ) -> None:
        listing = ", ".join(f"row {row}: {count}/{needed}" for row, count in sorted(received.items()))
        message = f"not enough cells to recover {len(received)} row(s) ({listing})"
        short_columns = dict(columns or {})
        if short_columns:
            column_listing = ", ".join(
                f"{_span(first, last)}: {count}/{column_needed}"
                for first, last, count in _runs(short_columns)
            )
            message += f"; {len(short_columns)} column(s) short of {column_needed} cells ({column_listing})"
        super().__init__(message)
        self._reduce_args = (dict(received), needed, short_columns, column_needed)
        self.received = dict(received)
        self.needed = needed
        self.columns = short_columns
        self.column_needed = column_needed

    @property
    def rows(self) -> list[int]:
        """The rows that lack cells, in ascending order."""
        return sorted(self.received)


def _runs(counts: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """Consecutive keys with equal counts as (first, last, count), so 65 short columns read as one."""
    runs: list[tuple[int, int, int]] = []
    for key, count in sorted(counts.items()):
        if runs and runs[-1][1] == key - 1 and runs[-1][2] == count:
            runs[-1] = (runs[-1][0], key, count)
        else:
            runs.append((key, key, count))
    return runs


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}..{last}"


class InvalidBlobEncoding(DAError):
    """Raised when rebuilt rows do not unpack to a canonical blob of the header's length."""


class EncoderPoolBroken(DAError):
    """Raised when an encoder worker process died (killed, out of memory) before finishing a row."""


class InvalidDataRoot(DAError):
    """Raised when text is not a data root: 32 bytes as 64 hex digits, with or without 0x."""

    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} is not a data root (32 bytes of hex: 0x + 64 digits)")
        self.text = text


class InvalidUpload(DAError):
    """Raised when a pre-encoded upload (`da.upload`) is refused: the root of the upload errors.

    `row` and `column` name the first bad row and cell when the failure has one (None otherwise)."""

    row: int | None = None
    column: int | None = None


class MalformedUpload(InvalidUpload):
    """Raised when an upload's bytes are not the format: wrong magic, an unknown version, or bytes
    after the blob."""


class UploadTruncated(InvalidUpload):
    """Raised when an upload is shorter than its own lengths say (`received` < `expected` bytes)."""

    def __init__(self, received: int, expected: int) -> None:
        super().__init__(f"upload is {received} bytes, its lengths need {expected}: truncated")
        self._reduce_args = (received, expected)
        self.received = received
        self.expected = expected


class RowCountMismatch(InvalidUpload):
    """Raised when an upload's row count is not the number of rows its byte length packs into."""

    def __init__(self, row_count: int, expected: int, byte_length: int) -> None:
        super().__init__(f"upload says {row_count} rows, but {byte_length} bytes pack into {expected} rows")
        self._reduce_args = (row_count, expected, byte_length)
        self.row_count = row_count
        self.expected = expected
        self.byte_length = byte_length


class DataRootMismatch(InvalidUpload):
    """Raised when the data root an upload claims is not the root of its header."""

    def __init__(self, claimed: bytes, computed: bytes) -> None:
        super().__init__(
            f"upload claims data root 0x{claimed.hex()}, its header hashes to 0x{computed.hex()}"
        )
        self._reduce_args = (claimed, computed)
        self.claimed = claimed
        self.computed = computed


class CommitmentMismatch(InvalidUpload):
    """Raised when an upload's commitment of row `row` is not the commitment to that row."""

    def __init__(self, row: int) -> None:
        super().__init__(f"the commitment of row {row} is not the row's commitment")
        self._reduce_args = (row,)
        self.row = row


class InvalidCellProof(InvalidUpload):
    """Raised when the proof of cell (`row`, `column`) does not prove that cell: the first such cell
    (lowest row, then lowest column)."""

    def __init__(self, row: int, column: int) -> None:
        super().__init__(f"the proof of cell ({row}, {column}) does not verify")
        self._reduce_args = (row, column)
        self.row = row
        self.column = column
