"""Sequencer keys and promises for payment tests: real secp256k1 keys (eth-account), fixed so
failures replay."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account

from validator.payments.promise import PaymentDomain, PaymentPromise, SignedPromise, sign_promise


@dataclass(frozen=True)
class Sequencer:
    """An account and its key."""

    address: str
    key: bytes

    def sign(self, domain: PaymentDomain, promise: PaymentPromise) -> SignedPromise:
        return sign_promise(domain, promise, self.key)


def sequencer(number: int) -> Sequencer:
    """Account `number` (1, 2, ...): its key is that number's 32 big-endian bytes plus a constant."""
    key = (0x5EC0 * 1000 + number).to_bytes(32, "big")
    return Sequencer(str(Account.from_key(key).address), key)
