"""The one owner of encoded blobs in memory: a dispersing blob is served from memory until released,
then rebuilt from the store's extension, and at most `recent` rebuilt blobs stay in memory."""

from __future__ import annotations

import threading
from pathlib import Path

from da import EncodedBlob, encode_blob
from da.kzg import CkzgBackend
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
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
    extensions.hold(encoded, "ip:198.51.100.1")
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
    for root, blob in zip((first, second), blobs[:2], strict=True):
        assert extensions.get_samples(root, CORNER) == blob.get_samples(CORNER)
    assert extensions.cached_samples(first, CORNER) is not None  # first is now the most recent
    assert extensions.get_samples(third, CORNER) == blobs[2].get_samples(CORNER)  # evicts second
    assert extensions.cached_samples(second, CORNER) is None
    assert extensions.cached_samples(first, CORNER) == blobs[0].get_samples(CORNER)
    assert extensions.cached_samples(third, CORNER) == blobs[2].get_samples(CORNER)
    assert extensions.get_samples(DataRoot(b"\x05" * 32), CORNER) is None
    store.close()


class _SlowStore(NodeStore):
    """The real store, whose extension reads wait until the test lets them go (a slow disk)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reading = threading.Event()
        self.go_on = threading.Event()

    def get_extension(self, data_root: DataRoot) -> EncodedBlob | None:
        self.reading.set()
        if not self.go_on.wait(timeout=30):
            raise TimeoutError("the test never let the read go on")
        return super().get_extension(data_root)


def test_a_slow_rebuild_from_disk_does_not_hold_up_the_other_callers(
    tmp_path: Path, kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    """The core's worker thread pushing custody must not wait behind a request handler's disk read."""
    store = _SlowStore(tmp_path / "node.sqlite")
    stored = _stored(store, b"\x01" * 1000, kzg)
    _, dispersing = one_row_blob
    extensions = Extensions(store)
    rebuilt: list[list[Sample | None] | None] = []
    reader = threading.Thread(target=lambda: rebuilt.append(extensions.get_samples(stored.data_root, CORNER)))
    reader.start()
    try:
        assert store.reading.wait(timeout=30), "the rebuild never reached the store"
        answered = threading.Event()

        def other_callers() -> None:
            extensions.hold(dispersing, "ip:198.51.100.1")
            extensions.dispersing(dispersing.data_root)
            extensions.cached_samples(dispersing.data_root, CORNER)
            extensions.release(dispersing.data_root)
            answered.set()

        threading.Thread(target=other_callers, daemon=True).start()
        assert answered.wait(timeout=10), "hold/dispersing/release waited for another caller's disk read"
    finally:
        store.go_on.set()
        reader.join(timeout=30)
    assert rebuilt == [stored.get_samples(CORNER)]
    store.close()


def test_blobs_dispersing_are_counted_per_account_until_released_or_forgotten(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    store = NodeStore(tmp_path / "node.sqlite")
    extensions = Extensions(store)
    one, two = one_row_blob[1], two_row_blob[1]
    extensions.hold(one, "ip:198.51.100.1")
    extensions.hold(two, "ip:198.51.100.1")
    extensions.hold(one, "ip:198.51.100.2")  # held already: it stays its first account's
    assert extensions.dispersing_per_account() == {"ip:198.51.100.1": 2}
    extensions.release(one.data_root)
    extensions.release(one.data_root)  # twice: nothing more to give back
    assert extensions.dispersing_per_account() == {"ip:198.51.100.1": 1}
    extensions.forget([two.data_root])
    assert extensions.dispersing_per_account() == {}  # no account is kept holding nothing
    store.close()
