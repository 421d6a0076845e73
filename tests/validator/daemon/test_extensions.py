"""The one owner of encoded blobs in memory: a dispersing blob is served from memory until released,
then rebuilt from the store's extension, and at most `recent` rebuilt blobs stay in memory."""

from __future__ import annotations

import threading
from pathlib import Path

from da import EncodedBlob, encode_blob
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


def test_a_dispersing_blob_is_served_from_memory_then_from_the_store(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")  # the blob is not in it: only memory can answer
    extensions = Extensions(store)
    root = encoded.data_root
    assert extensions.dispersing(root) is None
    assert extensions.cached_samples(root, CORNER) is None
    extensions.hold(encoded)
    assert extensions.dispersing(root) is encoded
    beyond = CellCoordinate(RowIndex(1), ColumnIndex(0))  # a row the one-row blob does not have
    assert extensions.cached_samples(root, [*CORNER, beyond]) == [*encoded.get_samples(CORNER), None]
    extensions.release(root)
    assert extensions.dispersing(root) is None
    assert extensions.cached_samples(root, CORNER) is None
    assert extensions.get_samples(root, CORNER) is None, "released, and the store has no extension of it"
    store.close()


def test_rebuilt_blobs_are_kept_up_to_the_bound_most_recently_served_first(
    tmp_path: Path, kzg: CkzgBackend
) -> None:
    store = NodeStore(tmp_path / "node.sqlite")
    blobs = [_stored(store, bytes([n]) * 1000, kzg) for n in range(1, 4)]
    extensions = Extensions(store, recent=2)
    first, second, third = (b.data_root for b in blobs)
    for root, blob in zip((first, second), blobs, strict=False):
        assert extensions.get_samples(root, CORNER) == blob.get_samples(CORNER)
    assert extensions.cached_samples(first, CORNER) is not None  # first is now the most recent
    assert extensions.get_samples(third, CORNER) == blobs[2].get_samples(CORNER)  # evicts second
    assert extensions.cached_samples(second, CORNER) is None
    assert extensions.cached_samples(first, CORNER) == blobs[0].get_samples(CORNER)
    assert extensions.cached_samples(third, CORNER) == blobs[2].get_samples(CORNER)
    assert extensions.get_samples(DataRoot(b"\x05" * 32), CORNER) is None
    store.close()


def test_threads_hold_release_and_read_without_losing_a_blob(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    """Intake, the core's worker thread and handler threads use it at once: each call sees a whole state."""
    _, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    extensions = Extensions(store)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(300):
                extensions.hold(encoded)
                served = extensions.cached_samples(encoded.data_root, CORNER)
                assert served is None or served == encoded.get_samples(CORNER)
                extensions.release(encoded.data_root)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    assert extensions.dispersing(encoded.data_root) is None
    store.close()
