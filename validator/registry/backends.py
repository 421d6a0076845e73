"""Opening a registry by where it is, so no caller names a backend class.

A location is a file path (the embedded SQLite registry that one devnet's processes share) or a
`ChainLocation` (an RPC URL and the address of a Tessera registry contract). The chain backend and
web3.py are imported only when a chain location is opened, so the embedded path starts as fast as
before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from validator.registry.port import Registry
from validator.registry.sqlite import SqliteRegistry

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


MAX_CONFIRMATIONS = 1024
"""More than any chain's reorg depth: a larger count is a typo, not a safety margin."""


@dataclass(frozen=True, slots=True)
class ChainLocation:
    """A registry contract: the JSON-RPC URL of its chain and its address."""

    rpc_url: str
    address: str
    confirmations: int = 0
    """Blocks a change must have on top of it before it counts (0 follows the latest block; on a
    chain that reorganizes, its reorg depth, so no epoch is frozen from blocks that may vanish)."""

    def __str__(self) -> str:
        return f"{self.address} on {self.rpc_url}"


RegistryLocation = Path | ChainLocation
"""Where a registry is: a SQLite file or a contract on a chain."""


def open_registry(
    location: str | os.PathLike[str] | ChainLocation, *, account: LocalAccount | None = None
) -> Registry:
    """The registry at `location`; raises `RegistryError` when there is none or it is not ours.

    `account` signs the transactions of a chain registry (read-only without one); a file registry
    takes none."""
    if isinstance(location, ChainLocation):
        from validator.registry.chain.backend import ChainRegistry  # noqa: PLC0415 - web3 only when asked

        return ChainRegistry(
            location.rpc_url, location.address, account=account, confirmations=location.confirmations
        )
    return SqliteRegistry(Path(location))
