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
    """Raised when rows cannot be rebuilt; `received` maps each short row to its cell count."""

    def __init__(self, received: Mapping[int, int], needed: int) -> None:
        listing = ", ".join(f"row {row}: {count}/{needed}" for row, count in sorted(received.items()))
        super().__init__(f"not enough cells to recover {len(received)} row(s) ({listing})")
        self._reduce_args = (dict(received), needed)
        self.received = dict(received)
        self.needed = needed

    @property
    def rows(self) -> list[int]:
        """The rows that lack cells, in ascending order."""
        return sorted(self.received)


class InvalidBlobEncoding(DAError):
    """Raised when rebuilt rows do not unpack to a canonical blob of the header's length."""


class EncoderPoolBroken(DAError):
    """Raised when an encoder worker process died (killed, out of memory) before finishing a row."""


class InvalidDataRoot(DAError):
    """Raised when text is not a data root: 32 bytes as 64 hex digits, with or without 0x."""

    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} is not a data root (32 bytes of hex: 0x + 64 digits)")
        self.text = text
