"""The embedded escrow in a real registry file: deposits, withdrawals after the delay, the price
anyone reads, settlement that pays each promise once (capped by the balance), a forged promise
that pays nothing, and a registry file made before payments that is migrated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.validator.payments.keys import sequencer
from tests.validator.payments.registry_file import CHAIN_ID, TERMS, make_registry
from validator.payments.port import EscrowBalance
from validator.payments.promise import PaymentPromise, SignedPromise, recover_signer
from validator.payments.sqlite_escrow import (
    EscrowError,
    EscrowNotInstalled,
    InvalidEscrowAmount,
    SqliteEscrow,
    WithdrawalNotReady,
    install_escrow,
)
from validator.registry.sqlite import SqliteRegistry

ALICE, MALLORY = sequencer(1), sequencer(2)
NODE, OTHER_NODE = sequencer(50).address, sequencer(51).address


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def promise(cumulative: int, node: str = NODE, account: str = ALICE.address) -> PaymentPromise:
    return PaymentPromise(account, node, b"\x01" * 32, 4096, cumulative, 1_900_000_000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def escrow(tmp_path: Path, clock: Clock) -> SqliteEscrow:
    return SqliteEscrow(make_registry(tmp_path / "registry.sqlite"), clock)


def test_the_price_and_domain_are_read_from_the_file(escrow: SqliteEscrow, tmp_path: Path) -> None:
    assert escrow.price_terms() == TERMS
    assert escrow.withdrawal_delay() == 100
    domain = escrow.payment_domain()
    assert domain.chain_id == CHAIN_ID
    # Another process reads the same domain; another genesis derives another address.
    assert SqliteEscrow(escrow.path).payment_domain() == domain
    other = SqliteEscrow(make_registry(tmp_path / "other.sqlite"))
    assert other.payment_domain().verifying_contract != domain.verifying_contract


def test_deposit_then_withdraw_only_after_the_delay(escrow: SqliteEscrow, clock: Clock) -> None:
    account = escrow.account(ALICE.address.lower())
    assert escrow.escrow_of(ALICE.address) == EscrowBalance(0, 0, None)
    assert account.deposit(1_000).balance == 1_000
    with pytest.raises(InvalidEscrowAmount):
        account.request_withdrawal(1_001)
    with pytest.raises(WithdrawalNotReady):
        account.withdraw()
    pending = account.request_withdrawal(400)
    assert (pending.covered, pending.withdrawable_at) == (600, int(clock.now) + 100)
    clock.now += 99
    with pytest.raises(WithdrawalNotReady) as early:
        account.withdraw()
    assert early.value.withdrawable_at == pending.withdrawable_at
    clock.now += 1
    assert account.withdraw() == EscrowBalance(600, 0, None)
    for bad in (0, -5):
        with pytest.raises(InvalidEscrowAmount):
            account.deposit(bad)


def test_settlement_pays_the_increment_once(escrow: SqliteEscrow) -> None:
    escrow.account(ALICE.address).deposit(10_000)
    domain = escrow.payment_domain()
    first = ALICE.sign(domain, promise(3_000))
    assert escrow.settle([first]).paid == 3_000
    assert escrow.settle([first]).paid == 0  # the same promise again pays nothing
    higher = ALICE.sign(domain, promise(5_000))
    receipt = escrow.settle([first, higher, higher])
    assert (receipt.paid, receipt.promises) == (2_000, 1)
    assert escrow.settled(ALICE.address, NODE) == 5_000
    assert escrow.escrow_of(ALICE.address).balance == 5_000
    # Another node's account with the same sequencer is its own pair.
    assert escrow.settle([ALICE.sign(domain, promise(1_000, node=OTHER_NODE))]).paid == 1_000
    assert escrow.settled(ALICE.address, OTHER_NODE) == 1_000


def test_settlement_is_capped_by_the_balance_and_the_rest_stays_owed(escrow: SqliteEscrow) -> None:
    account = escrow.account(ALICE.address)
    account.deposit(1_000)
    account.request_withdrawal(800)
    signed = ALICE.sign(escrow.payment_domain(), promise(1_500))
    assert escrow.settle([signed]).paid == 1_000
    assert escrow.escrow_of(ALICE.address).balance == 0
    assert escrow.escrow_of(ALICE.address).pending_withdrawal == 0  # the settlement came first
    account.deposit(2_000)
    assert escrow.settle([signed]).paid == 500
    assert escrow.settle([signed]).paid == 0


def test_a_promise_not_signed_by_its_account_pays_nothing(escrow: SqliteEscrow) -> None:
    escrow.account(ALICE.address).deposit(10_000)
    domain = escrow.payment_domain()
    forged = SignedPromise(promise(5_000), MALLORY.sign(domain, promise(5_000)).signature)
    assert recover_signer(domain, forged) == MALLORY.address
    garbage = SignedPromise(promise(5_000), b"\x00" * 65)
    assert escrow.settle([forged, garbage]).paid == 0
    assert escrow.escrow_of(ALICE.address).balance == 10_000


def test_an_older_registry_file_is_migrated(tmp_path: Path) -> None:
    path = make_registry(tmp_path / "old.sqlite", terms=None)
    with pytest.raises(EscrowNotInstalled):
        SqliteEscrow(path)
    install_escrow(path, TERMS, 10)
    assert SqliteEscrow(path).price_terms() == TERMS
    with pytest.raises(EscrowError):
        install_escrow(path, TERMS, 10)
    SqliteRegistry(path).close()  # the registry itself still opens


def test_a_file_that_is_no_registry_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(EscrowNotInstalled):
        SqliteEscrow(path)
