"""Typed refusals of a payment promise. Each carries the stable API `code` and HTTP `status` a node
answers with, so the daemon maps them without a second table (specs/validator.md, "Payments")."""

from __future__ import annotations


class PaymentError(Exception):
    """Base of every payment refusal; `code` is stable, `status` is the HTTP status to answer with,
    `details` are the code's own fields (amounts as decimal strings, addresses checksummed)."""

    code = "payment_required"
    status = 402

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class PaymentRequired(PaymentError):
    """The request carries no promise, and this node runs with payments on."""

    code = "payment_required"
    status = 402


class MalformedPayment(PaymentError):
    """The promise header does not parse: a missing or repeated field, a bad address, number or hex."""

    code = "malformed_payment"
    status = 400


class BadPaymentSignature(PaymentError):
    """The signature does not recover to the promise's account (or is not a valid signature at all)."""

    code = "bad_payment_signature"
    status = 401


class WrongPayee(PaymentError):
    """The promise is owed to another node, or signed for another chain or payments contract."""

    code = "wrong_payee"
    status = 402


class PromiseExpired(PaymentError):
    """The promise's expiry has passed."""

    code = "promise_expired"
    status = 402


class PromiseRootMismatch(PaymentError):
    """The promise pays for another blob (its data root is not the posted blob's)."""

    code = "promise_root_mismatch"
    status = 402


class BilledSizeMismatch(PaymentError):
    """The promise's billed size is not the blob's billed size (its byte length, at least the minimum)."""

    code = "billed_size_mismatch"
    status = 402


class PromiseReplayed(PaymentError):
    """The promise's cumulative amount is not above the highest this node already holds from the
    account: a replay, or a counter that went backwards."""

    code = "promise_replayed"
    status = 402


class InsufficientIncrement(PaymentError):
    """The cumulative amount grew by less than the blob costs at the on-chain price."""

    code = "insufficient_increment"
    status = 402


class InsufficientEscrow(PaymentError):
    """The account's escrow (less any pending withdrawal) does not cover all it has promised this node."""

    code = "insufficient_escrow"
    status = 402
