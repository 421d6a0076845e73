"""Durable light-client results: one SQLite (WAL) row per data root, so `follow` resumes after a crash.

Besides finished results, the store keeps the roots still *pending* (received, not yet finished)
with an opaque payload (`follow` stores the certificate bytes), so a restart resumes them. Finishing
a root removes its pending row in the same transaction. Calls are serialised by a lock, so the store
may be used from worker threads (one call at a time). The file is opened and written through
`storage.sqlite`, as the validator's stores are.
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
from storage.sqlite import connect, serialized, transaction

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
        self._lock = threading.RLock()
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    @serialized
    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @serialized
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
        with transaction(self._db) as db:
            db.execute(
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
            db.execute("DELETE FROM pending WHERE data_root = ?", (data_root,))
        result = self.get(data_root)
        if result is None:
            raise sqlite3.DatabaseError("result vanished right after it was written")
        return result

    @serialized
    def get(self, data_root: DataRoot) -> StoredResult | None:
        """The stored result of `data_root`, if it was finished."""
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

    @serialized
    def is_finished(self, data_root: DataRoot) -> bool:
        """True when `data_root` was already sampled to the end."""
        row = self._db.execute("SELECT 1 FROM results WHERE data_root = ?", (data_root,)).fetchone()
        return row is not None

    @serialized
    def count(self) -> int:
        """How many data roots have results."""
        (total,) = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        return int(total)

    @serialized
    def update_pending(self, added: Iterable[PendingRoot], removed: Iterable[DataRoot] = ()) -> None:
        """Record roots received (unless already finished) and forget others, in one transaction."""
        with transaction(self._db) as db:
            for pending in added:
                db.execute(
                    "INSERT OR IGNORE INTO pending SELECT ?, ?, ? "
                    "WHERE NOT EXISTS (SELECT 1 FROM results WHERE data_root = ?)",
                    (pending.data_root, pending.payload, pending.arrived_at, pending.data_root),
                )
            db.executemany("DELETE FROM pending WHERE data_root = ?", [(root,) for root in removed])

    @serialized
    def get_pending(self) -> list[PendingRoot]:
        """Roots received and not finished, oldest first (what a restart resumes)."""
        rows = self._db.execute(
            "SELECT data_root, payload, arrived_at FROM pending ORDER BY arrived_at, data_root"
        ).fetchall()
        return [PendingRoot(DataRoot(root), bytes(payload), float(at)) for root, payload, at in rows]
