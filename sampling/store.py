"""Durable light-client results: one SQLite (WAL) row per data root, so `follow` resumes after a crash."""

from __future__ import annotations

import json
import sqlite3
import time
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


class ResultStore:
    """Per-data-root results in one SQLite file; a finished root is never sampled again."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the file."""
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
        result = self.get(data_root)
        if result is None:
            raise sqlite3.DatabaseError("result vanished right after it was written")
        return result

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

    def is_finished(self, data_root: DataRoot) -> bool:
        """True when `data_root` was already sampled to the end."""
        return (
            self._db.execute("SELECT 1 FROM results WHERE data_root = ?", (data_root,)).fetchone() is not None
        )

    def count(self) -> int:
        """How many data roots have results."""
        (total,) = self._db.execute("SELECT COUNT(*) FROM results").fetchone()
        return int(total)
