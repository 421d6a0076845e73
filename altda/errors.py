"""Typed errors of the Alt-DA package: one root (`AltDAError`), one subclass per failure."""

from __future__ import annotations


class AltDAError(Exception):
    """Root of every error raised by `altda/`."""


class MalformedCommitment(AltDAError):
    """Raised when bytes are not a Tessera Alt-DA commitment: too short, another commitment type, another
    DA layer's byte, an unknown payload version, or a certificate that does not decode. `reason`
    says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a Tessera commitment: {reason}")
        self.reason = reason


class InvalidAltDAConfig(AltDAError):
    """Raised when an `AltDAConfig` field is out of range; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid altda config {field}={value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class DAUnavailable(AltDAError):
    """Raised when no validator took the blob and certified it within the configured time (the
    server answers 503: the batcher falls back to Ethereum DA)."""


class PayloadRefused(DAUnavailable):
    """Raised when a validator refuses the blob itself (too large, empty): no other node takes it;
    `code` is the validator's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class L1Unavailable(AltDAError):
    """Raised when the L1 RPC cannot say a block's timestamp (unreachable, an error, no such block
    yet): the server answers 503 and the derivation asks again."""


class ServerBusy(AltDAError):
    """Raised when `max_in_flight` requests are being served: answered 429 with a Retry-After (op-batcher
    and op-node retry any status they do not act on)."""


class BlobNotFound(AltDAError):
    """Raised when no validator could give the blob's bytes (the server answers 404: derivation
    waits and asks again)."""


class BodyTimeout(AltDAError):
    """Raised when a put's body does not arrive whole within `body_timeout_s` (answered 408; the
    batcher retries)."""
