"""Which JSON-RPC answers are transient, how long they are retried, and how many RPCs must agree
(pure: no web3, no I/O), so a `ChainLocation` and the CLI check them without importing the backend.

Transient (retried): no connection, a timeout, a dropped or garbled answer; HTTP 408, 425, 429, 500,
502, 503, 504; JSON-RPC -32005 "limit exceeded" (EIP-1474); any other JSON-RPC code whose message
carries one of `TRANSIENT_RPC_PHRASES` (hosted providers answer -32603 "rate limited" or -32000
"header not found" from a lagging backend). Permanent (raised at once, typed): every other HTTP
status (401, 403, 404, 501, ...), reverts (code 3, "execution reverted"), malformed requests
(-32600, -32601, -32602) and any JSON-RPC error without a transient phrase.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from validator.errors import RegistryError

TRANSIENT_HTTP_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP answers that say "not now" (rate limits, overload, a gateway without its upstream)."""
TRANSIENT_RPC_CODES: Final = frozenset({-32005})
"""JSON-RPC codes that are transient by themselves: -32005 "limit exceeded" (EIP-1474)."""
TRANSIENT_RPC_PHRASES: Final = (
    "rate limit", "limit exceeded", "too many requests", "timeout", "timed out", "busy",
    "try again", "temporarily", "unavailable", "header not found", "overloaded",
)  # fmt: skip
"""Phrases that mark a JSON-RPC error of a generic code (-32603 internal, -32000 server error, ...)
as transient: what hosted providers answer under load and load balancers whose backend lags."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long a JSON-RPC request is retried on transient answers: at most `attempts` tries and
    `max_seconds` in all, pausing `base_seconds` x 2^k (capped at `cap_seconds`) with full jitter."""

    attempts: int = 8
    max_seconds: float = 60.0
    base_seconds: float = 0.25
    cap_seconds: float = 8.0

    def validate(self) -> RetryPolicy:
        """Return self if usable, else raise `RegistryError` naming the field."""
        if not 1 <= self.attempts <= 1000:
            raise RegistryError(f"retry policy attempts must be 1..1000, not {self.attempts}")
        for name in ("max_seconds", "base_seconds", "cap_seconds"):
            if not 0 <= getattr(self, name) <= 3600:
                raise RegistryError(f"retry policy {name} must be 0..3600 s, not {getattr(self, name)}")
        return self

    def pause(self, attempt: int, rng: random.Random) -> float:
        """The pause after failed attempt number `attempt` (1-based): full jitter under the cap."""
        return rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1)))


DEFAULT_RETRY_POLICY: Final = RetryPolicy()


def is_transient_rpc_error(error: object) -> bool:
    """Whether a JSON-RPC error object (`{"code": .., "message": ..}`) says "try again later": code
    -32005, or a generic code whose message carries a load phrase. Reverts (code 3, "execution
    reverted") and malformed requests (-32600, -32601, -32602) are permanent."""
    if not isinstance(error, dict):
        return False
    code, message = error.get("code"), str(error.get("message", "")).lower()
    if code in TRANSIENT_RPC_CODES:
        return True
    if code in (3, -32600, -32601, -32602) or "revert" in message:
        return False
    return any(phrase in message for phrase in TRANSIENT_RPC_PHRASES)


def validate_rpc_quorum(quorum: int | None, rpcs: int) -> int:
    """The quorum to use for `rpcs` RPCs (None: all of them); more than half, so two different answers
    can never both reach it. `RegistryError` naming the bound otherwise."""
    chosen = rpcs if quorum is None else quorum
    if not rpcs // 2 < chosen <= rpcs:
        raise RegistryError(f"the RPC quorum must be {rpcs // 2 + 1}..{rpcs} for {rpcs} RPCs, not {chosen}")
    return chosen
