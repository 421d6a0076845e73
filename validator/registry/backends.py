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

from validator.registry.chain.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from validator.registry.port import Registry
from validator.registry.sqlite import SqliteRegistry

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount


MAX_CONFIRMATIONS = 1024
"""More than any chain's reorg depth: a larger count is a typo, not a safety margin."""


@dataclass(frozen=True, slots=True)
class ChainLocation:
    """A registry contract: the JSON-RPC URL of its chain (and of more RPCs that must agree with it)
    and its address."""

    rpc_url: str
    address: str
    confirmations: int | None = None
    """Blocks a change must have on top of it before it counts (0 follows the latest block; on a
    chain that reorganizes, its reorg depth, so no epoch is frozen from blocks that may vanish).
    None: the chain's default (0 on anvil's dev chain 31337, else 12: `default_confirmations`)."""
    more_rpc_urls: tuple[str, ...] = ()
    """Further RPCs of the same chain: every verdict read must agree across them (`rpc_quorum`)."""
    rpc_quorum: int | None = None
    """How many of the RPCs must give the same answer (None: all of them)."""
    retry: RetryPolicy = DEFAULT_RETRY_POLICY
    """How long each JSON-RPC request is retried on transient answers."""

    @property
    def rpc_urls(self) -> tuple[str, ...]:
        """Every RPC of this location, the first (writes, the clock) first."""
        return (self.rpc_url, *self.more_rpc_urls)

    def __str__(self) -> str:
        return f"{self.address} on {', '.join(self.rpc_urls)}"


RegistryLocation = Path | ChainLocation
"""Where a registry is: a SQLite file or a contract on a chain."""


def open_registry(
    location: str | os.PathLike[str] | ChainLocation, *, account: LocalAccount | None = None
) -> Registry:
    """The registry at `location`; raises `RegistryError` when there is none or it is not ours.

    `account` signs the transactions of a chain registry (read-only without one); a file registry
    takes none."""
    if isinstance(location, ChainLocation):
        from validator.registry.chain.agreement import AgreeingRegistry  # noqa: PLC0415 - web3 when asked
        from validator.registry.chain.backend import ChainRegistry  # noqa: PLC0415

        readers: list[ChainRegistry] = []
        try:
            for url in location.rpc_urls:
                readers.append(
                    ChainRegistry(
                        url,
                        location.address,
                        account=account if not readers else None,
                        confirmations=location.confirmations,
                        retry=location.retry,
                    )
                )
            return readers[0] if len(readers) == 1 else AgreeingRegistry(readers, location.rpc_quorum)
        except BaseException:
            for reader in readers:
                reader.close()
            raise
    return SqliteRegistry(Path(location))
