"""The blob header as an SSZ container: data root, commitment branches, and its byte codec."""


from remerkleable.basic import uint64
from remerkleable.byte_arrays import Bytes48
from remerkleable.complex import Container, List

from da.constants import (
    BYTES_PER_COMMITMENT,
    COMMITMENT_BRANCH_DEPTH,
    MAX_ROWS_PER_BLOB,
    MAX_SUPPORTED_BLOB_BYTES,
)
from da.errors import MalformedHeader
from da.merkle import get_commitment_gindex
from da.packing import compute_row_count
from da.types import BlobHeader, Bytes32, DataRoot, KZGCommitment, RowIndex

MAX_HEADER_BYTES = 8 + 8 + 4 + MAX_ROWS_PER_BLOB * BYTES_PER_COMMITMENT
"""Largest SSZ encoding of a `BlobHeader` (two uint64, one offset, the commitments)."""


class BlobHeaderSSZ(Container):  # type: ignore[misc]
    """SSZ form of `BlobHeader`; its hash_tree_root is the data root."""

    byte_length: uint64
    row_count: uint64
    row_commitments: List[Bytes48, MAX_ROWS_PER_BLOB]


def validate_header(header: BlobHeader) -> None:
    """Raise `MalformedHeader` unless the header is self-consistent (lengths, counts, limits)."""
    if not 1 <= header.byte_length <= MAX_SUPPORTED_BLOB_BYTES:
        raise MalformedHeader(f"byte_length {header.byte_length} is outside 1..{MAX_SUPPORTED_BLOB_BYTES}")
    expected_rows = compute_row_count(header.byte_length)
    if header.row_count != expected_rows:
        raise MalformedHeader(
            f"row_count {header.row_count} does not match byte_length (needs {expected_rows} rows)"
        )
    if len(header.row_commitments) != header.row_count:
        raise MalformedHeader(
            f"{len(header.row_commitments)} row commitments for {header.row_count} rows"
        )
    for row, commitment in enumerate(header.row_commitments):
        if len(commitment) != BYTES_PER_COMMITMENT:
            raise MalformedHeader(f"commitment of row {row} is {len(commitment)} bytes")


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


def header_to_bytes(header: BlobHeader) -> bytes:
    """SSZ encoding of a header."""
    return bytes(_to_ssz(header).encode_bytes())


def bytes_to_header(data: bytes) -> BlobHeader:
    """Decode and validate an SSZ header from untrusted bytes; raises `MalformedHeader`."""
    if len(data) > MAX_HEADER_BYTES:
        raise MalformedHeader(f"header is {len(data)} bytes, at most {MAX_HEADER_BYTES} allowed")
    try:
        decoded = BlobHeaderSSZ.decode_bytes(data)
    except (ValueError, IndexError, TypeError, OverflowError) as error:
        raise MalformedHeader(f"header bytes do not decode: {error}") from error
    header = BlobHeader(
        byte_length=int(decoded.byte_length),
        row_count=int(decoded.row_count),
        row_commitments=tuple(KZGCommitment(bytes(c)) for c in decoded.row_commitments),
    )
    validate_header(header)
    return header
