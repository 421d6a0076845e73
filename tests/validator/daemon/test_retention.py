"""Retention on a real SQLite file: expired blobs' data pruned in bounded batches (certificates and
headers kept), the file's freed pages given back so it stops growing, a version-1 file rebuilt for
incremental vacuum, a posted blob's raw bytes dropped once its extension is stored (and still read
back), the free-disk guard, and a failed write typed as a full disk."""

from __future__ import annotations

import errno
import random
import sqlite3
from pathlib import Path

import pytest
import trio

from da import EncodedBlob, encode_blob
from da.config import DAConfig
from da.kzg import CkzgBackend
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from storage.sqlite import is_write_failure
from validator.daemon.desk import read_blob_view
from validator.daemon.retention import DiskGuard, Retention, RetentionPolicy
from validator.daemon.store import BlobFailure, BlobStatus, NodeStore
from validator.errors import InsufficientStorage
from validator.types import BLSSignature, Certificate, Epoch, QuorumIndex


def _certificate(root: DataRoot, epoch: int) -> Certificate:
    return Certificate(
        root, Epoch(epoch), QuorumIndex(0), (True, True, False), BLSSignature(b"\xc0" + bytes(95))
    )


def _custody(store: NodeStore, encoded: EncodedBlob, epoch: int, columns: range) -> None:
    samples = [
        encoded.get_sample(CellCoordinate(RowIndex(row), ColumnIndex(column)))
        for row in range(len(encoded.rows))
        for column in columns
    ]
    store.put_custody(encoded.header, encoded.data_root, Epoch(epoch), QuorumIndex(0), samples)


def test_expired_blobs_lose_their_data_and_keep_header_record_and_certificate(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    old_data, old = one_row_blob
    new_data, new = two_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(old_data, old.header, old.data_root, Epoch(1), QuorumIndex(0), 6, old.rows)
    _custody(store, old, 1, range(0, 32))
    store.update_blob(old.data_root, BlobStatus.CERTIFIED, signed_slots=6)
    certificate = _certificate(old.data_root, 1)
    store.put_certificate(certificate)
    store.add_blob(new_data, new.header, new.data_root, Epoch(5), QuorumIndex(0), 6, new.rows)
    _custody(store, new, 5, range(0, 32))
    assert store.get_blob_data(old.data_root) == old_data  # unpacked from the extension

    result = store.prune_expired(Epoch(3), limit=16, now=1234.5, reclaim_pages=10_000)

    assert (result.blobs, result.custody_cells, result.extension_rows) == (1, 32, 1)
    assert result.data_roots == (old.data_root,)
    assert store.get_blob_data(old.data_root) is None
    assert store.get_extension(old.data_root) is None
    assert store.custody_coordinates(old.data_root) == []
    expiry = store.get_expiry(old.data_root)
    assert expiry is not None and (expiry.epoch, expiry.expired_at) == (1, 1234.5)
    assert store.get_certificate(old.data_root) == certificate  # a certificate still verifies
    assert store.get_header(old.data_root) is not None
    view = read_blob_view(store, old.data_root)
    assert view is not None and view.status == "certified"
    # The blob of epoch 5 is inside the window: untouched.
    assert store.get_expiry(new.data_root) is None
    assert store.get_blob_data(new.data_root) == new_data
    assert len(store.custody_coordinates(new.data_root)) == 64
    # Pruning again finds nothing more.
    assert store.prune_expired(Epoch(3), 16, 1300.0, 10_000).blobs == 0
    store.close()


def test_an_unfinished_blob_that_expires_is_failed_and_not_resumed(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6)
    assert [r.data_root for r in store.unfinished_blobs()] == [encoded.data_root]
    store.prune_expired(Epoch(1), 16, 10.0, 100)
    record = store.get_blob(encoded.data_root)
    assert record is not None and record.status is BlobStatus.FAILED
    assert record.error == "expired before it was certified"
    assert record.failure is BlobFailure.EPOCH_EXPIRED
    assert store.unfinished_blobs() == []
    store.close()


def _random_blobs(kzg: CkzgBackend, count: int, seed: int) -> list[tuple[bytes, EncodedBlob]]:
    rng = random.Random(seed)
    config = DAConfig()
    blobs = []
    for _ in range(count):
        data = rng.randbytes(100_000)
        blobs.append((data, encode_blob(data, kzg, config)))
    return blobs


def test_pruning_gives_pages_back_so_the_file_stops_growing(tmp_path: Path, kzg: CkzgBackend) -> None:
    blobs = _random_blobs(kzg, 6, seed=27)
    store = NodeStore(tmp_path / "node.sqlite")
    for epoch, (data, encoded) in enumerate(blobs[:3]):
        store.add_blob(data, encoded.header, encoded.data_root, Epoch(epoch), QuorumIndex(0), 6, encoded.rows)
    full = store.file_bytes()
    assert full > 3 * 262_144  # three extensions of one row each (128 cells and proofs: 268 kB)

    # Bounded batches: one blob per batch.
    first = store.prune_expired(Epoch(3), limit=1, now=1.0, reclaim_pages=100_000)
    assert first.blobs == 1 and first.free_pages == 0
    store.prune_expired(Epoch(3), limit=8, now=2.0, reclaim_pages=100_000)
    pruned = store.file_bytes()
    assert pruned < full / 4, (full, pruned)  # the file shrank: freed pages went back
    assert (tmp_path / "node.sqlite-wal").stat().st_size == 0  # and the WAL's space too
    assert (tmp_path / "node.sqlite").stat().st_size == pruned

    # As much data again: the file grows back to about where it was, not beyond.
    for epoch, (data, encoded) in enumerate(blobs[3:], start=3):
        store.add_blob(data, encoded.header, encoded.data_root, Epoch(epoch), QuorumIndex(0), 6, encoded.rows)
    store.prune_expired(Epoch(6), limit=8, now=3.0, reclaim_pages=100_000)
    assert store.file_bytes() <= pruned + 64 * 1024
    store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (tmp_path / "node.sqlite").stat().st_size <= pruned + 64 * 1024
    store.close()


def test_a_file_made_before_incremental_vacuum_is_rebuilt_once_and_keeps_its_data(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    path = tmp_path / "node.sqlite"
    store = NodeStore(path)
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6)
    store.close()
    old = sqlite3.connect(path)  # as schema 1 left it: no auto-vacuum
    old.execute("PRAGMA auto_vacuum=0")
    old.execute("VACUUM")
    assert old.execute("PRAGMA auto_vacuum").fetchone() == (0,)
    old.close()

    reopened = NodeStore(path)
    assert reopened.rebuilt
    assert reopened._db.execute("PRAGMA auto_vacuum").fetchone() == (2,)
    assert reopened.get_blob_data(encoded.data_root) == data
    reopened.close()
    assert not NodeStore(path).rebuilt  # once


def test_a_posted_blob_keeps_its_raw_bytes_only_until_its_extension_is_stored(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), 6)
    (raw,) = store._db.execute("SELECT data FROM blobs").fetchone()
    assert raw == data
    store.put_extension(encoded.data_root, encoded.rows)
    (raw,) = store._db.execute("SELECT data FROM blobs").fetchone()
    assert raw is None
    assert store.get_blob_data(encoded.data_root) == data  # the extension's systematic half
    assert store.find_blob_by_content(data) is not None  # a repeated post is still recognised
    store.close()


