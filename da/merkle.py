"""SHA-256 Merkle helpers for the data root: generalized indices and branch checks (consensus-specs style)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from da.constants import (
    BLOB_HEADER_FIELD_COUNT,
    BYTES_PER_COMMITMENT,
    BYTES_PER_ROOT,
    COMMITMENT_BRANCH_DEPTH,
    MAX_ROWS_PER_BLOB,
)
from da.types import Bytes32, KZGCommitment, RowIndex

ROW_COMMITMENTS_FIELD_INDEX = 2
"""Position of `row_commitments` among the `BlobHeader` fields."""


def _next_power_of_two(value: int) -> int:
    return 1 << (value - 1).bit_length()


def get_commitment_gindex(row: RowIndex) -> int:
    """Generalized index of row `row`'s commitment root inside the `BlobHeader` tree."""
    field_gindex = _next_power_of_two(BLOB_HEADER_FIELD_COUNT) + ROW_COMMITMENTS_FIELD_INDEX
    list_data_gindex = field_gindex * 2  # left child; the right child is the length mix-in
    return list_data_gindex * MAX_ROWS_PER_BLOB + row


def hash_pair(left: bytes, right: bytes) -> Bytes32:
    """SHA-256 of two concatenated 32-byte nodes."""
    return Bytes32(hashlib.sha256(left + right).digest())


def compute_commitment_leaf(commitment: KZGCommitment) -> Bytes32:
    """`hash_tree_root` of a 48-byte commitment: two zero-padded 32-byte chunks, hashed."""
    padded = bytes(commitment) + bytes(2 * BYTES_PER_ROOT - BYTES_PER_COMMITMENT)
    return hash_pair(padded[:BYTES_PER_ROOT], padded[BYTES_PER_ROOT:])


def is_valid_merkle_branch(leaf: bytes, branch: Sequence[bytes], depth: int, index: int, root: bytes) -> bool:
    """True iff `branch` proves `leaf` at position `index` of a depth-`depth` tree with root `root`."""
    if len(branch) != depth:
        return False
    value = bytes(leaf)
    for level, sibling in enumerate(branch):
        is_right_child = (index >> level) & 1
        value = hash_pair(sibling, value) if is_right_child else hash_pair(value, sibling)
    return value == root


def is_valid_commitment_branch(
    commitment: KZGCommitment, row: RowIndex, branch: Sequence[bytes], data_root: bytes
) -> bool:
    """True iff `branch` proves that `commitment` is row `row`'s commitment under `data_root`."""
    index = get_commitment_gindex(row) % (1 << COMMITMENT_BRANCH_DEPTH)
    leaf = compute_commitment_leaf(commitment)
    return is_valid_merkle_branch(leaf, branch, COMMITMENT_BRANCH_DEPTH, index, data_root)
