"""The node's automatic settlement: on its interval it settles the held promises above what was
settled (a real store and a real escrow file), and a failing escrow does not end it."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import trio

from da import CkzgBackend, compute_blob_header, compute_data_root
from tests.validator.payments.keys import sequencer
from tests.validator.payments.registry_file import make_registry
from validator.daemon.payments import Settlement
from validator.daemon.store import HeldPayment, HeldPromiseChanged, NodeStore
from validator.payments.promise import PaymentPromise
from validator.payments.sqlite_escrow import SqliteEscrow
from validator.types import Epoch, QuorumIndex

PAYEE = sequencer(60).address


def _hold(store: NodeStore, escrow: SqliteEscrow, kzg: CkzgBackend, cumulative: int, previous: int) -> None:
    data = random.Random(cumulative).randbytes(64)
    header = compute_blob_header(data, kzg)
    root = compute_data_root(header)
    alice = sequencer(1)
    signed = alice.sign(
        escrow.payment_domain(), PaymentPromise(alice.address, PAYEE, root, 4096, cumulative, 2**40)
    )
    store.add_blob(data, header, root, Epoch(0), QuorumIndex(0), 1, payment=HeldPayment(signed, previous))


def test_the_interval_settles_what_was_not_settled(tmp_path: Path, kzg: CkzgBackend) -> None:
    escrow = SqliteEscrow(make_registry(tmp_path / "registry.sqlite"))
    store = NodeStore(tmp_path / "node.sqlite")
    alice = sequencer(1).address
    escrow.account(alice).deposit(10**9)
    _hold(store, escrow, kzg, 10_000, 0)
    settlement = Settlement(store, escrow, escrow, PAYEE, interval_s=0.05)

    async def run_for(seconds: float) -> None:
        with trio.move_on_after(seconds):
            await settlement.run()

    trio.run(run_for, 0.5)
    assert escrow.settled(alice, PAYEE) == 10_000
    assert store.promises_to_settle(10) == []
    _hold(store, escrow, kzg, 25_000, 10_000)
    trio.run(run_for, 0.5)
    assert escrow.settled(alice, PAYEE) == 25_000
    assert escrow.escrow_of(alice).balance == 10**9 - 25_000
    store.close()
    escrow.close()


def test_a_failing_escrow_is_tried_again(tmp_path: Path, kzg: CkzgBackend) -> None:
    escrow = SqliteEscrow(make_registry(tmp_path / "registry.sqlite"))
    store = NodeStore(tmp_path / "node.sqlite")
    escrow.account(sequencer(1).address).deposit(10**9)
    _hold(store, escrow, kzg, 10_000, 0)
    escrow.close()  # every call now fails (a closed database)
    settlement = Settlement(store, escrow, escrow, PAYEE, interval_s=0.05)
    assert trio.run(settlement.settle_once) is None
    assert [h.unsettled for h in store.promises_to_settle(10)] == [10_000]
    store.close()


def test_a_stale_held_promise_is_not_overwritten(tmp_path: Path, kzg: CkzgBackend) -> None:
    """Two posts of one account checked against the same held promise: the second to be recorded is
    refused (`HeldPromiseChanged`), and the held promise is the first's."""
    escrow = SqliteEscrow(make_registry(tmp_path / "registry.sqlite"))
    store = NodeStore(tmp_path / "node.sqlite")
    _hold(store, escrow, kzg, 10_000, 0)
    with pytest.raises(HeldPromiseChanged) as refused:
        _hold(store, escrow, kzg, 20_000, 0)
    assert refused.value.held == 10_000
    held = store.held_promise(sequencer(1).address)
    assert held is not None and held.signed.promise.cumulative == 10_000
    assert store.find_blob_by_content(random.Random(20_000).randbytes(64)) is None
    store.close()
    escrow.close()