def test_the_pruning_task_prunes_past_the_window_and_tells_the_memory_owners(
    tmp_path: Path, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    store = NodeStore(tmp_path / "node.sqlite")
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(4), QuorumIndex(0), 6, encoded.rows)
    forgotten: list[DataRoot] = []
    current = [Epoch(6)]
    policy = RetentionPolicy(window_epochs=2, prune_batch_blobs=1)
    retention = Retention(store, policy, lambda: current[0], forgotten.extend)

    assert trio.run(retention.prune_round).blobs == 0  # epoch 4 is served through epoch 6
    current[0] = Epoch(7)
    assert trio.run(retention.prune_round).blobs == 1
    assert forgotten == [encoded.data_root]
    assert store.get_expiry(encoded.data_root) is not None
    store.close()


def test_the_disk_guard_refuses_below_its_threshold_and_for_a_while_after_a_full_write(
    tmp_path: Path,
) -> None:
    now = [100.0]
    free = DiskGuard(tmp_path, 0, hold_s=5.0, clock=lambda: now[0])
    free.check()
    with pytest.raises(InsufficientStorage) as refused:
        DiskGuard(tmp_path, free.free_bytes() + 2**40).check()
    assert refused.value.free_bytes is not None and refused.value.min_free_bytes > refused.value.free_bytes

    assert not free.disk_full(sqlite3.OperationalError("no such table: x"))
    assert free.disk_full(sqlite3.OperationalError("database or disk is full"))
    with pytest.raises(InsufficientStorage):
        free.check()
    assert free.write_failed_recently()
    now[0] += 5.1
    free.check()  # space came back (nothing failed since): data is taken again


def test_a_write_past_the_file_size_limit_is_typed_as_a_full_disk(tmp_path: Path) -> None:
    assert is_write_failure(OSError(errno.ENOSPC, "No space left on device"))
    assert is_write_failure(OSError(errno.EFBIG, "File too large"))
    assert not is_write_failure(OSError(errno.EACCES, "Permission denied"))
    # A real SQLite file on a real (tiny) limit: the error SQLite raises is recognised.
    import resource  # noqa: PLC0415 - POSIX only, this test alone

    db = sqlite3.connect(tmp_path / "full.sqlite")
    db.execute("CREATE TABLE t (x BLOB)")
    db.commit()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, hard))
    try:
        with pytest.raises(sqlite3.OperationalError) as failed:
            for _ in range(64):
                db.execute("INSERT INTO t VALUES (randomblob(65536))")
                db.commit()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        db.close()
    assert is_write_failure(failed.value), repr(failed.value)


def test_the_resources_table_of_the_spec_gives_the_code_defaults() -> None:
    """specs/validator.md's bounds table: every default it states is the code's."""
    import dataclasses  # noqa: PLC0415

    from validator.core import CoreConfig  # noqa: PLC0415
    from validator.daemon.config import DaemonConfig  # noqa: PLC0415

    spec = (Path(__file__).parents[3] / "specs" / "validator.md").read_text()
    section = spec.split("### Storage, retention and memory", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| Bound") and not line.startswith("| -")
    ]
    assert len(rows) >= 10
    daemon = {f.name: f.default for f in dataclasses.fields(DaemonConfig)}
    owners = {"CoreConfig": CoreConfig(), "RetentionPolicy": RetentionPolicy()}
    checked = 0
    for _bound, field, default, *_ in rows:
        name = field.strip("`")
        if "." in name:
            owner, attribute = name.split(".")
            value = getattr(owners[owner], attribute)
        else:
            value = daemon[name]
        assert str(value) == default or float(value) == float(default), (name, value, default)
        checked += 1
    assert checked == len(rows)
