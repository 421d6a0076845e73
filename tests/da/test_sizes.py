"""Blobs up to 32 MiB: headers of 265 and 512 rows, their branches at depth 12, and every size limit
that follows `MAX_ROWS_PER_BLOB` = 512 (issue 30, step 3)."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from da import (
    BlobTooLarge,
    CellCoordinate,
    ColumnIndex,
    DAConfig,
    EncodedBlob,
    GridSample,
    MalformedHeader,
    MalformedSample,
    RowIndex,
    bytes_to_header,
    header_to_bytes,
)
from da.constants import (
    BYTES_PER_COMMITMENT,
    COMMITMENT_BRANCH_DEPTH,
    DEFAULT_MAX_BLOB_BYTES,
    MAX_ROWS_PER_BLOB,
    MAX_SUPPORTED_BLOB_BYTES,
    USABLE_BYTES_PER_ROW,
)
from da.grid_samples import validate_grid_sample
from da.header import MAX_HEADER_BYTES, compute_commitment_branches, compute_data_root, validate_header
from da.merkle import get_commitment_gindex, is_valid_commitment_branch
from da.packing import validate_blob_size
from da.row_count import compute_row_count
from da.samples import validate_sample
from da.types import BlobHeader, Cell, KZGCommitment, KZGProof

MIB = 1024 * 1024


def _commitments(count: int) -> tuple[KZGCommitment, ...]:
    """Distinct 48-byte commitments (headers check lengths, not curve points)."""
    return tuple(
        KZGCommitment(hashlib.sha256(row.to_bytes(8, "little")).digest() + bytes(16)) for row in range(count)
    )


def _header(byte_length: int) -> BlobHeader:
    rows = compute_row_count(byte_length)
    return BlobHeader(byte_length=byte_length, row_count=rows, row_commitments=_commitments(rows))


def _sha(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(left + right).digest()


def _reference_data_root(header: BlobHeader) -> bytes:
    """hash_tree_root(BlobHeader) by hand (hashlib only): 512 leaves, the length mixed in, 3 fields in 4."""
    level = [_sha(c[:32], c[32:] + bytes(16)) for c in header.row_commitments]
    level += [bytes(32)] * (MAX_ROWS_PER_BLOB - len(level))
    while len(level) > 1:
        level = [_sha(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    commitments_root = _sha(level[0], header.row_count.to_bytes(32, "little"))
    fields = [header.byte_length.to_bytes(32, "little"), header.row_count.to_bytes(32, "little")]
    return _sha(_sha(fields[0], fields[1]), _sha(commitments_root, bytes(32)))


def test_a_32_mib_blob_needs_265_rows_and_fits_the_header() -> None:
    assert DEFAULT_MAX_BLOB_BYTES == 32 * MIB
    assert compute_row_count(32 * MIB) == 265
    assert MAX_ROWS_PER_BLOB == 512
    assert COMMITMENT_BRANCH_DEPTH == 12
    assert get_commitment_gindex(RowIndex(0)) == 6144
    assert MAX_SUPPORTED_BLOB_BYTES == 512 * USABLE_BYTES_PER_ROW - 8
    assert MAX_HEADER_BYTES == 8 + 8 + 4 + 512 * BYTES_PER_COMMITMENT


def test_a_265_row_header_round_trips_and_every_branch_verifies() -> None:
    header = _header(32 * MIB)
    assert header.row_count == 265
    wire = header_to_bytes(header)
    assert len(wire) == 20 + 265 * BYTES_PER_COMMITMENT
    assert bytes_to_header(wire) == header
    root = compute_data_root(header)
    assert root == _reference_data_root(header)
    branches = compute_commitment_branches(header)
    assert len(branches) == 265
    for row, branch in enumerate(branches):
        assert len(branch) == COMMITMENT_BRANCH_DEPTH
        assert is_valid_commitment_branch(header.row_commitments[row], RowIndex(row), branch, root)
    # A branch proves its own row only.
    assert not is_valid_commitment_branch(header.row_commitments[0], RowIndex(1), branches[0], root)


@pytest.mark.parametrize("row", [0, 264, 511])
def test_branches_of_a_512_row_header_verify(row: int) -> None:
    header = _header(MAX_SUPPORTED_BLOB_BYTES)
    assert header.row_count == 512
    root = compute_data_root(header)
    assert root == _reference_data_root(header)
    assert bytes_to_header(header_to_bytes(header)) == header
    assert len(header_to_bytes(header)) == MAX_HEADER_BYTES
    branch = compute_commitment_branches(header)[row]
    assert is_valid_commitment_branch(header.row_commitments[row], RowIndex(row), branch, root)
    assert not is_valid_commitment_branch(header.row_commitments[row], RowIndex(row), branch[:-1], root)
    other = (row + 1) % 512
    assert not is_valid_commitment_branch(header.row_commitments[other], RowIndex(row), branch, root)


def test_a_513_row_header_is_refused_typed() -> None:
    too_long = MAX_SUPPORTED_BLOB_BYTES + 1
    assert compute_row_count(too_long) == 513
    header = BlobHeader(byte_length=too_long, row_count=513, row_commitments=_commitments(513))
    with pytest.raises(MalformedHeader, match="byte_length"):
        validate_header(header)
    wire = (
        too_long.to_bytes(8, "little")
        + (513).to_bytes(8, "little")
        + (20).to_bytes(4, "little")
        + b"".join(header.row_commitments)
    )
    with pytest.raises(MalformedHeader, match="bytes, expected"):
        bytes_to_header(wire)


def test_the_default_limit_takes_exactly_32_mib() -> None:
    config = DAConfig()
    validate_blob_size(32 * MIB, config)
    with pytest.raises(BlobTooLarge) as raised:
        validate_blob_size(32 * MIB + 1, config)
    assert raised.value.limit == 32 * MIB


def test_sample_rows_stop_at_512(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    sample = two_row_blob[1].get_sample(CellCoordinate(RowIndex(0), ColumnIndex(0)))
    validate_sample(dataclasses.replace(sample, row=RowIndex(511)))
    with pytest.raises(MalformedSample, match=r"row must be an integer in \[0, 512\)"):
        validate_sample(dataclasses.replace(sample, row=RowIndex(512)))


def test_grid_sample_rows_stop_at_twice_512() -> None:
    sample = GridSample(RowIndex(1023), ColumnIndex(0), Cell(bytes(2048)), KZGProof(bytes(48)))
    validate_grid_sample(sample, MAX_ROWS_PER_BLOB)
    with pytest.raises(MalformedSample, match=r"row must be an integer in \[0, 1024\)"):
        validate_grid_sample(dataclasses.replace(sample, row=RowIndex(1024)), MAX_ROWS_PER_BLOB)
