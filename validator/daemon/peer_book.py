"""Validator index <-> libp2p peer, read from the registry's records, and dialing them."""

from __future__ import annotations

import contextlib
import threading

import structlog
import trio

from network.errors import NetworkError, PeerUnreachable
from network.service import NetworkService
from network.types import PeerName
from validator.errors import RegistryError
from validator.registry import ValidatorRegistry
from validator.types import ValidatorIndex

log = structlog.get_logger(__name__)

Record = tuple[ValidatorIndex, str, tuple[str, ...]]
"""(validator, peer id, multiaddrs) as the registry publishes them."""


class PeerBook:
    """Who is who on the network, as the registry says; re-read on a miss. Read from the trio
    thread and the request handlers' threads, so its maps change only under its lock."""

    def __init__(self, registry: ValidatorRegistry) -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._by_peer: dict[PeerName, ValidatorIndex] = {}
        self._by_index: dict[ValidatorIndex, PeerName] = {}
        self._addresses: dict[ValidatorIndex, tuple[str, ...]] = {}

    def read(self) -> list[Record]:
        """Refresh from the registry (blocking: call from a thread); returns the records."""
        context = self._registry.get_epoch_context(self._registry.current_epoch())
        records = [(r.index, r.peer_id, r.multiaddrs) for r in context.validators]
        with self._lock:
            for index, peer_id, addrs in records:
                if peer_id:
                    self._by_peer[PeerName(peer_id)] = index
                    self._by_index[index] = PeerName(peer_id)
                    self._addresses[index] = addrs
        return records

    def known_peer_of(self, index: ValidatorIndex) -> PeerName | None:
        """The peer of validator `index` as last read (no registry read)."""
        with self._lock:
            return self._by_index.get(index)

    async def peer_of(self, index: ValidatorIndex) -> PeerName | None:
        """The peer of validator `index`, re-reading the registry once if it is not known yet (None
        while the registry does not answer: the caller's send fails, not the node)."""
        if self.known_peer_of(index) is None:
            try:
                await trio.to_thread.run_sync(self.read)
            except RegistryError as error:
                log.info("peer not looked up: no registry", validator=index, error=str(error))
        return self.known_peer_of(index)

    def known_validator_of(self, peer: PeerName) -> ValidatorIndex | None:
        """The validator behind `peer` as last read (no registry read)."""
        with self._lock:
            return self._by_peer.get(peer)

    def is_validator_peer(self, peer: PeerName) -> bool:
        """True if `peer` is a registered validator's, as last read (no registry read: the connection
        manager asks on every new connection, and a fresh peer id must not cost a lookup)."""
        with self._lock:
            return peer in self._by_peer

    def validator_of(self, peer: PeerName) -> ValidatorIndex | None:
        """The validator behind `peer` (blocking: called from handler threads), re-reading on a miss."""
        with self._lock:
            known = self._by_peer.get(peer)
        if known is not None:
            return known
        self.read()
        with self._lock:
            return self._by_peer.get(peer)

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
            with self._lock:
                index = self._by_peer.get(peer)
                addresses = self._addresses.get(index, ()) if index is not None else ()
            for address in addresses:
                with contextlib.suppress(NetworkError):
                    await service.connect(address)
                    return
            raise
