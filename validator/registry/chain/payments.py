"""`ChainPayments`: the payments port (`validator.payments.port`) over the `TesseraPayments`
contract on an EVM chain (specs/validator.md, "Payments contract").

It reads escrows, the price and what was settled (`EscrowReader`), settles promises
(`PromiseSettler`) and changes its own account's escrow (`EscrowAccount`). Transactions, retries,
typed errors (`ChainUnreachable`, `RpcRequestFailed`, `TransactionReverted` with the contract's
custom error) and the guard against an address that is not ours are the registry's
(`validator.registry.chain.rpc`). Reads are taken `confirmations` blocks behind the head, as the
registry reader's are (but never before the contract's deployment block), so a deposit a reorg may
still remove backs no promise.

The contract's address is given, not discovered: `payments_address` beside `registry_address` in a
daemon config, `--payments-address` on the command line, `payments_address` in a devnet's
`chain.json`. A handle opened with `registry_address` refuses a payments contract deployed for
another registry (`registry()`), so a node cannot be pointed at another network's escrow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import structlog
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BadFunctionCallOutput
from web3.logs import DISCARD
from web3.types import BlockIdentifier

from da.constants import USABLE_BYTES_PER_ROW
from validator.errors import RegistryError
from validator.payments.errors import MalformedPayment
from validator.payments.port import EscrowBalance, SettlementReceipt
from validator.payments.promise import PaymentDomain, PriceTerms, SignedPromise
from validator.registry.chain.logcheck import default_confirmations
from validator.registry.chain.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from validator.registry.chain.rpc import (
    SentTransaction,
    call_with_retries,
    check_protocol,
    connect,
    deploy_contract,
    load_compiled,
    send_transaction,
)

log = structlog.get_logger(__name__)

PAYMENTS_CONTRACT: Final = "TesseraPayments"
PAYMENTS_PROTOCOL: Final = "tessera-payments/1"
SIGNATURE_BYTES: Final = 65
SETTLE_BATCH_PROMISES: Final = 100
"""Promises per `settle` transaction (about 3.3M gas for 100 first settlements, well under a block)."""
MAINNET_WITHDRAWAL_DELAY_SECONDS: Final = 86_400
"""A day: nodes settle at least every `withdrawalDelay / 4` (6 hours), so every promise they accepted
before a withdrawal request is settled before the funds can leave."""
DEVNET_WITHDRAWAL_DELAY_SECONDS: Final = 120
"""The devnet's delay: short enough to try a withdrawal by hand, four settlement intervals of 30 s."""
DEVNET_PRICE_PER_BYTE_WEI: Final = 10**6
"""The devnet's price: 1 MiB costs about 1.05e12 wei (0.000001 ETH)."""
DEVNET_MIN_BILLED_BYTES: Final = USABLE_BYTES_PER_ROW
"""The devnet's minimum billed size: one row's payload (4,096 field elements of 31 bytes), what the
smallest blob costs the network to encode, disperse and keep."""


class NotATesseraPayments(RegistryError):
    """The address holds no contract, one that does not answer as Tessera's payments contract, or one
    deployed for another registry."""


class NoPaymentsAccount(RegistryError):
    """A write was asked of a payments handle opened without an Ethereum account."""


