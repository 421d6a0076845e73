"""The encoding node's extension is read in place: any set of cells read by coordinate (incremental
BLOB I/O) is byte-identical to the encoded blob's; and a store of another protocol (another header
tree) is refused, read-only, with a typed error naming the file and the fix."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from da import EncodedBlob
from da.constants import CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.daemon.store import HEADER_TREE_KEY, NodeStore
from validator.errors import StoreOfAnotherProtocol
from validator.types import Epoch, QuorumIndex


@pytest.fixture(scope="module")
def stored(
    tmp_path_factory: pytest.TempPathFactory, two_row_blob: tuple[bytes, EncodedBlob]
) -> tuple[NodeStore, EncodedBlob]:
    data, encoded = two_row_blob
    store = NodeStore(tmp_path_factory.mktemp("partial") / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6, encoded.rows)
    return store, encoded


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    columns=st.sets(st.integers(0, CELLS_PER_ROW - 1), min_size=1, max_size=CELLS_PER_ROW),
    rows=st.sets(st.integers(0, 1), min_size=1),
)
def test_any_set_of_cells_read_in_place_is_the_encoded_blobs(
    stored: tuple[NodeStore, EncodedBlob], columns: set[int], rows: set[int]
) -> None:
    store, encoded = stored
    asked = [CellCoordinate(RowIndex(r), ColumnIndex(c)) for c in sorted(columns) for r in sorted(rows)]
    read = store.get_extension_cells(encoded.data_root, asked)
    assert read == [
        (encoded.rows[c.row].cells[c.column], encoded.rows[c.row].proofs[c.column]) for c in asked
    ]


def test_cells_outside_the_matrix_or_of_another_blob_are_none(stored: tuple[NodeStore, EncodedBlob]) -> None:
    store, encoded = stored
    outside = [CellCoordinate(RowIndex(2), ColumnIndex(0)), CellCoordinate(RowIndex(0), ColumnIndex(128))]
    inside = CellCoordinate(RowIndex(1), ColumnIndex(127))
    assert store.get_extension_cells(encoded.data_root, [*outside, inside]) == [
        None,
        None,
        (encoded.rows[1].cells[127], encoded.rows[1].proofs[127]),
    ]
    assert store.get_extension_cells(DataRoot(b"\x09" * 32), [inside]) is None
    assert store.has_extension(encoded.data_root)
    assert not store.has_extension(DataRoot(b"\x09" * 32))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("stored_value", [None, "64" if MAX_ROWS_PER_BLOB != 64 else "512"])
def test_a_store_of_another_header_tree_is_refused_and_left_unchanged(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob], stored_value: str | None
) -> None:
    data, encoded = one_row_blob
    path = tmp_path / "node.sqlite"
    store = NodeStore(path)
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6, encoded.rows)
    store.close()
    old = sqlite3.connect(path)  # as an older build wrote it: no tree shape, or another one
    with old:
        if stored_value is None:
            old.execute("DELETE FROM meta WHERE key = ?", (HEADER_TREE_KEY,))
        else:
            old.execute("UPDATE meta SET value = ? WHERE key = ?", (stored_value, HEADER_TREE_KEY))
    old.close()
    before = _digest(path)
    with pytest.raises(StoreOfAnotherProtocol) as refused:
        NodeStore(path)
    assert refused.value.path == str(path) and refused.value.stored == stored_value
    assert refused.value.expected == MAX_ROWS_PER_BLOB
    assert str(path) in str(refused.value) and "new data_dir" in str(refused.value)
    assert _digest(path) == before, "the refused file was changed"
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_a_new_store_records_the_header_tree_and_opens_again(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    NodeStore(path).close()
    reopened = NodeStore(path)
    (value,) = reopened._db.execute("SELECT value FROM meta WHERE key = ?", (HEADER_TREE_KEY,)).fetchone()
    assert value == str(MAX_ROWS_PER_BLOB)
    reopened.close()
