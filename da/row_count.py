"""How many rows a blob packs into: the packing rule's arithmetic (specs/das-core.md,
`compute_row_count`), apart from `da.packing` so headers and light clients need not import numpy."""

from da.constants import LENGTH_PREFIX_BYTES, USABLE_BYTES_PER_ROW


def compute_row_count(byte_length: int) -> int:
    """Number of rows a blob of `byte_length` bytes packs into (length prefix included)."""
    return -(-(byte_length + LENGTH_PREFIX_BYTES) // USABLE_BYTES_PER_ROW)