class ChainPayments:
    """`EscrowReader`, `PromiseSettler` and `EscrowAccount` over one deployed `TesseraPayments`.

    Without `account` the handle only reads; with one it settles (a node's account, though anyone
    may settle: the money goes to each promise's node) and deposits or withdraws for that account."""

    def __init__(
        self,
        rpc_url: str,
        address: str,
        *,
        account: LocalAccount | None = None,
        registry_address: str | None = None,
        confirmations: int | None = None,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self.rpc_url = rpc_url
        self._web3 = connect(rpc_url, retry)
        self._account = account
        if not Web3.is_address(address):
            raise NotATesseraPayments(f"{address!r} is not an Ethereum address")
        self.address = Web3.to_checksum_address(address)
        self._contract: Contract = self._web3.eth.contract(
            address=self.address, abi=load_compiled(PAYMENTS_CONTRACT).abi
        )
        check_protocol(self._web3, rpc_url, self._contract, PAYMENTS_PROTOCOL, NotATesseraPayments)
        functions = self._contract.functions
        self.registry_address = str(self._call("registry", functions.registry(), "latest"))
        if registry_address is not None and self.registry_address != Web3.to_checksum_address(
            registry_address
        ):
            raise NotATesseraPayments(
                f"{self.address} is the payments contract of registry {self.registry_address}, "
                f"not of {registry_address}"
            )
        chain_id = int(call_with_retries(rpc_url, "chain id", lambda: self._web3.eth.chain_id))
        self._domain = PaymentDomain(chain_id, self.address)
        self._delay = int(self._call("withdrawalDelay", functions.withdrawalDelay(), "latest"))
        self.governor = str(self._call("governor", functions.governor(), "latest"))
        self._deploy_block = int(self._call("deployBlock", functions.deployBlock(), "latest"))
        self.confirmations = default_confirmations(chain_id) if confirmations is None else confirmations
        """Blocks a change needs on top of it before this handle reads it (0 reads the head)."""
        self.last_transaction: SentTransaction | None = None
        """The last transaction this handle sent (hash, block, gas used), for operators and benches."""

    def close(self) -> None:
        """Nothing to release beyond the HTTP session, which web3 closes with the process."""

    # --- EscrowReader -------------------------------------------------------------------------

    def payment_domain(self) -> PaymentDomain:
        """The EIP-712 domain promises are signed under: this chain and this contract."""
        return self._domain

    def price_terms(self) -> PriceTerms:
        """The price per byte and minimum billed size in force at the read block."""
        price, minimum = self._call("priceTerms", self._contract.functions.priceTerms())
        return PriceTerms(int(price), int(minimum))

    def withdrawal_delay(self) -> int:
        """Seconds between asking to withdraw and being able to (fixed at deployment)."""
        return self._delay

    def escrow_of(self, account: str) -> EscrowBalance:
        """`account`'s balance, pending withdrawal and when it may leave (all zero if it never paid in)."""
        balance, pending, at = self._call("escrowOf", self._contract.functions.escrowOf(_checksum(account)))
        return EscrowBalance(int(balance), int(pending), int(at) or None)

    def settled(self, account: str, node: str) -> int:
        """What `account` has paid `node` in all, through settled promises."""
        return int(self._call("paid", self._contract.functions.paid(_checksum(account), _checksum(node))))

    # --- PromiseSettler -----------------------------------------------------------------------

    def settle(self, promises: Sequence[SignedPromise]) -> SettlementReceipt:
        """Settle `promises` in transactions of at most `SETTLE_BATCH_PROMISES`; the receipt sums what
        they paid and counts the promises that paid something (`transaction`: the last one sent;
        none for an empty list). A stale promise pays nothing; one whose signature does not recover
        its account is skipped by the contract and logged here (`promise refused`)."""
        for signed in promises:
            if len(signed.signature) != SIGNATURE_BYTES:
                raise MalformedPayment(
                    f"a promise signature is {SIGNATURE_BYTES} bytes, not {len(signed.signature)}",
                    field="signature",
                )
        paid = settled = 0
        transaction: str | None = None
        for start in range(0, len(promises), SETTLE_BATCH_PROMISES):
            batch = promises[start : start + SETTLE_BATCH_PROMISES]
            call = self._contract.functions.settle(
                [_promise_tuple(signed) for signed in batch], [signed.signature for signed in batch]
            )
            sent = self._send(call)
            events = self._contract.events
            for event in events.Settled().process_receipt(sent.receipt, errors=DISCARD):
                paid += int(event["args"]["amount"])
                settled += 1
            for event in events.PromiseRefused().process_receipt(sent.receipt, errors=DISCARD):
                args = event["args"]
                log.warning(
                    "promise refused",
                    index=start + int(args["index"]),
                    account=args["account"],
                    node=args["node"],
                    reason=int(args["reason"]),
                    tx=sent.tx_hash,
                )
            transaction = sent.tx_hash
        return SettlementReceipt(paid, settled, transaction)

    # --- EscrowAccount ------------------------------------------------------------------------

    def deposit(self, amount: int) -> EscrowBalance:
        """Add `amount` wei to this handle's account's escrow."""
        self._send(self._contract.functions.deposit(), value=amount)
        return self._own_escrow()

    def request_withdrawal(self, amount: int) -> EscrowBalance:
        """Ask to withdraw `amount` wei: it stops backing new promises now and may leave after the
        delay (a new request replaces a pending one and restarts the delay)."""
        self._send(self._contract.functions.requestWithdrawal(amount))
        return self._own_escrow()

    def withdraw(self) -> EscrowBalance:
        """Take out the pending withdrawal once its delay has passed (`WithdrawalNotReady` before)."""
        self._send(self._contract.functions.withdraw())
        return self._own_escrow()

    # --- the price (governor only) ------------------------------------------------------------

    def set_price(self, terms: PriceTerms) -> SentTransaction:
        """Set the price; the contract accepts it only from its governor (`NotGovernor`)."""
        return self._send(self._contract.functions.setPrice(terms.price_per_byte, terms.min_billed_bytes))

    # --- internals ----------------------------------------------------------------------------

    def _own_escrow(self) -> EscrowBalance:
        """The account's escrow at the head, just after its own transaction."""
        account = self._require_account("escrow")
        balance, pending, at = self._call(
            "escrowOf", self._contract.functions.escrowOf(account.address), "latest"
        )
        return EscrowBalance(int(balance), int(pending), int(at) or None)

    def _read_block(self) -> BlockIdentifier:
        if self.confirmations == 0:
            return "latest"
        head = int(call_with_retries(self.rpc_url, "block number", lambda: self._web3.eth.block_number))
        return max(self._deploy_block, head - self.confirmations)  # before it, the contract had no code

    def _call(self, what: str, call: Any, block: BlockIdentifier | None = None) -> Any:
        at = self._read_block() if block is None else block
        try:
            return call_with_retries(self.rpc_url, what, lambda: call.call(block_identifier=at))
        except BadFunctionCallOutput as error:
            raise NotATesseraPayments(f"{self.address} gave no answer to {what} at block {at!r}") from error

    def _require_account(self, action: str) -> LocalAccount:
        if self._account is None:
            raise NoPaymentsAccount(
                f"{action} needs an Ethereum account (--eth-keystore); this payments handle is read-only"
            )
        return self._account

    def _send(self, call: Any, *, value: int = 0) -> SentTransaction:
        account = self._require_account(call.fn_name)
        sent = send_transaction(self._web3, self.rpc_url, self._contract, account, call, value=value)
        self.last_transaction = sent
        log.debug("payments transaction", function=call.fn_name, tx=sent.tx_hash, gas=sent.gas_used)
        return sent


def _checksum(address: str) -> str:
    if not Web3.is_address(address):
        raise RegistryError(f"{address!r} is not an Ethereum address")
    return str(Web3.to_checksum_address(address))


def _promise_tuple(signed: SignedPromise) -> tuple[str, str, bytes, int, int, int]:
    """The contract's `Promise` struct, as web3 encodes a tuple."""
    promise = signed.promise
    return (
        _checksum(promise.account),
        _checksum(promise.node),
        promise.data_root,
        promise.billed_bytes,
        promise.cumulative,
        promise.expiry,
    )


def deploy_payments(
    rpc_url: str,
    account: LocalAccount,
    *,
    registry_address: str,
    terms: PriceTerms,
    withdrawal_delay: int,
    governor: str | None = None,
) -> str:
    """Deploy a `TesseraPayments` for the registry at `registry_address` with the starting price
    `terms` and `withdrawal_delay` seconds; `governor` (default: the deploying account) is the only
    address that may change the price. Returns the contract's address."""
    if withdrawal_delay <= 0:
        raise RegistryError(f"the withdrawal delay must be positive, not {withdrawal_delay}")
    return deploy_contract(
        rpc_url,
        account,
        load_compiled(PAYMENTS_CONTRACT),
        _checksum(registry_address),
        _checksum(governor or account.address),
        terms.price_per_byte,
        terms.min_billed_bytes,
        withdrawal_delay,
    )
