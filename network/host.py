"""Host plumbing of `network.service` (trio only): building the host, bounded closing and
disconnecting, cutting off banned peers, and stopping py-libp2p's background redials."""

from __future__ import annotations

from collections.abc import Callable

import multiaddr
import structlog
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.network.config import ConnectionConfig
from libp2p.network.connection.swarm_connection import SwarmConn
from libp2p.network.swarm import Swarm

from network.client import parse_peer_name
from network.peers import PeerGuard
from network.server import RequestServer
from network.streams import STREAM_ERRORS
from network.transport import muxer_options, security_options
from network.types import PeerName

log = structlog.get_logger(__name__)

CLOSE_TIMEOUT_SECONDS = 5.0
TRANSPORT_POLL_SECONDS = 0.005


def build_host(key_pair: KeyPair, listen: list[multiaddr.Multiaddr], dial_timeout: float) -> IHost:
    """A py-libp2p host speaking only what the spec names (Noise, Yamux; `network.transport`), one
    connection per peer and no background redials."""
    return new_host(
        key_pair=key_pair,
        listen_addrs=listen,
        sec_opt=security_options(key_pair),
        muxer_opt=muxer_options(),
        connection_config=ConnectionConfig(
            max_connections_per_peer=1,  # the default (3) waits 250 ms on every connect
            dial_timeout=dial_timeout,
            min_connections=0,  # no background redials: see stop_auto_connector
            low_watermark=0,
        ),
    )


async def disconnect_peer(host: IHost, peer: PeerName) -> None:
    """Close every connection to `peer`, bounded by `CLOSE_TIMEOUT_SECONDS`; failures are logged only."""
    with trio.move_on_after(CLOSE_TIMEOUT_SECONDS):
        try:
            await host.disconnect(parse_peer_name(peer))
        except STREAM_ERRORS as error:
            log.debug("disconnect failed", peer=peer, error=type(error).__name__)


async def shut_connections(host: IHost) -> None:
    """Close every connection at once, for a host about to stop, and return as soon as each one's
    transport is shut (its GO_AWAY written, its socket closed). py-libp2p's close then waits two
    fixed 0.1 s sleeps per connection for local stream handlers to settle: 0.2 s of every one-shot
    `das light check`. That wait is cancelled and the closed connections are dropped from the
    swarm's records; notifees are not told, as the host's own close follows. Bounded by
    `CLOSE_TIMEOUT_SECONDS`."""
    network = host.get_network()
    peers = list(host.get_connected_peers())
    connections = [connection for peer in peers for connection in network.get_connections(peer)]
    with trio.move_on_after(CLOSE_TIMEOUT_SECONDS):
        async with trio.open_nursery() as nursery:
            for peer in peers:
                nursery.start_soon(disconnect_peer, host, PeerName(str(peer)))
            while not all(connection.muxed_conn.is_closed for connection in connections):
                await trio.sleep(TRANSPORT_POLL_SECONDS)
            nursery.cancel_scope.cancel()
    if isinstance(network, Swarm):
        for connection in connections:
            if connection.muxed_conn.is_closed and isinstance(connection, SwarmConn):
                network.remove_conn(connection)


async def cut_off(host: IHost, server: RequestServer | None, peer: PeerName) -> None:
    """Disconnect a banned peer once the answers it is owed (the error that got it banned) are written."""
    if server is not None:
        with trio.move_on_after(CLOSE_TIMEOUT_SECONDS):
            await server.wait_until_idle(peer)
    await disconnect_peer(host, peer)


async def close_host(host: IHost) -> None:
    """`host.close()`, shielded from cancellation and bounded (it must run before `host.run()` is left)."""
    with trio.CancelScope(shield=True), trio.move_on_after(CLOSE_TIMEOUT_SECONDS):
        await host.close()


async def stop_auto_connector(host: IHost) -> None:
    """Stop the swarm's auto-connector, which redials every peer in the peerstore every 30 s aiming at
    150 connections: this node connects to its bootstrap list and to the peers it is asked to, and
    a banned peer must stay disconnected."""
    network = host.get_network()
    if isinstance(network, Swarm):
        await network.auto_connector.stop()


class BanNotifee(INotifee):
    """Drops new connections from banned peers as soon as they are made.

    `get_nursery` returns the running service's nursery (None outside `run`), where the disconnect runs.
    """

    def __init__(self, host: IHost, guard: PeerGuard, get_nursery: Callable[[], trio.Nursery | None]) -> None:
        self._host = host
        self._guard = guard
        self._get_nursery = get_nursery

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        """Disconnect `conn`'s peer if it is banned."""
        peer = PeerName(str(conn.muxed_conn.peer_id))
        nursery = self._get_nursery()
        if self._guard.is_banned(peer) and nursery is not None:
            nursery.start_soon(disconnect_peer, self._host, peer)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        """Nothing to do."""

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        """Nothing to do."""

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        """Nothing to do."""

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        """Nothing to do."""

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        """Nothing to do."""
