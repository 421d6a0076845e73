"""What `GET /v1/blobs/{root}` reports, read from a real store: a posted blob's whole record, a
custodian's view from its header and certificate, a certificate heard on gossip alone, nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from da import EncodedBlob
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.daemon.api.views import blob_json
from validator.daemon.desk import read_blob_view
from validator.daemon.store import BlobFailure, BlobStatus, NodeStore
from validator.types import BLSSignature, Certificate, Epoch, QuorumIndex


def _certificate(encoded: EncodedBlob, epoch: int, quorum: int) -> Certificate:
    return Certificate(
        encoded.data_root,
        Epoch(epoch),
        QuorumIndex(quorum),
        (True, True, False),
        BLSSignature(b"\xc0" + bytes(95)),
    )


def test_a_posted_blob_reports_its_whole_record(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(3), QuorumIndex(1), 6)
    store.update_blob(
        encoded.data_root,
        BlobStatus.FAILED,
        signed_slots=2,
        error="epoch 3 left the availability window",
        failure=BlobFailure.EPOCH_EXPIRED,
    )
    view = read_blob_view(store, encoded.data_root)
    assert view is not None
    assert blob_json(view) == {
        "data_root": "0x" + encoded.data_root.hex(),
        "status": "failed",
        "epoch": 3,
        "quorum": 1,
        "signed_slots": 2,
        "threshold": 6,
        "byte_length": encoded.header.byte_length,
        "error": "epoch 3 left the availability window",
        "failure": "epoch_expired",
    }
    store.close()


def test_a_store_written_before_typed_failures_gains_the_column(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    """A node restarted on a file of the previous layout keeps its blobs and reports failures typed."""
    data, encoded = one_row_blob
    path = tmp_path / "node.sqlite"
    store = NodeStore(path)
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 3)
    store.close()
    with sqlite3.connect(path) as db:  # the layout before this column existed
        db.execute("ALTER TABLE blobs DROP COLUMN failure")
    store = NodeStore(path)
    record = store.get_blob(encoded.data_root)
    assert record is not None and record.status is BlobStatus.RECEIVED and record.failure is None
    store.update_blob(encoded.data_root, BlobStatus.FAILED, error="gone", failure=BlobFailure.NO_SUCH_QUORUM)
    view = read_blob_view(store, encoded.data_root)
    assert view is not None and blob_json(view)["failure"] == "no_such_quorum"
    store.close()


def test_a_custodian_reports_its_header_then_the_certificate(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    samples = [encoded.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(5)))]
    store.put_custody(encoded.header, encoded.data_root, Epoch(4), QuorumIndex(0), samples)
    custody = read_blob_view(store, encoded.data_root)
    assert custody is not None
    assert blob_json(custody) == {
        "data_root": "0x" + encoded.data_root.hex(),
        "status": "custody",
        "epoch": 4,
        "quorum": 0,
        "byte_length": encoded.header.byte_length,
    }
    store.put_certificate(_certificate(encoded, 4, 0))
    certified = read_blob_view(store, encoded.data_root)
    assert certified is not None
    assert blob_json(certified) == {**blob_json(custody), "status": "certified", "signed_slots": 2}
    store.close()


def test_a_certificate_alone_and_an_unknown_root(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    assert read_blob_view(store, encoded.data_root) is None
    store.put_certificate(_certificate(encoded, 7, 2))
    heard = read_blob_view(store, encoded.data_root)
    assert heard is not None
    assert blob_json(heard) == {
        "data_root": "0x" + encoded.data_root.hex(),
        "status": "certified",
        "epoch": 7,
        "quorum": 2,
        "signed_slots": 2,
    }
    assert read_blob_view(store, DataRoot(b"\x09" * 32)) is None
    store.close()
