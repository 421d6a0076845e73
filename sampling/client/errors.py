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


class BlobExpired(LightClientError):
    """Raised, before any sampling, when the blob's availability window has ended: its data is retired
    by design, so its availability is unknown (specs/consensus.md, The availability window) — a
    verdict, not a failure, which `das light check` reports with its own exit code."""

    def __init__(
        self, data_root: bytes, epoch: int, quorum: int, current_epoch: int, window_epochs: int
    ) -> None:
        super().__init__(
            f"availability window ended for 0x{data_root.hex()}: epoch {epoch} + window {window_epochs} "
            f"< current epoch {current_epoch}"
        )
        self.data_root = data_root
        self.epoch = epoch
        self.quorum = quorum
        self.current_epoch = current_epoch
        self.window_epochs = window_epochs

    def to_json(self) -> dict[str, object]:
        """The verdict as JSON-ready values (what `das light check --json` prints)."""
        return {
            "data_root": "0x" + self.data_root.hex(),
            "verdict": "unknown",
            "available": None,
            "reason": "availability window ended",
            "epoch": self.epoch,
            "quorum": self.quorum,
            "current_epoch": self.current_epoch,
            "window_epochs": self.window_epochs,
            "expired_after_epoch": self.epoch + self.window_epochs,
        }


class StatusServerError(LightClientError, OSError):
    """Raised when the status server of `follow` could not start (an `OSError` too, as a port in use
    is, so callers handle both alike)."""
