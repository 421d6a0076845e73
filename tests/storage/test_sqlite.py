"""The shared SQLite plumbing: connection settings, transactions that commit or roll back whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.sqlite import connect, transaction


class Refused(Exception):
    """Raised by the test's `on_begin_failed`."""


def test_connect_creates_the_folder_and_applies_the_shared_settings(tmp_path: Path) -> None:
    db = connect(tmp_path / "deep" / "store.sqlite")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert db.execute("PRAGMA foreign_keys").fetchone() == (1,)
        assert db.isolation_level is None  # no implicit transactions
    finally:
        db.close()


def test_a_transaction_commits_whole_or_not_at_all(tmp_path: Path) -> None:
    db = connect(tmp_path / "store.sqlite")
    try:
        db.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        with transaction(db):
            db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
        with pytest.raises(sqlite3.IntegrityError), transaction(db):
            db.execute("INSERT INTO t VALUES (3)")
            db.execute("INSERT INTO t VALUES (1)")  # duplicate: the 3 goes too
        assert db.execute("SELECT x FROM t ORDER BY x").fetchall() == [(1,), (2,)]
        assert not db.in_transaction
    finally:
        db.close()


def test_a_begin_that_fails_raises_the_callers_error(tmp_path: Path) -> None:
    db = connect(tmp_path / "store.sqlite")
    try:
        db.execute("BEGIN")  # a transaction already open: BEGIN IMMEDIATE fails
        with pytest.raises(Refused) as refused, transaction(db, on_begin_failed=lambda e: Refused(str(e))):
            pytest.fail("the body must not run")
        assert isinstance(refused.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(sqlite3.OperationalError), transaction(db):
            pytest.fail("the body must not run")
    finally:
        db.close()


def test_a_commit_that_fails_rolls_back_and_the_next_transaction_runs(tmp_path: Path) -> None:
    """A COMMIT can fail after the body succeeded (here a deferred foreign key; in production a full
    disk): the connection must not stay inside the failed transaction."""
    db = connect(tmp_path / "store.sqlite")
    try:
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        db.execute(
            "CREATE TABLE child (id INTEGER PRIMARY KEY,"
            " parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
        )
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"), transaction(db):
            db.execute("INSERT INTO child VALUES (1, 42)")  # checked only at COMMIT
        assert not db.in_transaction
        with transaction(db):
            db.execute("INSERT INTO parent VALUES (42)")
            db.execute("INSERT INTO child VALUES (1, 42)")
        assert db.execute("SELECT id, parent FROM child").fetchall() == [(1, 42)]
    finally:
        db.close()
