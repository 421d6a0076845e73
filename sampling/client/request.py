"""What `das light check` was told: a plain dataclass, importable without libp2p (the command builds it
before forking the KZG verifier and only then imports the client)."""

from __future__ import annotations

from dataclasses import dataclass

from da.types import DataRoot
from sampling.client.defaults import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PARALLEL_REQUESTS,
    DEFAULT_PEER_TIMEOUT_SECONDS,
    DEFAULT_TARGET_CONFIDENCE,
    DEFAULT_WINDOW_EPOCHS,
)
from validator.registry.backends import RegistryLocation
from validator.types import Epoch, QuorumIndex


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """Everything `das light check` was told."""

    data_root: DataRoot
    registry: RegistryLocation
    """The registry file, or the registry contract on a chain."""
    certificate: bytes | None = None
    epoch: Epoch | None = None
    quorum: QuorumIndex | None = None
    node_url: str | None = None
    peers: tuple[str, ...] = ()
    """Bootstrap multiaddrs (ending in /p2p/<peer id>): header sources, dialled first."""
    target: float = DEFAULT_TARGET_CONFIDENCE
    timeout: float = DEFAULT_PEER_TIMEOUT_SECONDS
    """Seconds a peer has to answer one request (dialling included) before it is abandoned."""
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    parallel: int = DEFAULT_PARALLEL_REQUESTS
    window_epochs: int = DEFAULT_WINDOW_EPOCHS
    """Epochs after its own that a blob is served; past them the check reports unknown (`BlobExpired`)."""
