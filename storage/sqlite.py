"""One SQLite file per store, opened and written the same way everywhere.

`connect` opens a connection in WAL mode with `synchronous=FULL` (a write has reached the disk when
its call returns, so a process killed with SIGKILL keeps every write it acknowledged), a busy timeout
(writers from several processes wait for each other instead of failing), foreign keys enforced, and
no implicit transactions: every write goes through `transaction`. The connection may be used from
several threads, one call at a time: its owner serialises them with `serialized`.
"""

from __future__ import annotations

import errno
import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another's transaction before `BEGIN IMMEDIATE` fails."""

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating it and its folder if missing) the SQLite file at `path` with the shared settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def transaction(
    db: sqlite3.Connection,
    *,
    on_begin_failed: Callable[[sqlite3.OperationalError], Exception] | None = None,
) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` (the write lock, taken up front so concurrent writers serialise), then
    `COMMIT`, or `ROLLBACK` if the body or the `COMMIT` raises (the connection is never left inside a
    transaction, where every later `BEGIN` would fail). When `BEGIN` fails (the lock not taken within the
    busy timeout, a read-only file), `on_begin_failed` turns the `sqlite3.OperationalError` into the
    caller's own error, raised from it."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        if on_begin_failed is None:
            raise
        raise on_begin_failed(error) from error
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # the body failed, or COMMIT itself did (a deferred constraint, a full disk)
            db.execute("ROLLBACK")
        raise


def serialized(method: Callable[..., T]) -> Callable[..., T]:
    """Run `method` under `self._lock` (an RLock the owning object creates in `__init__`): one
    connection shared by a process's threads, one call at a time."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


AUTO_VACUUM_INCREMENTAL = 2
"""`PRAGMA auto_vacuum` value of INCREMENTAL: freed pages are kept in a list that
`PRAGMA incremental_vacuum` gives back to the file system."""


def ensure_incremental_vacuum(db: sqlite3.Connection) -> bool:
    """Make the file's freed pages reclaimable (`auto_vacuum=INCREMENTAL`). A new file takes the
    setting at once; an existing file made without it is rebuilt once (`VACUUM`, which needs free
    disk about the file's size and holds the write lock while it runs). True if it rebuilt the file."""
    (mode,) = db.execute("PRAGMA auto_vacuum").fetchone()
    if mode == AUTO_VACUUM_INCREMENTAL:
        return False
    db.execute(f"PRAGMA auto_vacuum={AUTO_VACUUM_INCREMENTAL}")
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    if pages == 0:  # nothing written yet: the setting holds from the first table on
        return False
    db.execute("VACUUM")
    return True


def reclaim_free_pages(db: sqlite3.Connection, pages: int) -> int:
    """Give up to `pages` freed pages back to the file system (the file shrinks; outside any
    transaction); returns how many free pages remain."""
    if pages > 0:  # executescript steps the pragma to its end (`execute` frees one page per step)
        db.executescript(f"PRAGMA incremental_vacuum({int(pages)})")
    (free,) = db.execute("PRAGMA freelist_count").fetchone()
    return int(free)


def is_write_failure(error: BaseException) -> bool:
    """True when a write failed because the disk could not take it: full (SQLite's SQLITE_FULL, or an
    OSError with ENOSPC or EDQUOT), past the process's file-size limit (EFBIG, which SQLite reports as
    a write I/O error), or failing (any SQLITE_IOERR). Such a failure is the write's, not the program's."""
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in {sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}:
            return True
        return "database or disk is full" in str(error) or "disk I/O error" in str(error)
    if isinstance(error, OSError):
        return error.errno in {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}
    return False
