"""The owner of what a node keeps about the blobs it encoded: dispersals are accounting only (no
extension in memory), samples and custody columns are read from the store's extension by coordinate,
and headers with branches are cached within a byte bound."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

from da import EncodedBlob, encode_blob
from da.constants import BYTES_PER_CELL
from da.encoding import EncodedRow
from da.kzg import CkzgBackend
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.daemon.extensions import Extensions
from validator.daemon.store import NodeStore
from validator.types import Epoch, QuorumIndex

CORNER = [CellCoordinate(RowIndex(0), ColumnIndex(0)), CellCoordinate(RowIndex(0), ColumnIndex(127))]


def _stored(store: NodeStore, data: bytes, kzg: CkzgBackend) -> EncodedBlob:
    encoded = encode_blob(data, kzg)
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6, encoded.rows)
    return encoded


def holds_no_extension(extensions: Extensions) -> bool:
    """Structural: nothing reachable from `extensions` (its store aside) is an encoded blob, an encoded
    row or a cell-sized bytes object."""
    seen: set[int] = {id(extensions._store)}
    todo: list[object] = [vars(extensions)]
    while todo:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, EncodedBlob | EncodedRow):
            return False
        if isinstance(item, bytes) and len(item) >= BYTES_PER_CELL:
            return False
        if isinstance(item, type | threading.Lock().__class__):
            continue
        todo.extend(gc.get_referents(item))
    return True


def test_a_dispersing_blob_is_served_from_the_store_and_never_held_in_memory(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    extensions = Extensions(store)
    root = encoded.data_root
    assert extensions.get_samples(root, CORNER) is None, "not stored yet"
    store.add_blob(data, encoded.header, root, Epoch(0), QuorumIndex(0), 6, encoded.rows)
    extensions.hold(root, "ip:198.51.100.1")
    assert extensions.is_dispersing(root)
    beyond = CellCoordinate(RowIndex(1), ColumnIndex(0))  # a row the one-row blob does not have
    assert extensions.get_samples(root, [*CORNER, beyond]) == [*encoded.get_samples(CORNER), None]
    columns = [ColumnIndex(3), ColumnIndex(100)]
    pushed = extensions.column_samples(root, encoded.header, columns)
    assert pushed == tuple(s for c in columns for s in encoded.get_column(c))
    assert holds_no_extension(extensions)
    extensions.release(root)
    assert extensions.column_samples(root, encoded.header, columns) is None, "no longer dispersing"
    assert extensions.get_samples(root, CORNER) == encoded.get_samples(CORNER), "still served"
    store.close()


def test_after_a_restart_the_stored_extension_serves_samples_and_custody_columns(
    tmp_path: Path, kzg: CkzgBackend
) -> None:
    path = tmp_path / "node.sqlite"
    store = NodeStore(path)
    encoded = _stored(store, bytes(range(256)) * 600, kzg)  # two rows
    store.close()
    reopened = NodeStore(path)
    extensions = Extensions(reopened)
    extensions.hold(encoded.data_root, "resumed")
    every = [CellCoordinate(RowIndex(r), ColumnIndex(c)) for r in range(2) for c in range(128)]
    assert extensions.get_samples(encoded.data_root, every) == encoded.get_samples(every)
    column = [ColumnIndex(64)]
    assert extensions.column_samples(encoded.data_root, encoded.header, column) == tuple(
        encoded.get_column(ColumnIndex(64))
    )
    assert extensions.get_samples(DataRoot(b"\x05" * 32), CORNER) is None
    reopened.close()


def test_the_header_cache_stays_within_its_bytes_least_recently_used_first(
    tmp_path: Path, kzg: CkzgBackend
) -> None:
    store = NodeStore(tmp_path / "node.sqlite")
    blobs = [_stored(store, bytes([n]) * 1000, kzg) for n in range(1, 4)]
    probe = Extensions(store)
    probe.get_samples(blobs[0].data_root, CORNER)
    one = probe.header_bytes
    assert one > 0
    extensions = Extensions(store, header_cache_bytes=2 * one)
    first, second, third = (b.data_root for b in blobs)
    for root, blob in zip(
        (first, second, first, third), (blobs[0], blobs[1], blobs[0], blobs[2]), strict=True
    ):
        assert extensions.get_samples(root, CORNER) == blob.get_samples(CORNER)
    assert extensions.held == (0, 2) and extensions.header_bytes == 2 * one
    extensions.forget([first])
    assert extensions.held == (0, 1) and extensions.header_bytes == one
    assert Extensions(store, header_cache_bytes=0).get_samples(third, CORNER) == blobs[2].get_samples(CORNER)
    store.close()


def test_blobs_dispersing_are_counted_per_account_until_released_or_forgotten(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    store = NodeStore(tmp_path / "node.sqlite")
    extensions = Extensions(store)
    one, two = one_row_blob[1].data_root, two_row_blob[1].data_root
    extensions.hold(one, "ip:198.51.100.1")
    extensions.hold(two, "ip:198.51.100.1")
    extensions.hold(one, "ip:198.51.100.2")  # held already: it stays its first account's
    assert extensions.dispersing_per_account() == {"ip:198.51.100.1": 2}
    extensions.release(one)
    extensions.release(one)  # twice: nothing more to give back
    assert extensions.dispersing_per_account() == {"ip:198.51.100.1": 1}
    extensions.forget([two])
    assert extensions.dispersing_per_account() == {}  # no account is kept holding nothing
    store.close()
