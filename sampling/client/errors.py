"""Typed errors of the light client's drivers; all subclass `LightClientError` (itself a `SamplingError`)."""

from __future__ import annotations

from sampling.errors import SamplingError


class LightClientError(SamplingError):
    """Root of the errors raised by `sampling.client`."""


class HeaderUnavailable(LightClientError):
    """Raised when no source gave a header that hashes to the data root."""

    def __init__(self, data_root: bytes, tried: int, detail: str) -> None:
        super().__init__(f"no header for 0x{data_root.hex()} from {tried} source(s): {detail}")
        self.data_root = data_root
        self.tried = tried
        self.detail = detail


class CertificateRejected(LightClientError):
    """Raised when a certificate does not decode, does not verify, or names another data root."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"certificate rejected: {reason}")
        self.reason = reason


class AssignmentUnknown(LightClientError):
    """Raised when the blob's epoch and quorum cannot be known or do not exist in the registry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StatusServerError(LightClientError, OSError):
    """Raised when the status server of `follow` could not start (an `OSError` too, as a port in use
    is, so callers handle both alike)."""
