"""`NodeApi` over the trio bridge: every call runs in the trio thread that owns the host and the node."""

from __future__ import annotations

from da.types import DataRoot
from network.bridge import TrioBridge
from network.types import PeerName
from validator.daemon.api.errors import ApiError
from validator.daemon.api.port import (
    BlobDesk,
    BlobView,
    EncoderStatus,
    NodeIdentity,
    PaymentView,
    PeerSummary,
    RegistryView,
)


class BridgedNode:
    """The node as the API sees it: the libp2p service behind `bridge`, and the validator's `desk`
    for blobs (None for a p2p host without a validator: blob calls answer service_unavailable)."""

    def __init__(self, bridge: TrioBridge, desk: BlobDesk | None = None) -> None:
        self._bridge = bridge
        self._desk = desk

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

    def _require_desk(self) -> BlobDesk:
        if self._desk is None:
            raise ApiError("service_unavailable", "this node runs no validator: it takes and serves no blobs")
        return self._desk

    async def admit_blob(
        self, byte_length: int | None, pre_encoded: bool = False, payment: str | None = None
    ) -> None:
        """Whether a blob (or upload) of `byte_length` bytes, paid by `payment`, would be taken now
        (raises as `submit_blob` / `submit_upload` would)."""
        await self._bridge.call(self._require_desk().admit_blob, byte_length, pre_encoded, payment)

    async def submit_blob(self, data: bytes, payment: str | None = None) -> BlobView:
        """Accept a posted blob (durably `received` when this returns)."""
        return await self._bridge.call(self._require_desk().submit_blob, data, payment)

    async def submit_upload(self, body: bytes, payment: str | None = None) -> BlobView:
        """Check and accept a pre-encoded upload."""
        return await self._bridge.call(self._require_desk().submit_upload, body, payment)

    async def payment_terms(self, account: str | None) -> PaymentView:
        """Whether posts are paid, and the terms."""
        return await self._bridge.call(self._require_desk().payment_terms, account)

    async def blob_status(self, data_root: DataRoot) -> BlobView | None:
        """Where the blob stands on this node."""
        return await self._bridge.call(self._require_desk().blob_status, data_root)

    async def certificate(self, data_root: DataRoot) -> bytes | None:
        """The SSZ certificate of `data_root`, if this node has it."""
        return await self._bridge.call(self._require_desk().certificate, data_root)

    async def header(self, data_root: DataRoot) -> bytes | None:
        """The SSZ header of `data_root`, if this node knows it."""
        return await self._bridge.call(self._require_desk().header, data_root)

    async def blob_data(self, data_root: DataRoot) -> bytes | None:
        """The blob's bytes (reassembled in the trio thread when needed)."""
        return await self._bridge.call(self._require_desk().blob_data, data_root)

    def metrics(self) -> bytes:
        """The Prometheus text exposition."""
        return self._require_desk().metrics()

    def registry_health(self) -> RegistryView | None:
        """Whether the validator's registry answers (None for a p2p host without a validator)."""
        return None if self._desk is None else self._desk.registry_health()

    def encoder_status(self) -> EncoderStatus:
        """The encoder's readiness."""
        return self._require_desk().encoder_status()
