"""Paid dispersal on one node (specs/validator.md, "Payments"): the gate that checks a post's promise
against the escrow and what this node holds, and the settlement of the promises it holds.

The gate's calls block (store and escrow reads): the intake runs them in worker threads. A promise is
checked twice: before the body is read (everything but the root, with the declared size), and once
the root is known, against the held promise read again; the blob and its promise are then recorded
in one store transaction (`NodeStore.add_blob`), so nothing is stored for a refused promise and no
accepted one is lost on a crash.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import trio
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from validator.daemon.metrics import NodeMetrics
from validator.daemon.store import HeldPayment, NodeStore
from validator.errors import ValidatorError
from validator.payments.errors import PaymentError, PaymentRequired
from validator.payments.port import EscrowReader, PromiseSettler, SettlementReceipt
from validator.payments.promise import PAYMENT_HEADER, PaymentDomain, SignedPromise, check_promise

log = structlog.get_logger(__name__)

DEFAULT_SETTLE_INTERVAL_S = 60.0
DEFAULT_SETTLE_BATCH = 100


def compute_default_payee(pubkey: bytes) -> str:
    """A node's payee on a registry file when none is configured: the last 20 bytes of
    keccak256("tessera.payee" ‖ its BLS public key). Nobody holds a key for it; the embedded escrow
    moves no money, so it only needs to be this node's and stable."""
    return str(to_checksum_address(keccak(b"tessera.payee" + pubkey)[12:]))


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """What a sequencer needs to sign a promise to this node, and what this node holds from it."""

    payee: str
    domain: PaymentDomain
    price_per_byte: int
    min_billed_bytes: int
    held: int | None = None
    """The highest cumulative held from the account asked about (0: none); None when none was asked."""
    settled: int | None = None
    """What settlement has paid this node from that account."""


class PaymentGate:
    """Checks promises for this node (`payee`) against `escrow` and the promises held in `store`."""

    def __init__(
        self,
        escrow: EscrowReader,
        payee: str,
        store: NodeStore,
        clock: Callable[[], float] = time.time,
        metrics: NodeMetrics | None = None,
    ) -> None:
        """`metrics`: where refusals are counted by code (`tessera_payments_refused`)."""
        self._metrics = metrics
        self._escrow = escrow
        self.payee = payee
        self._store = store
        self._clock = clock
        self.domain = escrow.payment_domain()
        """Fixed for the escrow's life (its chain and contract)."""

    def terms(self, account: str | None = None) -> PaymentTerms:
        """The price, the domain and this node's address; with `account`, what it holds from it."""
        price = self._escrow.price_terms()
        held = settled = None
        if account is not None:
            promise = self._store.held_promise(account)
            held = 0 if promise is None else promise.signed.promise.cumulative
            settled = self._escrow.settled(account, self.payee)
        return PaymentTerms(
            self.payee, self.domain, price.price_per_byte, price.min_billed_bytes, held, settled
        )

    def require(self, signed: SignedPromise | None) -> SignedPromise:
        """`signed`, or `PaymentRequired` naming the price and where to pay."""
        if signed is not None:
            return signed
        terms = self.terms()
        raise PaymentRequired(
            f"this node takes paid posts: send a {PAYMENT_HEADER} header (GET /v1/payments)",
            payee=self.payee,
            chain_id=self.domain.chain_id,
            verifying_contract=self.domain.verifying_contract,
            price_per_byte=str(terms.price_per_byte),
            min_billed_bytes=terms.min_billed_bytes,
        )

    def check(
        self, signed: SignedPromise | None, byte_length: int | None, data_root: bytes | None
    ) -> HeldPayment:
        """Check `signed` for a blob of `byte_length` bytes (None: not known yet; the promise's billed
        size is checked when it is) with `data_root` (None: not known yet) against the held promise
        and the escrow now; raises the `PaymentError`. The result is what `add_blob` records."""
        try:
            return self._check(signed, byte_length, data_root)
        except PaymentError as error:
            if self._metrics is not None:
                self._metrics.payments_refused.labels(code=error.code).inc()
            log.info("payment refused", code=error.code, error=str(error))
            raise

    def _check(
        self, signed: SignedPromise | None, byte_length: int | None, data_root: bytes | None
    ) -> HeldPayment:
        signed = self.require(signed)
        promise = signed.promise
        held = self._store.held_promise(promise.account)
        previous = 0 if held is None else held.signed.promise.cumulative
        covered = self._escrow.escrow_of(promise.account).covered
        check_promise(
            signed,
            domain=self.domain,
            node=self.payee,
            terms=self._escrow.price_terms(),
            byte_length=promise.billed_bytes if byte_length is None else byte_length,
            data_root=data_root,
            held=previous,
            settled=self._escrow.settled(promise.account, self.payee),
            covered=covered,
            now=int(self._clock()),
        )
        return HeldPayment(signed, previous)


