"""Validator index <-> libp2p peer, read from the registry's records, and dialing them."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import structlog
import trio

from network.errors import NetworkError, PeerUnreachable
from network.service import NetworkService
from network.types import PeerName
from validator.registry import ValidatorRegistry
from validator.types import ValidatorIndex

log = structlog.get_logger(__name__)

Record = tuple[ValidatorIndex, str, tuple[str, ...]]
"""(validator, peer id, multiaddrs) as the registry publishes them."""


@dataclass
class PeerBook:
    """Who is who on the network, as the registry says; re-read on a miss."""

    registry: ValidatorRegistry
    by_peer: dict[PeerName, ValidatorIndex] = field(default_factory=dict)
    by_index: dict[ValidatorIndex, PeerName] = field(default_factory=dict)
    addresses: dict[ValidatorIndex, tuple[str, ...]] = field(default_factory=dict)

    def read(self) -> list[Record]:
        """Refresh from the registry (blocking: call from a thread); returns the records."""
        context = self.registry.get_epoch_context(self.registry.current_epoch())
        records = [(r.index, r.peer_id, r.multiaddrs) for r in context.validators]
        for index, peer_id, addrs in records:
            if peer_id:
                self.by_peer[PeerName(peer_id)] = index
                self.by_index[index] = PeerName(peer_id)
                self.addresses[index] = addrs
        return records

    async def peer_of(self, index: ValidatorIndex) -> PeerName | None:
        """The peer of validator `index`, re-reading the registry once if it is not known yet."""
        if index not in self.by_index:
            await trio.to_thread.run_sync(self.read)
        return self.by_index.get(index)

    def validator_of(self, peer: PeerName) -> ValidatorIndex | None:
        """The validator behind `peer` (blocking: called from port threads), re-reading on a miss."""
        if peer not in self.by_peer:
            self.read()
        return self.by_peer.get(peer)

    async def connect_all(self, service: NetworkService, me: ValidatorIndex) -> None:
        """Dial every registered validator not connected yet (one address after another)."""
        records = await trio.to_thread.run_sync(self.read)
        connected = set(service.connected_peers())
        for index, peer_id, addrs in records:
            if not peer_id or index == me or PeerName(peer_id) in connected:
                continue
            for address in addrs:
                try:
                    await service.connect(address)
                    break
                except NetworkError as error:
                    log.debug("peer not reachable yet", validator=index, address=address, error=str(error))

    async def connect(self, service: NetworkService, peer: PeerName, *, fresh: bool) -> None:
        """Dial `peer` if needed; `fresh` after a failed stream: a new connection, since the old one may
        be half-closed (every later stream on it would fail alike, and the send would be lost)."""
        try:
            if fresh:
                await service.reconnect(peer)
            else:
                await service.ensure_connected(peer)
        except PeerUnreachable:  # none of the addresses it had: the registry's may be newer
            index = self.by_peer.get(peer)
            for address in self.addresses.get(index, ()) if index is not None else ():
                with contextlib.suppress(NetworkError):
                    await service.connect(address)
                    return
            raise
