"""The daemon's SQLite store: what it serves survives a restart, and the encoding node serves every cell."""

from __future__ import annotations

from pathlib import Path

from da import EncodedBlob, verify_samples
from da.constants import CELLS_PER_ROW
from da.kzg import CkzgBackend
from da.types import CellCoordinate, ColumnIndex, RowIndex
from validator.store import BlobStatus, NodeStore
from validator.types import Epoch, QuorumIndex


def _all_cells(encoded: EncodedBlob) -> list[CellCoordinate]:
    return [
        CellCoordinate(RowIndex(row), ColumnIndex(column))
        for row in range(len(encoded.rows))
        for column in range(CELLS_PER_ROW)
    ]


def test_the_encoding_node_serves_every_cell_after_a_restart(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], kzg: CkzgBackend
) -> None:
    data, encoded = two_row_blob
    coordinates = _all_cells(encoded)
    with_cells = encoded.get_samples(coordinates)
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6, with_cells)
    store.update_blob(encoded.data_root, BlobStatus.CERTIFIED, signed_slots=6)
    store.close()

    reopened = NodeStore(tmp_path / "node.sqlite")
    served = reopened.get_samples(
        encoded.data_root, [*coordinates, CellCoordinate(RowIndex(2), ColumnIndex(0))]
    )
    assert served[-1] is None  # outside the blob
    assert served[:-1] == with_cells
    assert verify_samples(encoded.data_root, with_cells, kzg)
    # The extension is not custody: custody listings and counts are unchanged.
    assert reopened.custody_coordinates(encoded.data_root) == []
    assert reopened.count_custody_cells() == 0
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
