"""The embedded escrow: the payments port over tables in the SQLite registry file, for a one-host
network (specs/validator.md, "Payments"). It keeps the contract's rules: deposits, withdrawals after a
delay, a price anyone reads, and settlement that pays each (account, node) pair the highest promise's
cumulative less what it already paid, capped by the balance. No money moves: balances are numbers.

The tables live beside the registry's own, under their own version (`payments_schema_version` in the
registry's `meta`), so a registry file made before payments opens as before; `install_escrow` adds
them (with the price) to a new or an older file. Amounts are stored as decimal text (uint256 does
not fit SQLite's integers). Every write is one `BEGIN IMMEDIATE` transaction, so the processes of a
devnet share the escrow as they share the registry.

The EIP-712 verifying contract of the embedded escrow is an address derived from the registry's
genesis: the last 20 bytes of keccak256("tessera.embedded-escrow" ‖ chain_id (32 bytes, big-endian)
‖ seed(0) ‖ genesis_time as text), so promises signed for one devnet never verify on another.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import structlog
from eth_utils.address import is_hex_address, to_checksum_address
from eth_utils.crypto import keccak

from storage.sqlite import connect, serialized, transaction
from validator.errors import ValidatorError
from validator.payments.errors import BadPaymentSignature
from validator.payments.port import EscrowBalance, SettlementReceipt
from validator.payments.promise import PaymentDomain, PriceTerms, SignedPromise, recover_signer

log = structlog.get_logger(__name__)

PAYMENTS_SCHEMA_VERSION: Final = 1
ESCROW_DOMAIN_TAG: Final = b"tessera.embedded-escrow"
DEFAULT_PRICE_PER_BYTE: Final = 1_000
"""Wei per billed byte on a devnet: 1 MiB costs about 1.05e9 wei (1 gwei a KiB)."""
DEFAULT_MIN_BILLED_BYTES: Final = 4_096
DEFAULT_WITHDRAWAL_DELAY_S: Final = 3_600
"""A withdrawal waits an hour: much longer than a node's settlement interval (60 s by default)."""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS escrow_accounts (
    account TEXT PRIMARY KEY, balance TEXT NOT NULL, pending TEXT NOT NULL, withdrawable_at INTEGER
);
CREATE TABLE IF NOT EXISTS escrow_paid (
    account TEXT NOT NULL, node TEXT NOT NULL, paid TEXT NOT NULL, PRIMARY KEY (account, node)
);
CREATE TABLE IF NOT EXISTS escrow_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, account TEXT NOT NULL, node TEXT,
    amount TEXT NOT NULL, at REAL NOT NULL
);
"""


class EscrowError(ValidatorError):
    """Raised when an escrow change is refused or the escrow cannot be read; names what is wrong."""


class EscrowNotInstalled(EscrowError):
    """Raised when a registry file has no escrow tables (made before payments, or not a registry)."""


class InvalidEscrowAmount(EscrowError):
    """Raised when an amount is not positive, or more than the account has."""


class WithdrawalNotReady(EscrowError):
    """Raised when a withdrawal is taken before its delay has passed, or none is pending."""

    def __init__(self, message: str, withdrawable_at: int | None) -> None:
        super().__init__(message)
        self.withdrawable_at = withdrawable_at


def compute_escrow_address(chain_id: int, genesis_seed: bytes, genesis_time: str) -> str:
    """The embedded escrow's EIP-712 verifying contract: an address derived from the registry's
    genesis (see the module docstring)."""
    digest = keccak(ESCROW_DOMAIN_TAG + chain_id.to_bytes(32, "big") + genesis_seed + genesis_time.encode())
    return str(to_checksum_address(digest[12:]))


def install_escrow(
    path: Path,
    terms: PriceTerms,
    withdrawal_delay: int = DEFAULT_WITHDRAWAL_DELAY_S,
) -> None:
    """Add the escrow tables and the price to the registry file at `path` (a new one at genesis, or
    one made before payments: the migration). Refuses a file that has them already."""
    if terms.price_per_byte < 0 or terms.min_billed_bytes < 0 or withdrawal_delay < 0:
        raise InvalidEscrowAmount("price, minimum billed size and withdrawal delay must be >= 0")
    if not path.exists():
        raise EscrowNotInstalled(f"no registry at {path}")
    try:
        db = connect(path)
    except sqlite3.DatabaseError as error:
        raise EscrowNotInstalled(f"{path} is not a Tessera registry: {error}") from error
    try:
        with transaction(db):
            if _read_meta(db, "payments_schema_version") is not None:
                raise EscrowError(f"{path} has an escrow already")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            rows = {
                "payments_schema_version": str(PAYMENTS_SCHEMA_VERSION),
                "payments_price_per_byte": str(terms.price_per_byte),
                "payments_min_billed_bytes": str(terms.min_billed_bytes),
                "payments_withdrawal_delay": str(withdrawal_delay),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", rows.items())
    except sqlite3.DatabaseError as error:
        raise EscrowNotInstalled(f"{path} is not a Tessera registry: {error}") from error
    finally:
        db.close()


def _read_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


class SqliteEscrow:
    """`EscrowReader` and `PromiseSettler` over the registry file's escrow tables; `account(address)`
    gives a sequencer's `EscrowAccount`."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        if not path.exists():
            raise EscrowNotInstalled(f"no registry at {path}")
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        try:
            self._db = connect(path)
        except sqlite3.DatabaseError as error:
            raise EscrowNotInstalled(f"{path} is not a Tessera registry: {error}") from error
        try:
            version = _read_meta(self._db, "payments_schema_version")
            if version is None:
                raise EscrowNotInstalled(
                    f"{path} has no escrow (made before payments): install it, or run the node with "
                    "payments = false"
                )
            if int(version) != PAYMENTS_SCHEMA_VERSION:
                raise EscrowError(
                    f"{path} has escrow schema {version}, this build reads {PAYMENTS_SCHEMA_VERSION}"
                )
            seed = self._db.execute("SELECT seed FROM seeds WHERE epoch = 0").fetchone()
            chain_id = int(self._required("chain_id"))
            self._domain = PaymentDomain(
                chain_id, compute_escrow_address(chain_id, bytes(seed[0]), self._required("genesis_time"))
            )
            self._delay = int(self._required("payments_withdrawal_delay"))
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise EscrowNotInstalled(f"{path} is not a Tessera registry: {error}") from error
        except BaseException:
            self._db.close()
            raise

    def _required(self, key: str) -> str:
        value = _read_meta(self._db, key)
        if value is None:
            raise EscrowNotInstalled(f"{self.path} has no {key!r}")
        return value

    @serialized
    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> SqliteEscrow:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- EscrowReader ----------------------------------------------------------------------------

    def payment_domain(self) -> PaymentDomain:
        """The EIP-712 domain: the registry's chain id and the derived escrow address."""
        return self._domain

    @serialized
    def price_terms(self) -> PriceTerms:
        """The price stored in the file at genesis."""
        return PriceTerms(
            int(self._required("payments_price_per_byte")), int(self._required("payments_min_billed_bytes"))
        )

    def withdrawal_delay(self) -> int:
        """Seconds between asking to withdraw and being able to."""
        return self._delay

    @serialized
    def escrow_of(self, account: str) -> EscrowBalance:
        """The account's escrow (zero for an account that never deposited)."""
        return self._balance(self._db, _address(account))

    @serialized
    def settled(self, account: str, node: str) -> int:
        """What settlement has paid `node` from `account`."""
        return self._paid(self._db, _address(account), _address(node))

    # --- PromiseSettler --------------------------------------------------------------------------

    @serialized
    def settle(self, promises: Sequence[SignedPromise]) -> SettlementReceipt:
        """Pay each promise's node its cumulative less what it was paid, capped by the account's
        balance, in one transaction. A promise whose signature does not recover to its account pays
        nothing (and is logged); one at or below what was paid pays nothing. A capped payment leaves
        the rest owed: the same or a higher promise settles it once the account has funds."""
        verified = [signed for signed in promises if self._signed_by_account(signed)]
        paid_total = paying = 0
        with self._write() as db:
            for signed in verified:
                promise = signed.promise
                paid = self._paid(db, promise.account, promise.node)
                owed = promise.cumulative - paid
                if owed <= 0:
                    continue
                escrow = self._balance(db, promise.account)
                pay = min(owed, escrow.balance)
                if pay == 0:
                    continue
                balance = escrow.balance - pay
                self._put_balance(db, promise.account, balance, min(escrow.pending_withdrawal, balance),
                                  escrow.withdrawable_at)  # fmt: skip
                db.execute(
                    "INSERT INTO escrow_paid VALUES (?, ?, ?) ON CONFLICT (account, node) "
                    "DO UPDATE SET paid = excluded.paid",
                    (promise.account, promise.node, str(paid + pay)),
                )
                self._event(db, "settle", promise.account, pay, promise.node)
                paid_total += pay
                paying += 1
        return SettlementReceipt(paid=paid_total, promises=paying)

    def _signed_by_account(self, signed: SignedPromise) -> bool:
        try:
            if recover_signer(self._domain, signed) == signed.promise.account:
                return True
        except BadPaymentSignature:
            pass  # logged below, with the promise it came with
        log.warning("promise not settled: bad signature", account=signed.promise.account)
        return False

    # --- EscrowAccount (through `account`) -------------------------------------------------------

    def account(self, address: str) -> SqliteEscrowAccount:
        """The `EscrowAccount` of `address` on this escrow."""
        return SqliteEscrowAccount(self, _address(address))

    @serialized
    def deposit(self, account: str, amount: int) -> EscrowBalance:
        """Add `amount` to `account`'s balance."""
        if amount <= 0:
            raise InvalidEscrowAmount(f"a deposit must be positive, got {amount}")
        with self._write() as db:
            escrow = self._balance(db, account)
            self._put_balance(
                db, account, escrow.balance + amount, escrow.pending_withdrawal, escrow.withdrawable_at
            )
            self._event(db, "deposit", account, amount)
            return self._balance(db, account)

    @serialized
    def request_withdrawal(self, account: str, amount: int) -> EscrowBalance:
        """Add `amount` to the pending withdrawal (it stops backing promises now); the delay restarts."""
        with self._write() as db:
            escrow = self._balance(db, account)
            if amount <= 0 or escrow.pending_withdrawal + amount > escrow.balance:
                raise InvalidEscrowAmount(
                    f"cannot ask to withdraw {amount}: the balance is {escrow.balance}, "
                    f"{escrow.pending_withdrawal} of it pending already"
                )
            ready = int(self._clock()) + self._delay
            self._put_balance(db, account, escrow.balance, escrow.pending_withdrawal + amount, ready)
            self._event(db, "request_withdrawal", account, amount)
            return self._balance(db, account)

    @serialized
    def withdraw(self, account: str) -> EscrowBalance:
        """Take out the pending withdrawal once its delay has passed."""
        with self._write() as db:
            escrow = self._balance(db, account)
            if escrow.pending_withdrawal == 0 or escrow.withdrawable_at is None:
                raise WithdrawalNotReady("no withdrawal is pending", None)
            now = int(self._clock())
            if now < escrow.withdrawable_at:
                raise WithdrawalNotReady(
                    f"the withdrawal may go at {escrow.withdrawable_at} "
                    f"({escrow.withdrawable_at - now} s from now)",
                    escrow.withdrawable_at,
                )
            self._put_balance(db, account, escrow.balance - escrow.pending_withdrawal, 0, None)
            self._event(db, "withdraw", account, escrow.pending_withdrawal)
            return self._balance(db, account)

    # --- internals -------------------------------------------------------------------------------

    @staticmethod
    def _balance(db: sqlite3.Connection, account: str) -> EscrowBalance:
        row = db.execute(
            "SELECT balance, pending, withdrawable_at FROM escrow_accounts WHERE account = ?", (account,)
        ).fetchone()
        if row is None:
            return EscrowBalance(0, 0, None)
        return EscrowBalance(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))

    @staticmethod
    def _put_balance(
        db: sqlite3.Connection, account: str, balance: int, pending: int, withdrawable_at: int | None
    ) -> None:
        db.execute(
            "INSERT INTO escrow_accounts VALUES (?, ?, ?, ?) ON CONFLICT (account) DO UPDATE SET "
            "balance = excluded.balance, pending = excluded.pending, "
            "withdrawable_at = excluded.withdrawable_at",
            (account, str(balance), str(pending), withdrawable_at if pending else None),
        )

    @staticmethod
    def _paid(db: sqlite3.Connection, account: str, node: str) -> int:
        row = db.execute(
            "SELECT paid FROM escrow_paid WHERE account = ? AND node = ?", (account, node)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def _event(
        self, db: sqlite3.Connection, kind: str, account: str, amount: int, node: str | None = None
    ) -> None:
        db.execute(
            "INSERT INTO escrow_events (kind, account, node, amount, at) VALUES (?, ?, ?, ?, ?)",
            (kind, account, node, str(amount), self._clock()),
        )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with transaction(self._db, on_begin_failed=_unwritable) as db:
            yield db


class SqliteEscrowAccount:
    """One sequencer's `EscrowAccount` on the embedded escrow."""

    def __init__(self, escrow: SqliteEscrow, address: str) -> None:
        self._escrow = escrow
        self.address = address

    def deposit(self, amount: int) -> EscrowBalance:
        """Add `amount` wei to the escrow."""
        return self._escrow.deposit(self.address, amount)

    def request_withdrawal(self, amount: int) -> EscrowBalance:
        """Ask to withdraw `amount`; it may leave after the delay."""
        return self._escrow.request_withdrawal(self.address, amount)

    def withdraw(self) -> EscrowBalance:
        """Take out the pending withdrawal once its delay has passed."""
        return self._escrow.withdraw(self.address)


def _address(text: str) -> str:
    if not is_hex_address(text):
        raise EscrowError(f"not an address: {text[:50]!r}")
    return str(to_checksum_address(text))


def _unwritable(error: sqlite3.OperationalError) -> EscrowError:
    return EscrowError(f"the escrow is locked or unwritable: {error}")
