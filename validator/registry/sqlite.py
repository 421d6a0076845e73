"""The embedded registry: one SQLite file in WAL mode that the processes of a devnet share safely.

Every write runs in a `BEGIN IMMEDIATE` transaction, so concurrent writers from several processes
serialise on SQLite's lock (with a busy timeout) instead of failing or interleaving.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.sqlite import connect, serialized, transaction
from validator.errors import RegistryError, UnknownEpoch, UnknownValidator
from validator.keys import (
    BLSPubkey,
    BLSSignature,
    SecretKey,
    compute_proof_of_possession,
    verify_proof_of_possession,
)
from validator.presets import get_preset
from validator.registry import (
    STAKE_ACTIVATION_DELAY_EPOCHS,
    RegistryInfo,
    StakeReceipt,
    compute_epoch,
    compute_latest_fixed_epoch,
)
from validator.types import Ballot, Epoch, EpochContext, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_next_seed, verify_ballot

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS validators (
    idx INTEGER PRIMARY KEY,
    pubkey BLOB NOT NULL UNIQUE,
    pop BLOB NOT NULL,
    peer_id TEXT NOT NULL,
    multiaddrs TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stake_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    validator INTEGER NOT NULL REFERENCES validators(idx),
    effective_epoch INTEGER NOT NULL,
    amount INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS seeds (epoch INTEGER PRIMARY KEY, seed BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ballots (
    epoch INTEGER NOT NULL,
    validator INTEGER NOT NULL REFERENCES validators(idx),
    signature BLOB NOT NULL,
    PRIMARY KEY (epoch, validator)
);
"""


