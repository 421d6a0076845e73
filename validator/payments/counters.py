"""A sequencer's durable cumulative counters: for each (account, node, chain, payments contract), the
highest cumulative amount it has ever signed a promise for (specs/validator.md, "Payments").

A promise's `cumulative` must grow with every blob posted to a node, and must never be reused for
another blob. So the counter is advanced, in one SQLite transaction committed with `synchronous=FULL`
(on disk when `advance` returns), *before* the promise is signed and sent:

- a crash after the advance and before the post loses nothing but that blob's cost: the next run
  starts from the advanced value, and the node, which never saw the lost promise, accepts the larger
  increment (any increment at least the blob's cost). The sequencer's loss is bounded by one blob;
- a promise is never signed twice with the same cumulative, whatever crashes, since the value it
  carries is on disk before it exists;
- two processes posting to the same node serialise on the file's write lock and never share a value.

A node that refuses a promise outright (402, 401, 400, 429: it took nothing) gets its value back
(`release`), so a refused post does not raise what the next promise owes. A post whose fate is
unknown (the process crashed, the connection dropped, the node answered 5xx) keeps its value.

Apart from `release`, a counter never goes down: `advance` starts from the larger of what is stored
and what the node says it holds (`floor`), so a lost or copied counter file is resynchronised from
the node.

Amounts are uint256, beyond SQLite's 64-bit integers, so they are stored as decimal text.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from storage.sqlite import connect, serialized, transaction
from validator.errors import ValidatorError
from validator.payments.promise import MAX_UINT256

COUNTERS_SUFFIX: Final = ".counters.sqlite"
"""The default counter file sits next to the keystore: `KEYSTORE` + this suffix."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS counters (
    account TEXT NOT NULL,
    node TEXT NOT NULL,
    chain_id INTEGER NOT NULL,
    contract TEXT NOT NULL,
    cumulative TEXT NOT NULL,
    last_data_root TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (account, node, chain_id, contract)
) WITHOUT ROWID
"""


class CounterStoreError(ValidatorError):
    """Raised when the counter file cannot be opened or written, or an advance is out of range;
    nothing was advanced."""


@dataclass(frozen=True, slots=True)
class CounterKey:
    """Whose counter: the paying account, the node paid (its payee address), and the EIP-712 domain
    (chain id and payments contract) its promises are signed under. Addresses are checksummed."""

    account: str
    node: str
    chain_id: int
    contract: str


@dataclass(frozen=True, slots=True)
class Advance:
    """One advance: the counter before (`previous`, the larger of the stored value and the floor)
    and after (`cumulative`, what the next promise carries)."""

    previous: int
    cumulative: int

    @property
    def increment(self) -> int:
        """What the promise adds to the node's held amount, when the node held `previous`."""
        return self.cumulative - self.previous


def default_counters_path(keystore: Path) -> Path:
    """The counter file of the account in `keystore`: beside it, named after it."""
    return keystore.with_name(keystore.name + COUNTERS_SUFFIX)


class PromiseCounters:
    """The counter file at `path` (created when missing). One connection, serialised across this
    process's threads; other processes serialise on SQLite's write lock. Bounded: one row per
    (account, node, chain, contract) the sequencer ever paid."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = connect(path)
            self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise CounterStoreError(f"cannot open the payment counters at {path}: {error}") from error

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> PromiseCounters:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @serialized
    def get(self, key: CounterKey) -> int:
        """The highest cumulative signed for `key` so far (0 if none)."""
        row = self._db.execute(
            "SELECT cumulative FROM counters WHERE account=? AND node=? AND chain_id=? AND contract=?",
            (key.account, key.node, key.chain_id, key.contract),
        ).fetchone()
        return 0 if row is None else int(row[0])

    @serialized
    def advance(self, key: CounterKey, increment: int, *, floor: int = 0, data_root: bytes = b"") -> Advance:
        """Raise `key`'s counter to max(stored, `floor`) + `increment` and commit it durably; returns
        the values before and after. `increment` must be at least 1 (a promise must add something);
        `data_root` names the blob the new value is for (kept for the record, not checked)."""
        if increment < 1:
            raise CounterStoreError(f"a counter advances by at least 1 wei, not {increment}")
        if floor < 0:
            raise CounterStoreError(f"a node cannot hold a negative amount ({floor})")
        try:
            with transaction(self._db, on_begin_failed=self._begin_failed):
                row = self._db.execute(
                    "SELECT cumulative FROM counters "
                    "WHERE account=? AND node=? AND chain_id=? AND contract=?",
                    (key.account, key.node, key.chain_id, key.contract),
                ).fetchone()
                previous = max(0 if row is None else int(row[0]), floor)
                cumulative = previous + increment
                if cumulative > MAX_UINT256:
                    raise CounterStoreError(f"the counter of {key.account} for {key.node} would pass 2**256")
                self._db.execute(
                    "INSERT INTO counters VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (account, node, chain_id, contract) DO UPDATE SET "
                    "cumulative=excluded.cumulative, last_data_root=excluded.last_data_root, "
                    "updated_at=excluded.updated_at",
                    (
                        key.account,
                        key.node,
                        key.chain_id,
                        key.contract,
                        str(cumulative),
                        "0x" + data_root.hex(),
                        time.time(),
                    ),
                )
        except sqlite3.Error as error:
            raise CounterStoreError(f"cannot write the payment counters at {self.path}: {error}") from error
        return Advance(previous, cumulative)

    @serialized
    def release(self, key: CounterKey, advance: Advance) -> bool:
        """Take `advance` back after the node refused its promise outright (it says it holds nothing
        of it): the counter returns to `advance.previous`, but only while `advance.cumulative` is still
        the latest value (no process advanced since). True if it did.

        Safe for the sequencer whatever the node does: a promise only ever owes its cumulative, and
        a node settles the highest it holds, so signing a released value again never owes more than
        the highest value ever signed. Without it each refused promise (an escrow found short, say)
        would raise the amount the next one owes, and the account could never catch up."""
        try:
            with transaction(self._db, on_begin_failed=self._begin_failed):
                changed = self._db.execute(
                    "UPDATE counters SET cumulative=?, updated_at=? "
                    "WHERE account=? AND node=? AND chain_id=? AND contract=? AND cumulative=?",
                    (
                        str(advance.previous),
                        time.time(),
                        key.account,
                        key.node,
                        key.chain_id,
                        key.contract,
                        str(advance.cumulative),
                    ),
                ).rowcount
        except sqlite3.Error as error:
            raise CounterStoreError(f"cannot write the payment counters at {self.path}: {error}") from error
        return changed == 1

    def _begin_failed(self, error: sqlite3.OperationalError) -> Exception:
        return CounterStoreError(f"the payment counters at {self.path} are not writable: {error}")
