"""Retention and disk: the availability window after which a blob's data is pruned, the task that
prunes in bounded batches, and the free-disk guard that refuses new data before the disk fills
(specs/validator.md, Resources and retention).

The window counts epochs, as the protocol does: a blob of epoch `e` is served through epoch
`e + window_epochs` and pruned once the registry's current epoch is past it. Headers, blob records and
certificates are kept (a few hundred bytes each), so a certificate still verifies after its data is
gone and a read of the data answers 410 Gone with when it expired.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog
import trio

from da.types import DataRoot
from storage.sqlite import is_write_failure
from validator.daemon.metrics import NodeMetrics
from validator.daemon.store import NodeStore, PruneResult
from validator.errors import InsufficientStorage
from validator.types import Epoch

log = structlog.get_logger(__name__)

DEFAULT_RETENTION_EPOCHS = 24
"""One day of the devnet's 1-hour epochs. Mainnet: 14 days (EIP-4844's 4096 epochs of 6.4 min is
about 18 days), i.e. 336 epochs of 1 hour."""
DEFAULT_MIN_FREE_DISK_BYTES = 512 * 1024 * 1024
"""Below this much free space on the data directory's file system new data is refused: room for a
few hundred MiB of custody still in flight and for SQLite's journal to commit."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long data is kept and how pruning runs (every field bounded; see `validate`)."""

    window_epochs: int = DEFAULT_RETENTION_EPOCHS
    prune_interval_s: float = 30.0
    """How often the pruning task looks for expired blobs."""
    prune_batch_blobs: int = 16
    """Blobs pruned per transaction (a 1 MiB blob is about 2.4 MiB of extension on its encoder)."""
    prune_batches_per_round: int = 8
    """Transactions per round at most (the rest waits for the next round)."""
    reclaim_pages_per_batch: int = 8192
    """Freed pages given back to the file system after each batch (32 MiB of 4 KiB pages)."""
    min_free_disk_bytes: int = DEFAULT_MIN_FREE_DISK_BYTES

    def first_kept_epoch(self, current: Epoch) -> Epoch:
        """Blobs of epochs before this one have expired in epoch `current`."""
        return Epoch(max(0, current - self.window_epochs))


class DiskGuard:
    """Says whether this node may take more data: free space on the data directory's file system is
    at least `min_free_bytes`, and no write failed for lack of space in the last `hold_s` seconds.
    Thread-safe (the intake, the request handlers and the core's worker thread all ask)."""

    def __init__(
        self,
        path: Path,
        min_free_bytes: int,
        *,
        hold_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self.min_free_bytes = min_free_bytes
        self._hold_s = hold_s
        self._clock = clock
        self._lock = threading.Lock()
        self._full_until = float("-inf")
        self._last_failure = ""

    def free_bytes(self) -> int:
        """Free bytes on the data directory's file system (for an unprivileged process)."""
        return shutil.disk_usage(self._path).free

    def check(self) -> None:
        """Raise `InsufficientStorage` when new data must be refused."""
        with self._lock:
            if self._clock() < self._full_until:
                raise InsufficientStorage(None, self.min_free_bytes, f"a write failed: {self._last_failure}")
        free = self.free_bytes()
        if free < self.min_free_bytes:
            raise InsufficientStorage(
                free, self.min_free_bytes, f"{free} bytes free, {self.min_free_bytes} required"
            )

    def write_failed_recently(self) -> bool:
        """True within `hold_s` seconds of a write that failed for lack of space."""
        with self._lock:
            return self._clock() < self._full_until

    def note_write_failed(self, error: BaseException) -> InsufficientStorage:
        """Record a write that failed for lack of space (new data is refused for `hold_s` seconds);
        the error to raise instead."""
        with self._lock:
            self._full_until = self._clock() + self._hold_s
            self._last_failure = str(error) or type(error).__name__
        return InsufficientStorage(None, self.min_free_bytes, f"a write failed: {error}")

    def disk_full(self, error: BaseException) -> bool:
        """True (and recorded) if `error` is a write that failed for lack of space."""
        if is_write_failure(error):
            self.note_write_failed(error)
            return True
        return False


class Retention:
    """The pruning task of one node: owns the schedule; the store does the deleting."""

    def __init__(
        self,
        store: NodeStore,
        policy: RetentionPolicy,
        current_epoch: Callable[[], Epoch],
        forget: Callable[[list[DataRoot]], None],
        metrics: NodeMetrics | None = None,
    ) -> None:
        """`forget` is told the data roots each batch pruned (in-memory owners drop them)."""
        self._metrics = metrics
        self._store = store
        self._policy = policy
        self._current_epoch = current_epoch
        self._forget = forget

    async def run(self) -> None:
        """Prune one round every `prune_interval_s` until cancelled; a failing round is logged and
        the next one tries again (pruning frees space: it must outlive a full disk)."""
        while True:
            try:
                await self.prune_round()
            except (sqlite3.Error, OSError) as error:
                log.error("pruning failed", error=str(error))
            await trio.sleep(self._policy.prune_interval_s)

    async def prune_round(self) -> PruneResult:
        """Prune expired blobs in batches (at most `prune_batches_per_round`); the totals."""
        policy = self._policy
        before = policy.first_kept_epoch(await trio.to_thread.run_sync(self._current_epoch))
        blobs = cells = rows = free = 0
        for _ in range(policy.prune_batches_per_round):
            result = await trio.to_thread.run_sync(
                self._store.prune_expired,
                before,
                policy.prune_batch_blobs,
                time.time(),
                policy.reclaim_pages_per_batch,
            )
            self._forget(list(result.data_roots))
            blobs, cells, rows, free = (
                blobs + result.blobs,
                cells + result.custody_cells,
                rows + result.extension_rows,
                result.free_pages,
            )
            if result.blobs < policy.prune_batch_blobs:
                break
        if self._metrics is not None:
            self._metrics.blobs_pruned.inc(blobs)
            self._metrics.store_bytes.set(await trio.to_thread.run_sync(self._store.file_bytes))
        if blobs:
            log.info(
                "expired blobs pruned",
                before_epoch=before,
                blobs=blobs,
                custody_cells=cells,
                extension_rows=rows,
                free_pages=free,
            )
        return PruneResult(blobs, cells, rows, free)