class SqliteRegistry:
    """`EpochSource`, `StakeLedger` and `BallotBox` over one SQLite file."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        if not path.exists():
            raise RegistryError(f"no registry at {path}; create one with `das validator genesis`")
        self.path = path
        self._db = connect(path)
        try:
            version = self._meta("schema_version")
        except RegistryError as error:
            self._db.close()
            raise RegistryError(f"{path} is not a Tessera registry") from error
        if int(version) != SCHEMA_VERSION:
            self._db.close()
            raise RegistryError(f"{path} has registry schema {version}, this build reads {SCHEMA_VERSION}")
        self._info = RegistryInfo(
            chain_id=int(self._meta("chain_id")),
            preset=self._meta("preset"),
            genesis_time=float(self._meta("genesis_time")),
            epoch_seconds=float(self._meta("epoch_seconds")),
        )
        if not self._info.epoch_seconds > 0:
            self._db.close()
            raise RegistryError(f"{path} has a non-positive epoch length ({self._info.epoch_seconds} s)")
        self.preset = get_preset(self._info.preset)
        self._last_change: StakeReceipt | None = None

    @classmethod
    def create(
        cls, path: Path, info: RegistryInfo, genesis_seed: Seed, clock: Callable[[], float] = time.time
    ) -> SqliteRegistry:
        """Create a new, empty registry file; refuses to overwrite an existing one."""
        get_preset(info.preset)
        if not info.epoch_seconds > 0:
            raise RegistryError(f"epoch length must be positive, got {info.epoch_seconds} s")
        if path.exists():
            raise RegistryError(f"{path} already exists; refusing to overwrite a registry")
        db = connect(path)
        try:
            db.executescript(_SCHEMA)
            with transaction(db):
                rows = {
                    "schema_version": str(SCHEMA_VERSION),
                    "chain_id": str(info.chain_id),
                    "preset": info.preset,
                    "genesis_time": repr(info.genesis_time),
                    "epoch_seconds": repr(info.epoch_seconds),
                }
                db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
                db.execute("INSERT INTO seeds VALUES (0, ?)", (genesis_seed,))
        finally:
            db.close()
        return cls(path, clock)

    @serialized
    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> SqliteRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- read side -------------------------------------------------------------------------------

    @serialized
    def get_info(self) -> RegistryInfo:
        """The network's genesis facts."""
        return self._info

    @serialized
    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """Seed, validators with their stake as of `epoch`, and the ballots of `epoch`."""
        seed = self.get_seed(epoch)
        rows = self._db.execute(
            "SELECT v.idx, v.pubkey, v.pop, v.peer_id, v.multiaddrs, COALESCE(SUM(s.amount), 0) "
            "FROM validators v LEFT JOIN stake_changes s ON s.validator = v.idx AND s.effective_epoch <= ? "
            "GROUP BY v.idx ORDER BY v.idx",
            (epoch,),
        ).fetchall()
        validators = tuple(
            ValidatorRecord(
                index=ValidatorIndex(idx),
                pubkey=BLSPubkey(pubkey),
                proof_of_possession=BLSSignature(pop),
                stake=int(stake),
                peer_id=peer_id,
                multiaddrs=tuple(json.loads(multiaddrs)),
            )
            for idx, pubkey, pop, peer_id, multiaddrs, stake in rows
            if stake > 0
        )
        return EpochContext(self._info.chain_id, epoch, seed, validators, self._ballots(epoch))

    @serialized
    def get_seed(self, epoch: Epoch) -> Seed:
        """seed(epoch), derived and stored on first use.

        seed(e) is fixed once the ballots of e - 1 are frozen, when e - 1 starts, so it is derived
        only for epochs up to `compute_latest_fixed_epoch` (the current one + 1 by the registry's
        clock; epoch 0 alone before genesis); later or negative epochs raise `UnknownEpoch`. Every
        process derives the same value.
        """
        latest = compute_latest_fixed_epoch(self._clock(), self._info.genesis_time, self._info.epoch_seconds)
        if not 0 <= epoch <= latest:
            raise UnknownEpoch(epoch)
        row = self._db.execute(
            "SELECT epoch, seed FROM seeds WHERE epoch <= ? ORDER BY epoch DESC LIMIT 1", (epoch,)
        ).fetchone()
        known, seed = Epoch(int(row[0])), Seed(row[1])
        while known < epoch:
            seed = compute_next_seed(seed, known, self._ballots(known))
            known = Epoch(known + 1)
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO seeds VALUES (?, ?)", (known, seed))
        return seed

    @serialized
    def current_epoch(self) -> Epoch:
        """The epoch now, by the registry's clock and the genesis facts."""
        return compute_epoch(self._clock(), self._info.genesis_time, self._info.epoch_seconds)

    @serialized
    def get_validator(self, validator: ValidatorIndex, epoch: Epoch) -> ValidatorRecord:
        """One validator's record with its stake as of `epoch`."""
        for record in self.get_epoch_context(epoch).validators:
            if record.index == validator:
                return record
        if self._exists(validator):
            raise RegistryError(f"validator {validator} has no stake in epoch {epoch}")
        raise UnknownValidator(validator)

    @serialized
    def find_validator(self, pubkey: BLSPubkey) -> ValidatorIndex | None:
        """The index registered for `pubkey`, if any."""
        row = self._db.execute("SELECT idx FROM validators WHERE pubkey = ?", (pubkey,)).fetchone()
        return None if row is None else ValidatorIndex(int(row[0]))

    # --- write side ------------------------------------------------------------------------------

    @property
    def last_change(self) -> StakeReceipt | None:
        """The last registration or stake change made through this handle (no transaction here)."""
        return self._last_change

    def sign_registration(self, secret_key: SecretKey) -> BLSSignature:
        """PopProve of the key (this registry is one file; there is no account to bind it to)."""
        return compute_proof_of_possession(secret_key)

    @serialized
    def register_validator(
        self,
        pubkey: BLSPubkey,
        proof_of_possession: BLSSignature,
        stake: int,
        peer_id: str = "",
        multiaddrs: tuple[str, ...] = (),
        *,
        effective_epoch: Epoch | None = None,
    ) -> ValidatorIndex:
        """Add a validator after checking its proof of possession; stake counts from the current
        epoch (read in the write transaction) + STAKE_ACTIVATION_DELAY_EPOCHS.

        `effective_epoch` overrides that only for genesis (epoch 0).
        """
        if not verify_proof_of_possession(pubkey, proof_of_possession):
            raise RegistryError("proof of possession does not verify for this public key")
        if stake <= 0:
            raise RegistryError(f"initial stake must be positive, got {stake}")
        with self._write() as db:
            effective = (
                Epoch(self.current_epoch() + STAKE_ACTIVATION_DELAY_EPOCHS)
                if effective_epoch is None
                else effective_epoch
            )
            if db.execute("SELECT 1 FROM validators WHERE pubkey = ?", (pubkey,)).fetchone():
                raise RegistryError("this public key is already registered")
            (next_index,) = db.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM validators").fetchone()
            index = ValidatorIndex(int(next_index))
            db.execute(
                "INSERT INTO validators (idx, pubkey, pop, peer_id, multiaddrs) VALUES (?, ?, ?, ?, ?)",
                (index, pubkey, proof_of_possession, peer_id, json.dumps(list(multiaddrs))),
            )
            db.execute(
                "INSERT INTO stake_changes (validator, effective_epoch, amount) VALUES (?, ?, ?)",
                (index, effective, stake),
            )
        self._last_change = StakeReceipt(index, effective)
        return index

    @serialized
    def change_stake(
        self, validator: ValidatorIndex, amount: int, *, effective_epoch: Epoch | None = None
    ) -> Epoch:
        """Deposit (> 0) or withdraw (< 0) from the current epoch (read in the write transaction) +
        STAKE_ACTIVATION_DELAY_EPOCHS; returns that epoch.

        `effective_epoch` overrides that only for genesis (epoch 0).
        """
        if amount == 0:
            raise RegistryError("a stake change must be non-zero")
        with self._write() as db:
            effective = (
                Epoch(self.current_epoch() + STAKE_ACTIVATION_DELAY_EPOCHS)
                if effective_epoch is None
                else effective_epoch
            )
            if not db.execute("SELECT 1 FROM validators WHERE idx = ?", (validator,)).fetchone():
                raise UnknownValidator(validator)
            (balance,) = db.execute(
                "SELECT COALESCE(SUM(amount), 0) FROM stake_changes WHERE validator = ?", (validator,)
            ).fetchone()
            if balance + amount < 0:
                raise RegistryError(f"cannot withdraw {-amount}: validator {validator} has {balance} staked")
            db.execute(
                "INSERT INTO stake_changes (validator, effective_epoch, amount) VALUES (?, ?, ?)",
                (validator, effective, amount),
            )
        self._last_change = StakeReceipt(validator, effective)
        return effective

    @serialized
    def update_endpoint(self, validator: ValidatorIndex, peer_id: str, multiaddrs: tuple[str, ...]) -> None:
        """Record where a validator's libp2p host can be reached."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE validators SET peer_id = ?, multiaddrs = ? WHERE idx = ?",
                (peer_id, json.dumps(list(multiaddrs)), validator),
            )
            if cursor.rowcount == 0:
                raise UnknownValidator(validator)

    @serialized
    def put_ballot(self, ballot: Ballot, *, genesis: bool = False) -> None:
        """Store a ballot for the epoch after the current one (epoch 0 with `genesis`) after verifying
        it. The window is checked on entry and again in the write transaction, so a ballot verified as
        its epoch began is not stored after the ballots froze."""
        self._check_ballot_window(ballot, genesis=genesis)
        record = self._record(ballot.validator)
        seed = self.get_seed(ballot.epoch)
        if not verify_ballot(record[0], ballot, self._info.chain_id, seed):
            raise RegistryError(f"ballot of validator {ballot.validator} does not verify")
        with self._write() as db:
            self._check_ballot_window(ballot, genesis=genesis)
            db.execute(
                "INSERT OR IGNORE INTO ballots VALUES (?, ?, ?)",
                (ballot.epoch, ballot.validator, ballot.signature),
            )

    # --- internals -------------------------------------------------------------------------------

    def _check_ballot_window(self, ballot: Ballot, *, genesis: bool) -> None:
        expected = Epoch(0) if genesis else Epoch(self.current_epoch() + 1)
        if ballot.epoch != expected:
            raise RegistryError(f"ballots for epoch {ballot.epoch} are not accepted now (open: {expected})")

    def _ballots(self, epoch: Epoch) -> tuple[Ballot, ...]:
        rows = self._db.execute(
            "SELECT validator, signature FROM ballots WHERE epoch = ? ORDER BY validator", (epoch,)
        ).fetchall()
        return tuple(Ballot(ValidatorIndex(v), epoch, BLSSignature(sig)) for v, sig in rows)

    def _exists(self, validator: ValidatorIndex) -> bool:
        return self._db.execute("SELECT 1 FROM validators WHERE idx = ?", (validator,)).fetchone() is not None

    def _record(self, validator: ValidatorIndex) -> tuple[BLSPubkey, BLSSignature]:
        row = self._db.execute("SELECT pubkey, pop FROM validators WHERE idx = ?", (validator,)).fetchone()
        if row is None:
            raise UnknownValidator(validator)
        return BLSPubkey(row[0]), BLSSignature(row[1])

    def _meta(self, key: str) -> str:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as error:
            raise RegistryError(f"cannot read registry metadata: {error}") from error
        if row is None:
            raise RegistryError(f"registry metadata has no {key!r}")
        return str(row[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with transaction(self._db, on_begin_failed=_unwritable) as db:
            yield db


def _unwritable(error: sqlite3.OperationalError) -> RegistryError:
    return RegistryError(f"registry is locked or unwritable: {error}")
