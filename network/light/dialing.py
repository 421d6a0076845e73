"""Dialling a peer before the first request to it.

py-libp2p 0.8.1 dials implicitly when a stream is opened to an unconnected peer, but a stream opened
that way sometimes fails its negotiation ("handshake write failed"), and the half-made connection is
then dropped, so a retry finds "no valid connections". `host.connect` returns only once the
connection is ready for streams, so the light client connects first (bounded by the dial timeout).
"""

from __future__ import annotations

from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStoreError

from network.errors import NetworkError, PeerUnreachable
from network.service import NetworkService
from network.types import PeerName


async def ensure_connected(service: NetworkService, peer: PeerName) -> None:
    """Connect to `peer` at an address the peerstore knows, unless already connected.

    Raises `PeerUnreachable` (or `PeerBanned`) when no address works.
    """
    peer_id = ID.from_base58(peer)
    host = service.host
    if peer_id in host.get_connected_peers():
        return
    try:
        addresses = host.get_peerstore().addrs(peer_id)
    except PeerStoreError:
        addresses = []
    failure: NetworkError = PeerUnreachable(peer, "no known address")
    for address in addresses:
        try:
            await service.connect(f"{address}/p2p/{peer}")
        except NetworkError as error:
            failure = error
            continue
        return
    raise failure
