"""Durable light-client results: one SQLite (WAL) row per data root, so `follow` resumes after a crash.

Besides finished results, the store keeps the roots still *pending* (received, not yet finished)
with an opaque payload (`follow` stores the certificate bytes), so a restart resumes them. Finishing
a root removes its pending row in the same transaction. Calls are serialised by a lock, so the store
may be used from worker threads (one call at a time).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from da.types import ColumnIndex, DataRoot
from sampling.sampler import SamplingSummary

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    data_root BLOB PRIMARY KEY,
    status TEXT NOT NULL,
    confidence REAL NOT NULL,
    target REAL NOT NULL,
    verified INTEGER NOT NULL,
    invalid INTEGER NOT NULL,
    missing INTEGER NOT NULL,
    column_failures TEXT NOT NULL,
    finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    data_root BLOB PRIMARY KEY,
    payload BLOB NOT NULL,
    arrived_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class StoredResult:
    """A finished sampling run of one data root."""

    data_root: DataRoot
    status: str
    confidence: float
    target: float
    verified: int
    invalid: int
    missing: int
    column_failures: dict[ColumnIndex, int]
    finished_at: float


@dataclass(frozen=True)
class PendingRoot:
    """A root received but not finished, with its payload (opaque here) and arrival time."""

    data_root: DataRoot
    payload: bytes
    arrived_at: float


class ResultStore:
    """Per-data-root results in one SQLite file; a finished root is never sampled again."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def put(
        self,
        data_root: DataRoot,
        summary: SamplingSummary,
        column_failures: dict[ColumnIndex, int],
        now: float | None = None,
    ) -> StoredResult:
        """Record a finished run (replacing an earlier one for the same root)."""
        status = "available" if summary.available else "unavailable"
        finished = time.time() if now is None else now
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        data_root,
                        status,
                        summary.confidence,
                        summary.target,
                        summary.verified,
                        summary.invalid,
                        summary.missing,
                        json.dumps({str(k): v for k, v in sorted(column_failures.items())}),
                        finished,
                    ),
                )
                self._db.execute("DELETE FROM pending WHERE data_root = ?", (data_root,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        result = self.get(data_root)
        if result is None:
            raise sqlite3.DatabaseError("result vanished right after it was written")
        return result

    def get(self, data_root: DataRoot) -> StoredResult | None:
        """The stored result of `data_root`, if it was finished."""
        with self._lock:
            row = self._db.execute("SELECT * FROM results WHERE data_root = ?", (data_root,)).fetchone()
        if row is None:
            return None
        return StoredResult(
            data_root=DataRoot(row[0]),
            status=row[1],
            confidence=row[2],
            target=row[3],
            verified=row[4],
            invalid=row[5],
            missing=row[6],
            column_failures={ColumnIndex(int(k)): v for k, v in json.loads(row[7]).items()},
            finished_at=row[8],
        )

    def is_finished(self, data_root: DataRoot) -> bool:
        """True when `data_root` was already sampled to the end."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM results WHERE data_root = ?", (data_root,)).fetchone()
        return row is not None

    def count(self) -> int:
        """How many data roots have results."""
        with self._lock:
            (total,) = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        return int(total)

    def update_pending(self, added: Iterable[PendingRoot], removed: Iterable[DataRoot] = ()) -> None:
        """Record roots received (unless already finished) and forget others, in one transaction."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for pending in added:
                    self._db.execute(
                        "INSERT OR IGNORE INTO pending SELECT ?, ?, ? "
                        "WHERE NOT EXISTS (SELECT 1 FROM results WHERE data_root = ?)",
                        (pending.data_root, pending.payload, pending.arrived_at, pending.data_root),
                    )
                self._db.executemany("DELETE FROM pending WHERE data_root = ?", [(root,) for root in removed])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get_pending(self) -> list[PendingRoot]:
        """Roots received and not finished, oldest first (what a restart resumes)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT data_root, payload, arrived_at FROM pending ORDER BY arrived_at, data_root"
            ).fetchall()
        return [PendingRoot(DataRoot(root), bytes(payload), float(at)) for root, payload, at in rows]
