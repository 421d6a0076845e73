"""The blob header as an SSZ container: data root, commitment branches, and its byte codec."""

from remerkleable.basic import uint64
from remerkleable.byte_arrays import Bytes48
from remerkleable.complex import Container, List

from da.constants import (
    BYTES_PER_COMMITMENT,
    BYTES_PER_ROOT,
    COMMITMENT_BRANCH_DEPTH,
    MAX_ROWS_PER_BLOB,
    MAX_SUPPORTED_BLOB_BYTES,
)
from da.errors import InvalidDataRoot, MalformedHeader
from da.merkle import get_commitment_gindex
from da.row_count import compute_row_count
from da.types import BlobHeader, Bytes32, DataRoot, KZGCommitment, RowIndex

MAX_HEADER_BYTES = 8 + 8 + 4 + MAX_ROWS_PER_BLOB * BYTES_PER_COMMITMENT
"""Largest SSZ encoding of a `BlobHeader` (two uint64, one offset, the commitments)."""


class BlobHeaderSSZ(Container):  # type: ignore[misc]
    """SSZ form of `BlobHeader`; its hash_tree_root is the data root."""

    byte_length: uint64
    row_count: uint64
    row_commitments: List[Bytes48, MAX_ROWS_PER_BLOB]


def validate_header(header: BlobHeader) -> None:
    """Raise `MalformedHeader` unless the header is self-consistent (types, lengths, counts, limits)."""
    if not isinstance(header, BlobHeader):
        raise MalformedHeader(f"expected a BlobHeader, got {type(header).__name__}")
    for name in ("byte_length", "row_count"):
        value = getattr(header, name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise MalformedHeader(f"{name} must be an integer, got {type(value).__name__}")
    if not isinstance(header.row_commitments, tuple):
        raise MalformedHeader("row_commitments must be a tuple")
    if not 1 <= header.byte_length <= MAX_SUPPORTED_BLOB_BYTES:
        raise MalformedHeader(f"byte_length {header.byte_length} is outside 1..{MAX_SUPPORTED_BLOB_BYTES}")
    expected_rows = compute_row_count(header.byte_length)
    if header.row_count != expected_rows:
        raise MalformedHeader(
            f"row_count {header.row_count} does not match byte_length (needs {expected_rows} rows)"
        )
    if len(header.row_commitments) != header.row_count:
        raise MalformedHeader(f"{len(header.row_commitments)} row commitments for {header.row_count} rows")
    for row, commitment in enumerate(header.row_commitments):
        if not isinstance(commitment, bytes) or len(commitment) != BYTES_PER_COMMITMENT:
            raise MalformedHeader(f"commitment of row {row} is not {BYTES_PER_COMMITMENT} bytes")


def _to_ssz(header: BlobHeader) -> BlobHeaderSSZ:
    validate_header(header)
    return BlobHeaderSSZ(
        byte_length=header.byte_length,
        row_count=header.row_count,
        row_commitments=[Bytes48(commitment) for commitment in header.row_commitments],
    )


def compute_data_root(header: BlobHeader) -> DataRoot:
    """The data root: SSZ `hash_tree_root` of the header."""
    return DataRoot(bytes(_to_ssz(header).hash_tree_root()))


def compute_commitment_branches(header: BlobHeader) -> list[tuple[Bytes32, ...]]:
    """For every row, the Merkle branch (leaf to root) of its commitment under the data root."""
    backing = _to_ssz(header).get_backing()
    branches = []
    for row in range(header.row_count):
        gindex = get_commitment_gindex(RowIndex(row))
        siblings: list[Bytes32] = []
        for level in range(COMMITMENT_BRANCH_DEPTH):
            node_gindex = gindex >> level
            siblings.append(Bytes32(bytes(backing.getter(node_gindex ^ 1).merkle_root())))
        branches.append(tuple(siblings))
    return branches


def hex_to_data_root(text: str) -> DataRoot:
    """The one parser of data roots typed by people or put in URLs: 64 hex digits, with or without
    0x (surrounding whitespace ignored); raises `InvalidDataRoot`."""
    digits = text.strip().removeprefix("0x").removeprefix("0X")
    try:
        root = bytes.fromhex(digits)
    except ValueError:
        root = b""
    if len(root) != BYTES_PER_ROOT or len(digits) != 2 * BYTES_PER_ROOT:
        raise InvalidDataRoot(text)
    return DataRoot(root)


def header_to_bytes(header: BlobHeader) -> bytes:
    """SSZ encoding of a header."""
    return bytes(_to_ssz(header).encode_bytes())


HEADER_FIXED_BYTES = 8 + 8 + 4
"""The fixed part of a header's SSZ encoding: two uint64 and the offset of `row_commitments`."""


def bytes_to_header(data: bytes) -> BlobHeader:
    """Decode and validate an SSZ header from untrusted bytes; raises `MalformedHeader`.

    Decoded by hand (the layout is fixed) so that every malformed input maps to one typed error.
    """
    if not isinstance(data, bytes):
        raise MalformedHeader(f"header must be bytes, got {type(data).__name__}")
    if not HEADER_FIXED_BYTES <= len(data) <= MAX_HEADER_BYTES:
        raise MalformedHeader(
            f"header is {len(data)} bytes, expected {HEADER_FIXED_BYTES}..{MAX_HEADER_BYTES}"
        )
    offset = int.from_bytes(data[16:HEADER_FIXED_BYTES], "little")
    if offset != HEADER_FIXED_BYTES:
        raise MalformedHeader(f"row_commitments offset is {offset}, expected {HEADER_FIXED_BYTES}")
    commitments = data[HEADER_FIXED_BYTES:]
    if len(commitments) % BYTES_PER_COMMITMENT:
        raise MalformedHeader(f"{len(commitments)} commitment bytes is not a multiple of 48")
    header = BlobHeader(
        byte_length=int.from_bytes(data[0:8], "little"),
        row_count=int.from_bytes(data[8:16], "little"),
        row_commitments=tuple(
            KZGCommitment(commitments[i : i + BYTES_PER_COMMITMENT])
            for i in range(0, len(commitments), BYTES_PER_COMMITMENT)
        ),
    )
    validate_header(header)
    return header
