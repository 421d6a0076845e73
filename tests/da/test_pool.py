"""The process-pool path gives the serial path's results, and its failures arrive typed."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import pickle
import signal
from collections.abc import Iterator

import pytest

from da import (
    BlobTooLarge,
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    CommitmentMismatch,
    DAConfig,
    DataRootMismatch,
    EmptyBlob,
    EncodedBlob,
    EncoderPool,
    EncoderPoolBroken,
    InvalidCellProof,
    InvalidConfig,
    InvalidKZGInput,
    MalformedHeader,
    NotEnoughCells,
    RowCountMismatch,
    RowIndex,
    UploadTruncated,
    compute_blob_header,
    compute_extended_blob,
    compute_upload,
    encode_blob,
    upload_to_bytes,
)
from da.types import Cell, KZGProof

pytestmark = pytest.mark.xdist_group("pool")


@pytest.fixture(scope="module")
def pool() -> Iterator[EncoderPool]:
    with EncoderPool(workers=2, config=DAConfig(max_blob_bytes=300_000)) as encoder_pool:
        yield encoder_pool


def test_pooled_encoding_is_identical_to_serial(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, serial = two_row_blob
    seen: list[int] = []
    assert pool.encode_blob(data, progress=lambda done, _total: seen.append(done)) == serial
    assert seen == [1, 2]


def test_encoding_with_the_header_first_commitments_is_identical(
    pool: EncoderPool, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, serial = two_row_blob
    header = compute_blob_header(data, kzg)
    assert header == serial.header  # the POST's early answer names the data root encoding will have
    assert pool.compute_blob_header(data) == header  # the node computes it on its workers
    assert pool.encode_blob(data, commitments=header.row_commitments) == serial
    assert encode_blob(data, kzg, commitments=header.row_commitments) == serial
    with pytest.raises(MalformedHeader, match="1 row commitments for a blob of 2 rows"):
        pool.encode_blob(data, commitments=header.row_commitments[:1])


def test_pooled_recovery_is_identical_to_the_blob(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    cells = {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): encoded.rows[row].cells[column]
        for row in range(2)
        for column in range(32, 96)
    }
    assert pool.recover_blob(encoded.header, cells) == data
    del cells[CellCoordinate(RowIndex(1), ColumnIndex(40))]
    with pytest.raises(NotEnoughCells) as raised:
        pool.recover_blob(encoded.header, cells)
    assert raised.value.received == {1: 63}


def test_worker_errors_cross_the_process_boundary_typed(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    not_a_field_element = Cell(b"\xff" * 2048)
    cells = {CellCoordinate(RowIndex(0), ColumnIndex(c)): not_a_field_element for c in range(64, 128)}
    cells |= {CellCoordinate(RowIndex(1), ColumnIndex(c)): encoded.rows[1].cells[c] for c in range(64)}
    with pytest.raises(InvalidKZGInput) as raised:
        pool.recover_blob(encoded.header, cells)
    assert raised.value.operation == "recover_cells_and_kzg_proofs"


def test_pooled_grid_extension_is_identical_to_serial(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    serial = compute_extended_blob(encoded)
    assert pool.compute_extended_blob(encoded) == serial
    assert pool.extend_rows(encoded.rows) == serial.extended_rows


def test_pooled_grid_extension_refuses_bad_rows_typed(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    short = dataclasses.replace(encoded.rows[1], cells=encoded.rows[1].cells[:127])
    with pytest.raises(InvalidKZGInput, match="row 1 has 127 cells"):
        pool.extend_rows([encoded.rows[0], short])
    bad_proof = dataclasses.replace(
        encoded.rows[1],
        proofs=(*encoded.rows[1].proofs[:90], KZGProof(b"\x01" * 48), *encoded.rows[1].proofs[91:]),
    )
    with pytest.raises(InvalidKZGInput, match="proof 1 is not a G1 point"):
        pool.extend_rows([encoded.rows[0], bad_proof])


def test_a_pooled_upload_check_gives_the_extension_or_the_typed_refusal(
    pool: EncoderPool, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    assert pool.verify_upload(upload_to_bytes(upload)) == encoded
    assert pool.ready
    proofs = list(upload.proofs)
    proofs[1] = (*proofs[1][:37], proofs[0][37], *proofs[1][38:])
    with pytest.raises(InvalidCellProof) as raised:
        pool.verify_upload(upload_to_bytes(dataclasses.replace(upload, proofs=tuple(proofs))))
    assert (raised.value.row, raised.value.column) == (1, 37)


def test_size_limits_apply_before_any_work(pool: EncoderPool) -> None:
    with pytest.raises(EmptyBlob):
        pool.encode_blob(b"")
    with pytest.raises(BlobTooLarge) as raised:
        pool.encode_blob(bytes(300_001))
    assert raised.value.limit == 300_000
    with pytest.raises(BlobTooLarge):
        pool.compute_blob_header(bytes(300_001))
    with pytest.raises(InvalidConfig):
        EncoderPool(workers=1, config=DAConfig(max_blob_bytes=0))


@pytest.mark.parametrize(
    "error",
    [
        InvalidKZGInput("op", "detail"),
        NotEnoughCells({3: 10}, 64),
        BlobTooLarge(5, 4),
        EmptyBlob(),
        InvalidConfig("max_blob_bytes", 0, "too small"),
        UploadTruncated(10, 56),
        RowCountMismatch(3, 2, 200_000),
        DataRootMismatch(b"\x01" * 32, b"\x02" * 32),
        CommitmentMismatch(4),
        InvalidCellProof(1, 37),
    ],
)
def test_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_a_killed_worker_is_reported_not_hung() -> None:
    before = set(multiprocessing.active_children())
    with EncoderPool(workers=1) as doomed:
        doomed.encode_blob(b"warm up")
        (worker,) = set(multiprocessing.active_children()) - before
        os.kill(worker.pid or 0, signal.SIGKILL)
        worker.join(timeout=10)
        with pytest.raises(EncoderPoolBroken):
            doomed.encode_blob(b"after the crash")
