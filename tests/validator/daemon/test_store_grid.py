"""Custody spans the 2D grid in the daemon's store: a custody column held in whole gets its R
extended cells derived and stored with it, durably; a file written before (schema 2) gets them on
opening; pruning removes them with the originals."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from da import EncodedBlob
from da.grid import compute_extended_blob
from da.grid_samples import verify_grid_samples
from da.kzg import CkzgBackend
from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot, GridSample, RowIndex, Sample
from validator.custody import compute_extended_custody
from validator.daemon import store as store_module
from validator.daemon.store import SCHEMA_VERSION, NodeStore
from validator.types import Epoch, QuorumIndex


def _column(rows: int, column: int) -> list[CellCoordinate]:
    return [CellCoordinate(RowIndex(row), ColumnIndex(column)) for row in range(rows)]


def test_a_whole_custody_column_is_served_over_all_grid_rows_across_a_restart(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    encoded = two_row_blob[1]
    grid = compute_extended_blob(encoded)
    root = encoded.data_root
    store = NodeStore(tmp_path / "node.sqlite")
    # Column 9 arrives in two pushes (row 0, then row 1); column 20 only in part.
    store.put_custody(encoded.header, root, Epoch(0), QuorumIndex(0), encoded.get_samples(_column(1, 9)))
    assert store.get_grid_samples(root, _column(4, 9)) == [
        grid.get_sample(_column(1, 9)[0]),
        None,
        None,
        None,
    ]
    store.put_custody(encoded.header, root, Epoch(0), QuorumIndex(0), encoded.get_samples(_column(2, 9)[1:]))
    store.put_custody(encoded.header, root, Epoch(0), QuorumIndex(0), encoded.get_samples(_column(1, 20)))
    store.close()
    store = NodeStore(tmp_path / "node.sqlite")
    served = store.get_grid_samples(root, _column(4, 9) + _column(4, 20))
    assert served[:4] == grid.get_column(ColumnIndex(9))
    assert served[4:] == [grid.get_sample(_column(1, 20)[0]), None, None, None]
    assert verify_grid_samples(root, encoded.header, [s for s in served if s is not None], kzg)
    assert store.get_grid_samples(DataRoot(bytes(32)), _column(4, 9)) == [None] * 4
    store.prune_expired(Epoch(1), 10, 1.0, 0)
    assert store.get_grid_samples(root, _column(4, 9)) == [None] * 4
    store.close()


def test_opening_a_schema_2_file_derives_the_extended_cells_of_its_custody(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    encoded = two_row_blob[1]
    grid = compute_extended_blob(encoded)
    root = encoded.data_root
    path = tmp_path / "node.sqlite"
    store = NodeStore(path)
    store.put_custody(encoded.header, root, Epoch(0), QuorumIndex(0), encoded.get_samples(_column(2, 5)))
    store.close()
    # Make it the file an older build wrote: no extended cells, schema version 2.
    db = sqlite3.connect(path)
    with db:
        db.execute("DROP TABLE grid_custody")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    db.close()
    store = NodeStore(path)
    assert store.migrated_grid_cells == 2
    assert store.get_grid_samples(root, _column(4, 5)) == grid.get_column(ColumnIndex(5))
    store.close()
    again = NodeStore(path)
    assert again.migrated_grid_cells == 0
    (version,) = again._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION == 3
    again.close()


def test_deriving_extended_cells_leaves_the_store_free_for_sample_requests(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 32 MiB a column's extension takes ~0.17 s and a member completes dozens at once: another
    thread (a sample request) must get the store meanwhile, not wait seconds behind the lock."""
    encoded = two_row_blob[1]
    grid = compute_extended_blob(encoded)
    root = encoded.data_root
    store = NodeStore(tmp_path / "node.sqlite")
    free_while_deriving: list[bool] = []

    def observed(header: BlobHeader, samples: list[Sample]) -> list[GridSample]:
        answered = threading.Event()

        def ask() -> None:
            store.get_grid_samples(root, _column(1, 9))  # blocks while the store's lock is held
            answered.set()

        asker = threading.Thread(target=ask)
        asker.start()
        free_while_deriving.append(answered.wait(timeout=10))
        asker.join(timeout=30)
        return compute_extended_custody(header, samples)

    monkeypatch.setattr(store_module, "compute_extended_custody", observed)
    store.put_custody(encoded.header, root, Epoch(0), QuorumIndex(0), encoded.get_samples(_column(2, 9)))
    assert free_while_deriving == [True]
    assert store.get_grid_samples(root, _column(4, 9)) == grid.get_column(ColumnIndex(9))
    store.close()
