"""Random runs of deposits, withdrawal requests, withdrawals, clock moves and settlement batches
(stale, forged and over-the-escrow promises among them) on a real anvil chain, each step checked
against a model of the settlement rule of specs/validator.md ("Payments contract"): every escrow,
every amount paid per pair and per node, and every refusal by name; and after every run, the
contract holds exactly the sum of the escrows."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from web3 import Web3

from tests.examples import examples
from validator.payments.port import EscrowBalance
from validator.payments.promise import PaymentDomain, PaymentPromise, PriceTerms, SignedPromise, sign_promise
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.payments import ChainPayments, deploy_payments
from validator.registry.chain.rpc import TransactionReverted

from .registry_network import advance, chain_time

pytestmark = pytest.mark.xdist_group("chain")

DELAY = 1000
UNIT = 10**12
SEQUENCERS = 2
NODES = 2
CLEARLY = 10
"""Seconds of margin either side of `withdrawableAt` (the next block's time runs on the wall clock)."""


@dataclass
class Model:
    """The contract's state by the spec's rule."""

    balance: list[int] = field(default_factory=lambda: [0] * SEQUENCERS)
    pending: list[int] = field(default_factory=lambda: [0] * SEQUENCERS)
    at: list[int] = field(default_factory=lambda: [0] * SEQUENCERS)
    paid: dict[tuple[int, int], int] = field(default_factory=dict)
    gained: list[int] = field(default_factory=lambda: [0] * NODES)

    def settle(self, sequencer: int, node: int, cumulative: int) -> int:
        already = self.paid.get((sequencer, node), 0)
        if cumulative <= already:
            event("a stale promise")
            return 0
        amount = min(cumulative - already, self.balance[sequencer])
        event("a promise capped by the escrow" if amount < cumulative - already else "a promise paid whole")
        self.balance[sequencer] -= amount
        self.pending[sequencer] = min(self.pending[sequencer], self.balance[sequencer])
        self.paid[(sequencer, node)] = already + amount
        self.gained[node] += amount
        return amount


promise_st = st.tuples(
    st.integers(0, SEQUENCERS - 1), st.integers(0, NODES - 1), st.integers(1, 40), st.booleans()
)
operation_st = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, SEQUENCERS - 1), st.integers(1, 20)),
    st.tuples(st.just("request"), st.integers(0, SEQUENCERS - 1), st.integers(0, 30)),
    st.tuples(st.just("request and wait"), st.integers(0, SEQUENCERS - 1), st.integers(1, 30)),
    st.tuples(st.just("withdraw"), st.integers(0, SEQUENCERS - 1), st.just(0)),
    st.tuples(st.just("advance"), st.sampled_from([DELAY // 2, DELAY + CLEARLY]), st.just(0)),
    st.tuples(st.just("settle"), st.lists(promise_st, min_size=1, max_size=5), st.just(0)),
)


@pytest.fixture(scope="module")
def sequencers(anvil: Anvil) -> list[LocalAccount]:
    web3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    accounts = [Account.create(secrets.token_hex(16)) for _ in range(SEQUENCERS)]
    for account in accounts:
        tx = {"from": web3.eth.accounts[3], "to": account.address, "value": 10**21}
        web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx))  # type: ignore[arg-type]
    return accounts


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    deposits=st.lists(st.integers(1, 40), min_size=SEQUENCERS, max_size=SEQUENCERS),
    operations=st.lists(operation_st, min_size=1, max_size=12),
)
def test_random_runs_follow_the_settlement_rule(
    anvil: Anvil,
    web3: Web3,
    sequencers: list[LocalAccount],
    deposits: list[int],
    operations: list[tuple[object, ...]],
) -> None:
    owner = Account.from_key(anvil.private_keys[0])
    address = deploy_payments(
        anvil.rpc_url, owner, registry_address=owner.address, terms=PriceTerms(1, 1), withdrawal_delay=DELAY
    )
    handles = [ChainPayments(anvil.rpc_url, address, account=s) for s in sequencers]
    settler = ChainPayments(anvil.rpc_url, address, account=owner)
    domain = settler.payment_domain()
    nodes = [Account.create().address for _ in range(NODES)]
    stranger = Account.create()
    model = Model()
    for number, units in enumerate(deposits):
        model.balance[number] += units * UNIT
        handles[number].deposit(units * UNIT)
    for name, first, second in operations:
        if name == "deposit":
            assert isinstance(first, int) and isinstance(second, int)
            model.balance[first] += second * UNIT
            handles[first].deposit(second * UNIT)
        elif name in ("request", "request and wait"):
            assert isinstance(first, int) and isinstance(second, int)
            _request(handles[first], model, first, second * UNIT)
            if name == "request and wait":
                advance(web3, DELAY + CLEARLY)
        elif name == "withdraw":
            assert isinstance(first, int)
            _withdraw(web3, handles[first], model, first)
        elif name == "advance":
            assert isinstance(first, int)
            advance(web3, first)
        else:
            assert isinstance(first, list)
            batch = [
                _promise(domain, sequencers[s], nodes[n], c * UNIT, stranger if forged else None)
                for s, n, c, forged in first
            ]
            expected = sum(model.settle(s, n, c * UNIT) for s, n, c, forged in first if not forged)
            event("a batch with a forged promise" if any(f for *_, f in first) else "a batch of genuine ones")
            assert settler.settle(batch).paid == expected
        for number, sequencer in enumerate(sequencers):
            assert settler.escrow_of(sequencer.address) == EscrowBalance(
                model.balance[number], model.pending[number], model.at[number] or None
            )
            for node in range(NODES):
                assert settler.settled(sequencer.address, nodes[node]) == model.paid.get((number, node), 0)
        assert [int(web3.eth.get_balance(Web3.to_checksum_address(n))) for n in nodes] == model.gained
    assert web3.eth.get_balance(Web3.to_checksum_address(address)) == sum(model.balance)


def _request(handle: ChainPayments, model: Model, number: int, amount: int) -> None:
    if amount == 0 or amount > model.balance[number]:
        with pytest.raises(TransactionReverted) as refused:
            handle.request_withdrawal(amount)
        assert refused.value.error == ("ZeroAmount" if amount == 0 else "WithdrawalExceedsBalance")
        return
    handle.request_withdrawal(amount)
    assert handle.last_transaction is not None
    mined = handle._web3.eth.get_block(handle.last_transaction.block_number)
    model.pending[number], model.at[number] = amount, int(mined["timestamp"]) + DELAY


def _withdraw(web3: Web3, handle: ChainPayments, model: Model, number: int) -> None:
    now, at = chain_time(web3), model.at[number]
    if at == 0 or now + CLEARLY < at:
        with pytest.raises(TransactionReverted) as refused:
            handle.withdraw()
        assert refused.value.error == ("NothingPending" if at == 0 else "WithdrawalNotReady")
        event("a withdrawal refused")
    elif now >= at:
        handle.withdraw()
        model.balance[number] -= model.pending[number]
        model.pending[number], model.at[number] = 0, 0
        event("a withdrawal paid")


def _promise(
    domain: PaymentDomain, account: LocalAccount, node: str, cumulative: int, forger: LocalAccount | None
) -> SignedPromise:
    unsigned = PaymentPromise(
        account=account.address,
        node=node,
        data_root=hashlib.sha256(b"%d" % cumulative).digest(),
        billed_bytes=1,
        cumulative=cumulative,
        expiry=2**40,
    )
    return sign_promise(domain, unsigned, bytes((forger or account).key))
