"""What the API handlers need from the node (`NodeApi`), and its implementation over the trio bridge."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from network.bridge import TrioBridge
from network.types import PeerName
from validator.daemon.api.errors import ApiError


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this node is on the p2p network."""

    peer_id: PeerName
    listen_addrs: tuple[str, ...]
    network: str


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """A connected peer and its current score."""

    peer_id: PeerName
    score: float


class NodeApi(Protocol):
    """The node as the HTTP handlers see it (asyncio side)."""

    def is_running(self) -> bool:
        """True while the p2p service runs."""

    async def identity(self) -> NodeIdentity:
        """This node's peer id and addresses."""

    async def peers(self) -> list[PeerSummary]:
        """Connected peers."""

    async def ping(self, peer: PeerName) -> float:
        """Round-trip time to `peer` in seconds."""


class BridgedNode:
    """`NodeApi` over a `TrioBridge`: every call runs in the trio thread that owns the host."""

    def __init__(self, bridge: TrioBridge) -> None:
        self._bridge = bridge

    def is_running(self) -> bool:
        """True while the bridge (and so the host) runs."""
        return self._bridge.running

    async def identity(self) -> NodeIdentity:
        """This node's peer id and addresses."""
        service = self._bridge.service

        async def read() -> NodeIdentity:
            return NodeIdentity(service.peer_id, tuple(service.listen_addrs), service.config.network_name)

        return await self._bridge.call(read)

    async def peers(self) -> list[PeerSummary]:
        """Connected peers with their scores."""
        service = self._bridge.service

        async def read() -> list[PeerSummary]:
            return [PeerSummary(peer, service.guard.score(peer)) for peer in service.connected_peers()]

        return await self._bridge.call(read)

    async def ping(self, peer: PeerName) -> float:
        """Round-trip time to `peer` through the bridge and libp2p ping; `unknown_peer` (404) for a
        peer this node neither is connected to nor has an address for."""
        service = self._bridge.service

        async def known() -> bool:
            return service.knows_peer(peer)

        if not await self._bridge.call(known):
            raise ApiError("unknown_peer", f"this node knows no peer {peer}")
        return await self._bridge.call(service.ping, peer)