@dataclass(frozen=True, slots=True)
class SettlementResult:
    """One settlement round: the promises sent, what the escrow paid, the accounts now settled."""

    sent: int
    receipt: SettlementReceipt | None
    accounts: tuple[str, ...] = ()


def settle_held(
    store: NodeStore, settler: PromiseSettler, escrow: EscrowReader, payee: str, batch: int
) -> SettlementResult:
    """Settle up to `batch` held promises above what was settled (blocking). Crash-safe: what was
    settled is read back from the escrow and only then marked, so a crash in between settles again,
    and the escrow pays nothing twice."""
    held = store.promises_to_settle(batch)
    if not held:
        return SettlementResult(0, None)
    receipt = settler.settle([h.signed for h in held])
    accounts = []
    for promise in held:
        account = promise.signed.promise.account
        store.mark_settled(account, escrow.settled(account, payee))
        accounts.append(account)
    log.info("promises settled", promises=len(held), paid=str(receipt.paid), transaction=receipt.transaction)
    return SettlementResult(len(held), receipt, tuple(accounts))


MAX_SETTLE_ROUNDS = 1000


def settle_all(
    store: NodeStore, settler: PromiseSettler, escrow: EscrowReader, payee: str, batch: int
) -> list[SettlementResult]:
    """Settle every held promise above what was settled, `batch` per call, until a round pays
    nothing (what is left is owed by accounts without funds) or none is left (blocking)."""
    rounds: list[SettlementResult] = []
    for _ in range(MAX_SETTLE_ROUNDS):
        result = settle_held(store, settler, escrow, payee, batch)
        if result.receipt is None:
            break
        rounds.append(result)
        if result.receipt.paid == 0:
            break
    return rounds


class Settlement:
    """The node's automatic settlement: every `interval_s`, the held promises above what was
    settled, `batch` at a time (one settlement call each). A failing escrow is logged and tried
    again at the next interval."""

    def __init__(
        self,
        store: NodeStore,
        settler: PromiseSettler,
        escrow: EscrowReader,
        payee: str,
        interval_s: float = DEFAULT_SETTLE_INTERVAL_S,
        batch: int = DEFAULT_SETTLE_BATCH,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._settler = settler
        self._escrow = escrow
        self._payee = payee
        self._interval_s = interval_s
        self._batch = batch

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            await trio.sleep(self._interval_s)
            await self.settle_once()

    async def settle_once(self) -> SettlementResult | None:
        """One round in a worker thread; None when the escrow failed (logged)."""
        try:
            result = await trio.to_thread.run_sync(
                settle_held, self._store, self._settler, self._escrow, self._payee, self._batch
            )
        except (ValidatorError, sqlite3.Error, OSError) as error:  # the next round tries again
            log.warning("settlement failed", error=str(error), kind=type(error).__name__)
            if self._metrics is not None:
                self._metrics.errors.labels(kind="settlement").inc()
            return None
        if self._metrics is not None:
            self._metrics.promises_settled.inc(result.sent)
        return result
