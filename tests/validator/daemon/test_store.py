"""The daemon's SQLite store: what it serves survives a restart, and the encoding node serves every cell."""

from __future__ import annotations

from pathlib import Path

from da import EncodedBlob, verify_samples
from da.constants import CELLS_PER_ROW
from da.kzg import CkzgBackend
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.daemon.store import BlobStatus, NodeStore
from validator.types import Epoch, QuorumIndex


def _all_cells(encoded: EncodedBlob) -> list[CellCoordinate]:
    return [
        CellCoordinate(RowIndex(row), ColumnIndex(column))
        for row in range(len(encoded.rows))
        for column in range(CELLS_PER_ROW)
    ]


def test_the_encoding_node_keeps_the_whole_extension_across_a_restart(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], kzg: CkzgBackend
) -> None:
    data, encoded = two_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6, encoded.rows)
    store.update_blob(encoded.data_root, BlobStatus.CERTIFIED, signed_slots=6)
    store.close()

    reopened = NodeStore(tmp_path / "node.sqlite")
    rebuilt = reopened.get_extension(encoded.data_root)
    assert rebuilt == encoded
    coordinates = _all_cells(encoded)
    assert verify_samples(encoded.data_root, rebuilt.get_samples(coordinates), kzg)
    # The extension is not custody: custody lookups, listings and counts are unchanged.
    assert reopened.get_samples(encoded.data_root, coordinates[:3]) == [None] * 3
    assert reopened.custody_coordinates(encoded.data_root) == []
    assert reopened.count_custody_cells() == 0
    assert reopened.get_extension(DataRoot(b"\x07" * 32)) is None
    reopened.close()


def test_a_blob_recorded_without_its_extension_has_none(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    record = store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6)
    assert record.status is BlobStatus.RECEIVED
    assert store.get_extension(encoded.data_root) is None
    store.close()


def test_a_received_blob_survives_a_restart_and_its_extension_makes_it_encoded(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6)
    store.close()
    reopened = NodeStore(tmp_path / "node.sqlite")
    assert [r.data_root for r in reopened.unfinished_blobs()] == [encoded.data_root]  # resumed after a crash
    assert reopened.get_blob_data(encoded.data_root) == data
    reopened.put_extension(encoded.data_root, encoded.rows)
    record = reopened.get_blob(encoded.data_root)
    assert record is not None and record.status is BlobStatus.ENCODED
    assert reopened.get_extension(encoded.data_root) == encoded
    reopened.update_blob(encoded.data_root, BlobStatus.CERTIFIED)
    reopened.put_extension(encoded.data_root, encoded.rows)  # again, late: the status stays certified
    record = reopened.get_blob(encoded.data_root)
    assert record is not None and record.status is BlobStatus.CERTIFIED
    reopened.close()


def test_custody_cells_are_served_and_a_repeated_add_changes_nothing(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    column = [CellCoordinate(RowIndex(0), ColumnIndex(7))]
    store = NodeStore(tmp_path / "node.sqlite")
    assert store.get_samples(encoded.data_root, column) == [None]
    assert (
        store.put_custody(
            encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), encoded.get_samples(column)
        )
        == 1
    )
    first = store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6)
    again = store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6)
    assert again == first
    assert store.get_samples(encoded.data_root, column) == encoded.get_samples(column)
    assert store.get_samples(encoded.data_root, [CellCoordinate(RowIndex(0), ColumnIndex(8))]) == [None]
    assert store.custody_coordinates(encoded.data_root) == column
    store.close()
