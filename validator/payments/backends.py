"""Opening the escrow of a registry by where the registry is, as `open_registry` does for the
registry: the escrow tables of a registry file, or (with the payments contract's backend) a chain."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from validator.payments.port import EscrowReader, PromiseSettler
from validator.payments.sqlite_escrow import EscrowError, SqliteEscrow
from validator.registry.backends import ChainLocation


class Escrow(EscrowReader, PromiseSettler, Protocol):
    """What a node needs of an escrow: read it, and settle its promises."""

    def close(self) -> None:
        """Release the backend's connection."""


def open_escrow(location: str | os.PathLike[str] | ChainLocation) -> Escrow:
    """The escrow beside the registry at `location`; raises `EscrowError` when there is none."""
    if isinstance(location, ChainLocation):
        raise EscrowError(
            f"no payments backend for the chain registry {location.address}: run the node with "
            "payments = false, or deploy the payments contract (specs/validator.md, Payments)"
        )
    return SqliteEscrow(Path(location))
