"""The light client's defaults (their home is the "Client defaults" table of `specs/sampling.md`).

Plain constants, importable without libp2p, so `das` can build its parser cheaply.
"""

from __future__ import annotations

from typing import Final

DEFAULT_TARGET_CONFIDENCE: Final = 0.9999
DEFAULT_PEER_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_ATTEMPTS: Final = 3
DEFAULT_PARALLEL_REQUESTS: Final = 16
HEADER_PARALLEL_REQUESTS: Final = 1
DEFAULT_FOLLOW_WORKERS: Final = 2
DEFAULT_FOLLOW_BACKLOG: Final = 256
ROOT_DEADLINE_SECONDS: Final = 60.0
DEFAULT_REGISTRY_PEERS: Final = 8
DEFAULT_WINDOW_EPOCHS: Final = 24
"""Epochs after its own that a blob is served (`--window-epochs`); past it a check reports unknown.
Must equal the validators' `validator.daemon.retention.DEFAULT_RETENTION_EPOCHS` (the layering keeps
`sampling.client` and `validator.daemon` apart; tests/sampling/client/test_expiry.py asserts they match)."""
