"""The node's persisted libp2p identity: an ed25519 key created on first start, reused after."""

from __future__ import annotations

import os
from pathlib import Path

import structlog
from libp2p import generate_new_ed25519_identity, generate_peer_id_from
from libp2p.crypto.keys import KeyPair
from libp2p.identity_utils import load_identity, save_identity

from network.errors import NetworkError

log = structlog.get_logger(__name__)


class InvalidIdentityFile(NetworkError):
    """Raised when the identity file exists but does not hold a libp2p private key."""

    def __init__(self, path: Path, detail: str) -> None:
        super().__init__(f"identity file {path} is unusable: {detail}")
        self.path = path
        self.detail = detail


def load_or_create_identity(path: Path | None) -> KeyPair:
    """The key at `path`, creating it (mode 0600, written atomically) if absent; a fresh key for None."""
    if path is None:
        return generate_new_ed25519_identity()
    if path.exists():
        try:
            key_pair = load_identity(path)
        except Exception as error:
            raise InvalidIdentityFile(path, f"{type(error).__name__}: {error}") from error
        log.info("identity loaded", path=str(path), peer=str(generate_peer_id_from(key_pair)))
        return key_pair
    path.parent.mkdir(parents=True, exist_ok=True)
    key_pair = generate_new_ed25519_identity()
    temporary = path.with_name(path.name + ".tmp")
    save_identity(key_pair, temporary)
    os.replace(temporary, path)
    log.info("identity created", path=str(path), peer=str(generate_peer_id_from(key_pair)))
    return key_pair
