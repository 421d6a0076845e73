"""The payments port: what a node reads about escrows and prices, what it settles, and what a
sequencer changes. Two backends implement it, as the registry has: the payments contract on an EVM
chain (`validator.registry.chain`) and an escrow table in the embedded SQLite registry file.

Amounts are wei (int); addresses are checksummed strings; times are unix seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from validator.payments.promise import PaymentDomain, PriceTerms, SignedPromise


@dataclass(frozen=True, slots=True)
class EscrowBalance:
    """An account's escrow: its balance, the part it asked to withdraw, and when that part may go
    (None when no withdrawal is pending). A node counts only `covered` as backing promises."""

    balance: int
    pending_withdrawal: int
    withdrawable_at: int | None

    @property
    def covered(self) -> int:
        """What backs new promises: the balance less the pending withdrawal."""
        return self.balance - self.pending_withdrawal


@dataclass(frozen=True, slots=True)
class SettlementReceipt:
    """The result of one settlement call: what was paid to whom, and (on a chain) the transaction."""

    paid: int
    promises: int
    transaction: str | None = None


class EscrowReader(Protocol):
    """Read side used by nodes (to check promises) and by anyone (to read the price)."""

    def payment_domain(self) -> PaymentDomain:
        """The EIP-712 domain promises are signed under."""

    def price_terms(self) -> PriceTerms:
        """The current price per byte and minimum billed size."""

    def withdrawal_delay(self) -> int:
        """Seconds between asking to withdraw and being able to."""

    def escrow_of(self, account: str) -> EscrowBalance:
        """The account's escrow (all zero for an account that never deposited)."""

    def settled(self, account: str, node: str) -> int:
        """The cumulative amount the contract has already paid `node` from `account`."""


class PromiseSettler(Protocol):
    """Write side used by nodes: settle the highest promises held (one per account)."""

    def settle(self, promises: Sequence[SignedPromise]) -> SettlementReceipt:
        """Pay each promise's node what its cumulative adds to what was already paid; a promise at or
        below what was paid pays nothing and is not an error."""


class EscrowAccount(Protocol):
    """Write side used by a sequencer for its own account."""

    def deposit(self, amount: int) -> EscrowBalance:
        """Add `amount` wei to the account's escrow."""

    def request_withdrawal(self, amount: int) -> EscrowBalance:
        """Ask to withdraw `amount`; it stops backing new promises now and may leave after the delay."""

    def withdraw(self) -> EscrowBalance:
        """Take out the pending withdrawal once its delay has passed."""
