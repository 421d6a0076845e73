"""The payments contract (`TesseraPayments`) on a real anvil chain, through `ChainPayments`: promises
signed by `validator.payments.promise` settle on-chain, each pays its node once, a promise signed by
another key or malleated pays nothing and the rest of its batch still settles, settlement is capped
by the escrow, withdrawals wait their delay, and the price is the governor's to change
(specs/validator.md, "Payments contract")."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from da.constants import USABLE_BYTES_PER_ROW
from validator.payments.backends import open_escrow
from validator.payments.port import EscrowBalance, SettlementReceipt
from validator.payments.promise import (
    PaymentDomain,
    PaymentPromise,
    PriceTerms,
    SignedPromise,
    promise_typed_data,
    sign_promise,
)
from validator.payments.sqlite_escrow import EscrowError
from validator.registry.backends import ChainLocation
from validator.registry.chain import payments as module
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.genesis import create_chain_genesis
from validator.registry.chain.payments import (
    DEVNET_MIN_BILLED_BYTES,
    DEVNET_PRICE_PER_BYTE_WEI,
    DEVNET_WITHDRAWAL_DELAY_SECONDS,
    ChainPayments,
    NotATesseraPayments,
    _promise_tuple,
    deploy_payments,
)
from validator.registry.chain.rpc import TransactionReverted
from validator.registry.genesis import GenesisSpec

from .registry_network import advance, chain_time

pytestmark = pytest.mark.xdist_group("chain")

DELAY = 100
TERMS = PriceTerms(price_per_byte=10**6, min_billed_bytes=4096 * 31)
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FUNDS_WEI = 100 * 10**18


@dataclass
class Payments:
    """A fresh payments contract, its governor, funded sequencer accounts and payee node addresses."""

    web3: Web3
    rpc_url: str
    address: str
    registry: str
    governor: LocalAccount
    sequencers: list[LocalAccount]
    nodes: list[str]

    def handle(self, account: LocalAccount | None = None) -> ChainPayments:
        return ChainPayments(self.rpc_url, self.address, account=account, registry_address=self.registry)

    @property
    def domain(self) -> PaymentDomain:
        return PaymentDomain(int(self.web3.eth.chain_id), self.address)

    def promise(
        self, sequencer: int, node: int, cumulative: int, *, key: bytes | None = None
    ) -> SignedPromise:
        account = self.sequencers[sequencer]
        unsigned = PaymentPromise(
            account=account.address,
            node=self.nodes[node],
            data_root=hashlib.sha256(b"blob %d" % cumulative).digest(),
            billed_bytes=TERMS.min_billed_bytes,
            cumulative=cumulative,
            expiry=chain_time(self.web3) + 600,
        )
        return sign_promise(self.domain, unsigned, key if key is not None else bytes(account.key))

    def node_balance(self, node: int) -> int:
        return int(self.web3.eth.get_balance(Web3.to_checksum_address(self.nodes[node])))


@pytest.fixture
def payments(anvil: Anvil, web3: Web3) -> Payments:
    governor = Account.from_key(anvil.private_keys[0])
    sequencers = [Account.create(secrets.token_hex(16)) for _ in range(3)]
    for sequencer in sequencers:
        tx = {"from": web3.eth.accounts[1], "to": sequencer.address, "value": FUNDS_WEI}
        web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx))  # type: ignore[arg-type]
    registry = Account.create().address  # any address: the handle checks the contract names it
    address = deploy_payments(
        anvil.rpc_url, governor, registry_address=registry, terms=TERMS, withdrawal_delay=DELAY
    )
    nodes = [Account.create().address for _ in range(3)]
    return Payments(web3, anvil.rpc_url, address, registry, governor, sequencers, nodes)


def _deposit(payments: Payments, sequencer: int, amount: int) -> EscrowBalance:
    return payments.handle(payments.sequencers[sequencer]).deposit(amount)


def test_the_contract_hashes_promises_as_promise_py_signs_them(payments: Payments) -> None:
    reader = payments.handle()
    assert reader.payment_domain() == payments.domain
    signed = payments.promise(0, 0, 12345)
    digest = encode_typed_data(full_message=promise_typed_data(payments.domain, signed.promise))
    on_chain = reader._contract.functions.promiseDigest(_promise_tuple(signed)).call()
    expected = Web3.keccak(b"\x19" + digest.version + digest.header + digest.body)
    assert bytes(on_chain) == bytes(expected)


def test_a_deposit_backs_a_promise_that_settles_once_to_its_node(payments: Payments) -> None:
    assert payments.handle().escrow_of(payments.sequencers[0].address) == EscrowBalance(0, 0, None)
    assert _deposit(payments, 0, 10**15) == EscrowBalance(10**15, 0, None)
    assert _deposit(payments, 0, 10**15) == EscrowBalance(2 * 10**15, 0, None)
    settler = payments.handle(payments.governor)  # anyone may settle; the money goes to the node
    before = payments.node_balance(0)
    receipt = settler.settle([payments.promise(0, 0, 3 * 10**14)])
    assert (receipt.paid, receipt.promises) == (3 * 10**14, 1)
    assert receipt.transaction is not None
    assert payments.node_balance(0) - before == 3 * 10**14
    reader = payments.handle()
    assert reader.settled(payments.sequencers[0].address, payments.nodes[0]) == 3 * 10**14
    assert reader.escrow_of(payments.sequencers[0].address).balance == 2 * 10**15 - 3 * 10**14


def test_a_replayed_or_lower_promise_pays_nothing_and_a_higher_one_pays_the_difference(
    payments: Payments,
) -> None:
    _deposit(payments, 0, 10**15)
    settler = payments.handle(payments.governor)
    first = payments.promise(0, 0, 5 * 10**13)
    assert settler.settle([first]).paid == 5 * 10**13
    before = payments.node_balance(0)
    replayed = settler.settle([first])
    assert (replayed.paid, replayed.promises) == (0, 0)
    assert settler.settle([payments.promise(0, 0, 10**13)]).paid == 0  # below what was paid
    assert payments.node_balance(0) == before
    assert settler.settle([payments.promise(0, 0, 8 * 10**13)]).paid == 3 * 10**13
    assert payments.node_balance(0) - before == 3 * 10**13
    assert settler.settled(payments.sequencers[0].address, payments.nodes[0]) == 8 * 10**13


def test_a_batch_pays_each_pair_and_a_stale_promise_in_it_does_not_stop_the_rest(payments: Payments) -> None:
    for sequencer in range(3):
        _deposit(payments, sequencer, 10**15)
    settler = payments.handle(payments.governor)
    settler.settle([payments.promise(1, 0, 10**13)])
    before = [payments.node_balance(n) for n in range(3)]
    batch = [
        payments.promise(0, 0, 2 * 10**13),
        payments.promise(1, 0, 10**13),  # already settled: pays nothing
        payments.promise(2, 0, 3 * 10**13),
        payments.promise(0, 1, 4 * 10**13),
        payments.promise(1, 2, 5 * 10**13),
        payments.promise(2, 2, 6 * 10**13),
    ]
    receipt = settler.settle(batch)
    assert (receipt.paid, receipt.promises) == (20 * 10**13, 5)
    gained = [payments.node_balance(n) - before[n] for n in range(3)]
    assert gained == [5 * 10**13, 4 * 10**13, 11 * 10**13]
    balances = [settler.escrow_of(s.address).balance for s in payments.sequencers]
    assert balances == [10**15 - 6 * 10**13, 10**15 - 6 * 10**13, 10**15 - 9 * 10**13]


def _high_s(signed: SignedPromise) -> SignedPromise:
    """The other valid ECDSA signature of the same digest: s -> n - s, v flipped (malleated)."""
    r, s, v = signed.signature[:32], int.from_bytes(signed.signature[32:64], "big"), signed.signature[64]
    return SignedPromise(signed.promise, r + (SECP256K1_ORDER - s).to_bytes(32, "big") + bytes([55 - v]))


def test_promises_not_signed_by_their_account_are_refused_and_the_rest_settles(payments: Payments) -> None:
    _deposit(payments, 0, 10**15)
    settler = payments.handle(payments.governor)
    stranger = Account.create()
    forged = payments.promise(0, 0, 10**14, key=bytes(stranger.key))
    genuine = payments.promise(0, 0, 2 * 10**13)
    malleated = _high_s(payments.promise(0, 0, 3 * 10**14))
    bad_v = SignedPromise(genuine.promise, genuine.signature[:64] + bytes([29]))
    other_contract = sign_promise(
        replace(payments.domain, verifying_contract=payments.governor.address),
        payments.promise(0, 0, 4 * 10**14).promise,
        bytes(payments.sequencers[0].key),
    )
    before = payments.node_balance(0)
    receipt = settler.settle([forged, malleated, bad_v, other_contract, genuine])
    assert (receipt.paid, receipt.promises) == (2 * 10**13, 1)
    assert payments.node_balance(0) - before == 2 * 10**13
    assert settler.last_transaction is not None
    refused = settler._contract.events.PromiseRefused().process_receipt(
        settler.last_transaction.receipt, errors=DISCARD
    )
    assert [(int(e["args"]["index"]), int(e["args"]["reason"])) for e in refused] == [
        (0, 2),  # NotSignedByAccount
        (1, 1),  # MalformedSignature: s in the upper half
        (2, 1),  # MalformedSignature: v not 27 or 28
        (3, 2),  # signed for another contract: recovers another address
    ]


def test_settlement_is_capped_by_the_escrow_and_the_rest_is_paid_after_a_deposit(payments: Payments) -> None:
    _deposit(payments, 0, 10**14)
    settler = payments.handle(payments.governor)
    promise = payments.promise(0, 0, 3 * 10**14)
    before = payments.node_balance(0)
    assert settler.settle([promise]).paid == 10**14
    assert settler.escrow_of(payments.sequencers[0].address) == EscrowBalance(0, 0, None)
    assert settler.settle([promise]).paid == 0  # an empty escrow pays nothing, and does not revert
    _deposit(payments, 0, 5 * 10**14)
    assert settler.settle([promise]).paid == 2 * 10**14
    assert payments.node_balance(0) - before == 3 * 10**14
    assert settler.escrow_of(payments.sequencers[0].address).balance == 3 * 10**14


def test_a_withdrawal_leaves_only_after_its_delay(payments: Payments) -> None:
    sequencer = payments.handle(payments.sequencers[0])
    with pytest.raises(TransactionReverted) as refused:
        sequencer.withdraw()
    assert refused.value.error == "NothingPending"
    sequencer.deposit(10**15)
    with pytest.raises(TransactionReverted) as refused:
        sequencer.request_withdrawal(2 * 10**15)
    assert refused.value.error == "WithdrawalExceedsBalance"
    requested = sequencer.request_withdrawal(4 * 10**14)
    assert requested.pending_withdrawal == 4 * 10**14
    assert requested.covered == 6 * 10**14
    assert requested.withdrawable_at == chain_time(payments.web3) + DELAY
    with pytest.raises(TransactionReverted) as refused:
        sequencer.withdraw()
    assert refused.value.error == "WithdrawalNotReady"
    advance(payments.web3, DELAY - 10)
    with pytest.raises(TransactionReverted) as refused:
        sequencer.withdraw()
    assert refused.value.error == "WithdrawalNotReady"
    advance(payments.web3, 10)
    address = payments.sequencers[0].address
    before = payments.web3.eth.get_balance(address)
    assert sequencer.withdraw() == EscrowBalance(6 * 10**14, 0, None)
    assert sequencer.last_transaction is not None
    fee = sequencer.last_transaction.gas_used * int(sequencer.last_transaction.receipt["effectiveGasPrice"])
    assert payments.web3.eth.get_balance(address) - before == 4 * 10**14 - fee


def test_a_node_that_settles_within_the_delay_is_paid_before_the_withdrawal(payments: Payments) -> None:
    sequencer = payments.handle(payments.sequencers[0])
    sequencer.deposit(10**15)
    promise = payments.promise(0, 0, 7 * 10**14)  # accepted while the whole escrow backed it
    assert sequencer.request_withdrawal(10**15).covered == 0
    settler = payments.handle(payments.governor)
    assert settler.settle([promise]).paid == 7 * 10**14
    assert settler.escrow_of(payments.sequencers[0].address).pending_withdrawal == 3 * 10**14
    advance(payments.web3, DELAY)
    assert sequencer.withdraw() == EscrowBalance(0, 0, None)


def test_the_governor_alone_changes_the_price_and_the_change_is_logged(payments: Payments) -> None:
    reader = payments.handle()
    assert reader.price_terms() == TERMS
    assert reader.withdrawal_delay() == DELAY
    with pytest.raises(TransactionReverted) as refused:
        payments.handle(payments.sequencers[0]).set_price(PriceTerms(1, 1))
    assert refused.value.error == "NotGovernor"
    new = PriceTerms(price_per_byte=3 * 10**6, min_billed_bytes=1024)
    sent = payments.handle(payments.governor).set_price(new)
    (changed,) = reader._contract.events.PriceChanged().process_receipt(sent.receipt)
    assert (changed["args"]["pricePerByte"], changed["args"]["minBilledBytes"]) == (3 * 10**6, 1024)
    assert reader.price_terms() == new


def test_every_escrow_change_emits_its_event(payments: Payments) -> None:
    sequencer = payments.handle(payments.sequencers[0])
    events = sequencer._contract.events

    def args(name: str) -> dict[str, object]:
        assert sequencer.last_transaction is not None
        (event,) = events[name]().process_receipt(sequencer.last_transaction.receipt)
        return dict(event["args"])

    address = payments.sequencers[0].address
    sequencer.deposit(10**15)
    assert args("Deposited") == {"account": address, "amount": 10**15, "balance": 10**15}
    sequencer.request_withdrawal(10**14)
    assert args("WithdrawalRequested") == {
        "account": address, "amount": 10**14, "withdrawableAt": chain_time(payments.web3) + DELAY,
    }  # fmt: skip
    advance(payments.web3, DELAY)
    sequencer.withdraw()
    assert args("Withdrawn") == {"account": address, "amount": 10**14, "balance": 9 * 10**14}
    settler = payments.handle(payments.governor)
    settler.settle([payments.promise(0, 1, 10**13)])
    assert settler.last_transaction is not None
    (settled,) = events.Settled().process_receipt(settler.last_transaction.receipt)
    assert dict(settled["args"]) == {
        "account": address, "node": payments.nodes[1], "cumulative": 10**13, "amount": 10**13,
    }  # fmt: skip


def test_a_handle_refuses_what_is_not_this_networks_payments_contract(
    payments: Payments, anvil: Anvil
) -> None:
    with pytest.raises(NotATesseraPayments):
        ChainPayments(anvil.rpc_url, payments.governor.address)  # no code
    with pytest.raises(NotATesseraPayments, match="payments contract of registry"):
        ChainPayments(anvil.rpc_url, payments.address, registry_address=payments.nodes[0])


def test_a_chain_genesis_deploys_the_networks_payments_contract(anvil: Anvil, tmp_path: Path) -> None:
    spec = GenesisSpec(validators=1, password=secrets.token_hex(8), kdf_params={"n": 2**4, "r": 8, "p": 1})
    funder = Account.from_key(anvil.private_keys[2])
    genesis = create_chain_genesis(tmp_path, spec, anvil.rpc_url, funder, genesis_delay=600)
    payments = ChainPayments(
        anvil.rpc_url, genesis.payments_address, registry_address=genesis.registry_address
    )
    assert payments.price_terms() == PriceTerms(DEVNET_PRICE_PER_BYTE_WEI, DEVNET_MIN_BILLED_BYTES)
    assert payments.withdrawal_delay() == DEVNET_WITHDRAWAL_DELAY_SECONDS
    assert payments.governor == funder.address


def test_the_specs_payments_constants_are_the_codes() -> None:
    text = (Path(__file__).resolve().parents[3] / "specs" / "validator.md").read_text(encoding="utf-8")
    rows = {}
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("| Contract constant | Value | Description |"):
            next(lines)  # the separator
            for row in lines:
                if not row.startswith("|"):
                    break
                name, value, _ = (cell.strip().strip("`") for cell in row.strip().strip("|").split("|"))
                rows[name] = value
    assert rows, "no payments constants table in specs/validator.md"
    assert rows.pop("PROTOCOL") == f'"{module.PAYMENTS_PROTOCOL}"'
    assert {name: int(value) for name, value in rows.items()} == {
        name: getattr(module, name) for name in rows
    }
    assert module.DEVNET_MIN_BILLED_BYTES == USABLE_BYTES_PER_ROW


def test_more_promises_than_a_batch_go_in_several_transactions_and_none_sends_nothing(
    payments: Payments,
) -> None:
    _deposit(payments, 0, 10**15)
    settler = payments.handle(payments.governor)
    assert settler.settle([]) == SettlementReceipt(0, 0, None)
    assert settler.last_transaction is None
    count = module.SETTLE_BATCH_PROMISES + 1
    nodes = [Account.create().address for _ in range(count)]
    payments.nodes = nodes
    receipt = settler.settle([payments.promise(0, n, 10**9 + n) for n in range(count)])
    assert (receipt.paid, receipt.promises) == (sum(10**9 + n for n in range(count)), count)
    assert settler.last_transaction is not None
    assert receipt.transaction == settler.last_transaction.tx_hash
    (settled,) = settler._contract.events.Settled().process_receipt(settler.last_transaction.receipt)
    assert settled["args"]["node"] == nodes[-1]  # the last transaction held only the 101st promise
    assert [payments.node_balance(n) for n in range(count)] == [10**9 + n for n in range(count)]


def test_a_payee_that_refuses_the_transfer_reverts_its_batch(payments: Payments) -> None:
    _deposit(payments, 0, 10**15)
    payments.nodes = [payments.address]  # a contract without a receive function
    settler = payments.handle(payments.governor)
    with pytest.raises(TransactionReverted) as refused:
        settler.settle([payments.promise(0, 0, 10**13)])
    assert refused.value.error == "TransferFailed"
    assert settler.settled(payments.sequencers[0].address, payments.address) == 0


def test_reads_wait_for_their_confirmations(payments: Payments) -> None:
    lagging = ChainPayments(payments.rpc_url, payments.address, confirmations=2)
    address = payments.sequencers[0].address
    _deposit(payments, 0, 10**15)
    assert lagging.escrow_of(address).balance == 0
    payments.web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert lagging.escrow_of(address).balance == 0
    payments.web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert lagging.escrow_of(address).balance == 10**15


def test_a_chain_registrys_escrow_is_its_payments_contract_settling_from_the_nodes_account(
    payments: Payments, tmp_path: Path
) -> None:
    """`open_escrow` on a chain location opens the payments contract named beside it, bound to that
    registry, at its confirmations; the node's account sends the settlements."""
    node = Account.create()
    payments.web3.provider.make_request("anvil_setBalance", [node.address, hex(10**18)])  # type: ignore[arg-type]
    location = ChainLocation(payments.rpc_url, payments.registry, confirmations=0)
    escrow = open_escrow(location, payments_address=payments.address, account=node)
    assert isinstance(escrow, ChainPayments) and escrow.confirmations == 0
    assert escrow.payment_domain() == payments.domain and escrow.price_terms() == TERMS
    _deposit(payments, 0, 10**15)
    assert escrow.settle([payments.promise(0, 2, 10**13)]).paid == 10**13
    assert (
        escrow.last_transaction is not None
        and escrow.settled(payments.sequencers[0].address, payments.nodes[2]) == 10**13
    )
    escrow.close()
    with pytest.raises(NotATesseraPayments, match="payments contract of registry"):
        open_escrow(ChainLocation(payments.rpc_url, payments.nodes[0]), payments_address=payments.address)
    with pytest.raises(EscrowError, match="set payments_address"):
        open_escrow(location)
    with pytest.raises(EscrowError, match="keeps its escrow inside"):
        open_escrow(tmp_path / "registry.sqlite", payments_address=payments.address)
