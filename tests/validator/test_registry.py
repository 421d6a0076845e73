"""The SQLite registry: epoch rules, validation on entry, and concurrent writers from 4 processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.validator.network_fixture import CHAIN_ID, make_keys
from validator.errors import RegistryError, UnknownEpoch, UnknownValidator
from validator.keys import compute_proof_of_possession
from validator.presets import DEVNET
from validator.registry import RegistryInfo, StakeReceipt, compute_epoch
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch, Seed, ValidatorIndex
from validator.vrf import compute_ballot, compute_next_seed

S = DEVNET.STAKE_PER_SLOT
GENESIS_SEED = Seed(b"\x11" * 32)


GENESIS_TIME = 1000.0
EPOCH_SECONDS = 60.0


def _create(path: Path, clock: Callable[[], float] = time.time) -> SqliteRegistry:
    info = RegistryInfo(CHAIN_ID, "devnet", GENESIS_TIME, EPOCH_SECONDS)
    return SqliteRegistry.create(path, info, GENESIS_SEED, clock)


def _in_epoch(epoch: int) -> float:
    """A time in the middle of `epoch`."""
    return GENESIS_TIME + (epoch + 0.5) * EPOCH_SECONDS


def test_stake_changes_take_effect_three_epochs_later(tmp_path: Path) -> None:
    (key,) = make_keys(1, b"reg")
    now = [_in_epoch(0)]
    with _create(tmp_path / "r.sqlite", clock=lambda: now[0]) as registry:
        index = registry.register_validator(key.pubkey, compute_proof_of_possession(key), S)
        assert index == 0
        assert registry.last_change == StakeReceipt(index, Epoch(3))
        now[0] = _in_epoch(2)  # the writer's epoch comes from the registry's clock, never the caller
        assert registry.get_epoch_context(Epoch(0)).validators == ()
        assert registry.get_epoch_context(Epoch(2)).validators == ()
        assert registry.get_epoch_context(Epoch(3)).validators[0].stake == S
        seed_3 = registry.get_seed(Epoch(3))
        registry.put_ballot(compute_ballot(key, index, CHAIN_ID, Epoch(3), seed_3))
        now[0] = _in_epoch(3)
        assert registry.change_stake(index, 3 * S) == 6
        assert registry.change_stake(index, -S) == 6
        now[0] = _in_epoch(5)
        assert registry.get_validator(index, Epoch(5)).stake == S
        assert registry.get_validator(index, Epoch(6)).stake == 3 * S
        with pytest.raises(RegistryError, match="cannot withdraw"):
            registry.change_stake(index, -10 * S)
        with pytest.raises(UnknownValidator):
            registry.change_stake(ValidatorIndex(7), S)


def test_entry_is_validated_and_refusals_change_nothing(tmp_path: Path) -> None:
    first, second = make_keys(2, b"reg2")
    with _create(tmp_path / "r.sqlite", clock=lambda: _in_epoch(0)) as registry:
        with pytest.raises(RegistryError, match="proof of possession"):
            registry.register_validator(first.pubkey, compute_proof_of_possession(second), S)
        index = registry.register_validator(first.pubkey, compute_proof_of_possession(first), S)
        with pytest.raises(RegistryError, match="already registered"):
            registry.register_validator(first.pubkey, compute_proof_of_possession(first), S)
        seed_1 = registry.get_seed(Epoch(1))
        with pytest.raises(RegistryError, match="does not verify"):
            registry.put_ballot(compute_ballot(second, index, CHAIN_ID, Epoch(1), seed_1))
        with pytest.raises(RegistryError, match="not accepted now"):
            registry.put_ballot(compute_ballot(first, index, CHAIN_ID, Epoch(3), seed_1))
        assert registry.get_epoch_context(Epoch(1)).ballots == ()
        assert registry.find_validator(second.pubkey) is None


def test_the_ballot_window_follows_the_registrys_clock(tmp_path: Path) -> None:
    (key,) = make_keys(1, b"window")
    now = [_in_epoch(0)]
    with _create(tmp_path / "r.sqlite", clock=lambda: now[0]) as registry:
        index = registry.register_validator(
            key.pubkey, compute_proof_of_possession(key), S, effective_epoch=Epoch(0)
        )
        ballot = compute_ballot(key, index, CHAIN_ID, Epoch(1), registry.get_seed(Epoch(1)))
        now[0] = _in_epoch(1)  # epoch 1 started: its ballots are frozen
        with pytest.raises(RegistryError, match=r"not accepted now \(open: 2\)"):
            registry.put_ballot(ballot)
        assert registry.get_epoch_context(Epoch(1)).ballots == ()


def test_seeds_chain_from_the_frozen_ballots(tmp_path: Path) -> None:
    keys = make_keys(3, b"seeds")
    with _create(tmp_path / "r.sqlite") as registry:
        for key in keys:
            index = registry.register_validator(
                key.pubkey, compute_proof_of_possession(key), S, effective_epoch=Epoch(0)
            )
            registry.put_ballot(compute_ballot(key, index, CHAIN_ID, Epoch(0), GENESIS_SEED), genesis=True)
        ballots = registry.get_epoch_context(Epoch(0)).ballots
        assert len(ballots) == 3
        assert registry.get_seed(Epoch(1)) == compute_next_seed(GENESIS_SEED, Epoch(0), ballots)
        assert registry.get_seed(Epoch(2)) == compute_next_seed(registry.get_seed(Epoch(1)), Epoch(1), ())
        with pytest.raises(UnknownEpoch):
            registry.get_seed(Epoch(-1))


def test_future_seeds_are_not_derived_before_their_ballots_freeze(tmp_path: Path) -> None:
    now = [1000.0 + 60.0 * 5 + 1]  # epoch 5 of a registry with 60-second epochs
    path = tmp_path / "r.sqlite"
    SqliteRegistry.create(path, RegistryInfo(CHAIN_ID, "devnet", 1000.0, 60.0), GENESIS_SEED).close()
    with SqliteRegistry(path, clock=lambda: now[0]) as registry:
        assert registry.current_epoch() == 5
        registry.get_seed(Epoch(6))
        for epoch in (7, 10**5, 2**64):
            with pytest.raises(UnknownEpoch):
                registry.get_seed(Epoch(epoch))
        now[0] += 60.0
        registry.get_seed(Epoch(7))


def test_opening_bad_files_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no registry at"):
        SqliteRegistry(tmp_path / "missing.sqlite")
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(RegistryError, match="is not a Tessera registry"):
        SqliteRegistry(tmp_path / "other.sqlite")
    _create(tmp_path / "r.sqlite").close()
    with pytest.raises(RegistryError, match="refusing to overwrite"):
        _create(tmp_path / "r.sqlite")


def test_compute_epoch() -> None:
    assert compute_epoch(999.0, 1000.0, 60.0) == 0
    assert compute_epoch(1059.9, 1000.0, 60.0) == 0
    assert compute_epoch(1060.0, 1000.0, 60.0) == 1


def _writer(path: str, worker: int, count: int) -> None:
    keys = make_keys(count, b"writer-%d" % worker)
    with SqliteRegistry(Path(path), clock=lambda: _in_epoch(0)) as registry:
        for key in keys:
            index = registry.register_validator(key.pubkey, compute_proof_of_possession(key), S)
            registry.change_stake(index, S)


def test_four_concurrent_writer_processes(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    _create(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(str(path), w, 15)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with SqliteRegistry(path, clock=lambda: _in_epoch(2)) as registry:
        validators = registry.get_epoch_context(Epoch(3)).validators
    assert [v.index for v in validators] == list(range(60))
    assert all(v.stake == 2 * S for v in validators)
    assert len({v.pubkey for v in validators}) == 60
