"""The pre-encoded upload (da.upload): the sequencer's encoding round-trips to the node's extension,
and every inconsistent upload is refused with its typed error naming the first bad row or cell."""

from __future__ import annotations

import dataclasses

import pytest

from da import (
    BlobTooLarge,
    CkzgBackend,
    CommitmentMismatch,
    DAConfig,
    DataRootMismatch,
    EmptyBlob,
    EncodedBlob,
    InvalidCellProof,
    MalformedUpload,
    RowCountMismatch,
    UploadTruncated,
    bytes_to_upload,
    compute_data_root,
    compute_upload,
    upload_to_bytes,
    validate_upload,
)
from da.constants import CELLS_PER_ROW
from da.kzg import PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.types import KZGProof
from da.upload import UPLOAD_PREFIX_BYTES, EncodedUpload, compute_upload_bytes

CONFIG = DAConfig()


def _with_proof(upload: EncodedUpload, row: int, column: int, proof: bytes) -> EncodedUpload:
    proofs = [list(row_proofs) for row_proofs in upload.proofs]
    proofs[row][column] = KZGProof(proof)
    return dataclasses.replace(upload, proofs=tuple(tuple(p) for p in proofs))


def _check(upload: EncodedUpload, kzg: CkzgBackend) -> EncodedBlob:
    """The node's path: the upload's bytes decoded, then checked."""
    return validate_upload(bytes_to_upload(upload_to_bytes(upload), CONFIG), kzg, CONFIG)


def test_an_honest_upload_round_trips_to_the_extension(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    body = upload_to_bytes(upload)
    assert len(body) == compute_upload_bytes(len(data))
    assert bytes_to_upload(body, CONFIG) == upload
    assert _check(upload, kzg) == encoded


def test_verification_needs_no_proving_tables(one_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = one_row_blob
    verifier = load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING)
    assert _check(compute_upload(data, encoded), verifier) == encoded


def test_the_upload_of_one_mib_is_about_five_percent_over_the_blob() -> None:
    """9 rows: 9 commitments and 1,152 proofs of 48 bytes on 1 MiB (the issue's 1.053 x)."""
    mib = 1024 * 1024
    assert compute_upload_bytes(mib) == UPLOAD_PREFIX_BYTES + 9 * 48 + 9 * CELLS_PER_ROW * 48 + mib
    assert 1.05 < compute_upload_bytes(mib) / mib < 1.055


def test_one_altered_proof_is_named(kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    # Another valid point (the same column's proof in the other row): the proof is simply wrong.
    with pytest.raises(InvalidCellProof) as raised:
        _check(_with_proof(upload, 1, 37, upload.proofs[0][37]), kzg)
    assert (raised.value.row, raised.value.column) == (1, 37)
    # A flipped bit: bytes that are no longer a curve point are refused the same way.
    flipped = bytearray(upload.proofs[0][100])
    flipped[20] ^= 1
    with pytest.raises(InvalidCellProof) as raised:
        _check(_with_proof(upload, 0, 100, bytes(flipped)), kzg)
    assert (raised.value.row, raised.value.column) == (0, 100)


def test_two_swapped_proofs_name_the_first(kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    swapped = _with_proof(_with_proof(upload, 0, 90, upload.proofs[0][5]), 0, 5, upload.proofs[0][90])
    with pytest.raises(InvalidCellProof) as raised:
        _check(swapped, kzg)
    assert (raised.value.row, raised.value.column) == (0, 5)


def test_a_commitment_that_is_not_the_rows(kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    first, second = upload.row_commitments
    # The rows' commitments swapped, with the data root of that (wrong) header claimed honestly.
    swapped = dataclasses.replace(upload, row_commitments=(second, first))
    swapped = dataclasses.replace(swapped, data_root=compute_data_root(swapped.header))
    with pytest.raises(CommitmentMismatch) as raised:
        _check(swapped, kzg)
    assert raised.value.row == 0
    # The same swap claiming the honest root: the header does not hash to it.
    with pytest.raises(DataRootMismatch) as mismatch:
        _check(dataclasses.replace(upload, row_commitments=(second, first)), kzg)
    assert mismatch.value.claimed == encoded.data_root


def test_a_row_count_or_a_length_that_disagrees(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    body = upload_to_bytes(compute_upload(data, encoded))
    three_rows = body[:16] + (3).to_bytes(8, "little") + body[24:]
    with pytest.raises(RowCountMismatch) as raised:
        bytes_to_upload(three_rows, CONFIG)
    assert (raised.value.row_count, raised.value.expected) == (3, 2)
    longer = body[:8] + (len(data) + 1).to_bytes(8, "little") + body[16:]
    with pytest.raises(UploadTruncated) as truncated:
        bytes_to_upload(longer, CONFIG)
    assert (truncated.value.received, truncated.value.expected) == (len(body), len(body) + 1)
    shorter = body[:8] + (len(data) - 1).to_bytes(8, "little") + body[16:]
    with pytest.raises(MalformedUpload, match="1 after the blob"):
        bytes_to_upload(shorter, CONFIG)
    with pytest.raises(EmptyBlob):
        bytes_to_upload(body[:8] + bytes(8) + body[16:], CONFIG)
    with pytest.raises(BlobTooLarge):
        bytes_to_upload(body, DAConfig(max_blob_bytes=len(data) - 1))


def test_a_truncated_upload(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    body = upload_to_bytes(compute_upload(data, encoded))
    for cut in (0, 10, UPLOAD_PREFIX_BYTES, len(body) // 2, len(body) - 1):
        with pytest.raises(UploadTruncated) as raised:
            bytes_to_upload(body[:cut], CONFIG)
        assert raised.value.received == cut


def test_a_foreign_body_or_version(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    data, encoded = two_row_blob
    body = upload_to_bytes(compute_upload(data, encoded))
    with pytest.raises(MalformedUpload, match="starts with"):
        bytes_to_upload(b"XXXX" + body[4:], CONFIG)
    with pytest.raises(MalformedUpload, match="version 2"):
        bytes_to_upload(body[:4] + (2).to_bytes(4, "little") + body[8:], CONFIG)
