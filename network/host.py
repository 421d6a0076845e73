"""Host plumbing of `network.service` (trio only): building the host, releasing inbound connection
slots when connections close, the connection manager's notifee, bounded closing and disconnecting,
cutting off banned peers, and stopping py-libp2p's background redials."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import multiaddr
import structlog
import trio
from libp2p import new_host
from libp2p.abc import IHost, INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.keys import KeyPair
from libp2p.io.abc import ReadWriteCloser
from libp2p.network.config import ConnectionConfig
from libp2p.network.connection.swarm_connection import SwarmConn
from libp2p.network.swarm import Swarm
from libp2p.peer.id import ID
from libp2p.peer.peerstore import PeerStore, PeerStoreError

from network.client import parse_peer_name
from network.connections import Admission, ConnectionBook, ConnectionLimits, EventCounter
from network.peers import PeerGuard
from network.server import RequestServer
from network.streams import STREAM_ERRORS
from network.transport import muxer_options, security_options
from network.types import PeerName

log = structlog.get_logger(__name__)

CLOSE_TIMEOUT_SECONDS = 5.0
PEERSTORE_PEERS_PER_SOCKET = 4
TRANSPORT_POLL_SECONDS = 0.005


def build_host(
    key_pair: KeyPair,
    listen: list[multiaddr.Multiaddr],
    dial_timeout: float,
    limits: ConnectionLimits | None = None,
) -> IHost:
    """A py-libp2p host speaking only what the spec names (Noise, Yamux; `network.transport`), one
    connection per peer, no background redials, `limits.max_sockets` as py-libp2p's own cap, and
    inbound slots released when their connections close (`release_inbound_slots_on_close`)."""
    sockets = (limits or ConnectionLimits()).max_sockets
    host = new_host(
        # py-libp2p's peerstore evicts past its bound, and may evict this host's own key, after which
        # every identify request crashes the host (specs/p2p-interface.md, Notes). `ManagerNotifee`
        # forgets inbound strangers on disconnect, so the store holds the connected peers (at most
        # `max_sockets`) and the ones we dial; the bound sits well above that.
        peerstore_opt=PeerStore(max_peers=PEERSTORE_PEERS_PER_SOCKET * sockets),
        key_pair=key_pair,
        listen_addrs=listen,
        sec_opt=security_options(key_pair),
        muxer_opt=muxer_options(),
        connection_config=ConnectionConfig(
            max_connections_per_peer=1,  # the default (3) waits 250 ms on every connect
            dial_timeout=dial_timeout,
            min_connections=0,  # no background redials: see stop_auto_connector
            low_watermark=0,
            max_connections=sockets,  # also the inbound limiter's size (max - min)
            high_watermark=sockets,  # py-libp2p prunes above it; our manager acts well before
        ),
    )
    network = host.get_network()
    if isinstance(network, Swarm):
        release_inbound_slots_on_close(network)
    return host


class _WatchedSocket(ReadWriteCloser):
    """An inbound socket that sets `closed` when anyone closes it (the muxer does, whichever side
    ends the connection)."""

    def __init__(self, inner: ReadWriteCloser) -> None:
        self._inner = inner
        self.closed = trio.Event()

    async def read(self, n: int | None = None) -> bytes:
        return await self._inner.read(n)

    async def write(self, data: bytes) -> None:
        await self._inner.write(data)

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self.closed.set()

    def get_remote_address(self) -> tuple[str, int] | None:
        return self._inner.get_remote_address()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


InboundHandler = Callable[[ReadWriteCloser, multiaddr.Multiaddr], Awaitable[None]]


def release_inbound_slots_on_close(swarm: Swarm) -> None:
    """Make each inbound connection give back its slot of the swarm's inbound limiter when it closes.

    py-libp2p 0.8.1's `Swarm._handle_inbound_connection` takes a slot, upgrades the socket, then waits
    for the whole swarm to stop (`manager.wait_finished()`) before releasing it: every inbound
    connection ever accepted keeps a slot (and a sleeping task) for the swarm's lifetime, and after
    `max_connections - min_connections` of them every new one is refused (specs/p2p-interface.md,
    Notes). Here the handler runs on a socket that reports its closing; when it closes the handler
    is cancelled at that wait, and its own `finally` releases the slot.
    """
    handle: InboundHandler = swarm._handle_inbound_connection

    async def handle_until_closed(read_write_closer: ReadWriteCloser, maddr: multiaddr.Multiaddr) -> None:
        watched = _WatchedSocket(read_write_closer)
        async with trio.open_nursery() as nursery:

            async def run() -> None:
                await handle(watched, maddr)
                nursery.cancel_scope.cancel()  # refused or failed: the handler returned by itself

            nursery.start_soon(run)
            await watched.closed.wait()
            nursery.cancel_scope.cancel()

    swarm._handle_inbound_connection = handle_until_closed  # type: ignore[method-assign]


async def close_connection(conn: INetConn) -> None:
    """Close one connection, bounded by `CLOSE_TIMEOUT_SECONDS`; failures are logged only."""
    with trio.move_on_after(CLOSE_TIMEOUT_SECONDS):
        try:
            await conn.close()
        except STREAM_ERRORS as error:
            log.debug("connection close failed", error=type(error).__name__)


def _forget_peer(network: INetwork, peer_id: ID) -> None:
    """Drop what the peerstore holds about `peer_id` (never about this host itself)."""
    if peer_id == network.get_peer_id():
        return
    with contextlib.suppress(PeerStoreError):  # nothing held: nothing to forget
        network.peerstore.clear_peerdata(peer_id)


def remote_ip(conn: INetConn) -> str | None:
    """The remote IP address of `conn` (None if the transport does not say)."""
    for address in conn.get_transport_addresses():
        for protocol in ("ip4", "ip6"):
            try:
                return str(address.value_for_protocol(protocol))
            except (ValueError, multiaddr.exceptions.ProtocolLookupError):
                continue
    return None


class ManagerNotifee(INotifee):
    """The connection manager's eyes: admits or closes each new connection by the `ConnectionBook`'s
    rules, notes stream activity, tells the `PeerGuard` who is connected (so it keeps their scores
    and may drop the others'), and makes the peerstore forget an unprotected peer that dialled us
    once its last connection closes (a fresh peer id per light check would otherwise fill it)."""

    def __init__(
        self,
        book: ConnectionBook[INetConn],
        guard: PeerGuard,
        events: EventCounter,
        clock: Callable[[], float],
        get_nursery: Callable[[], trio.Nursery | None],
    ) -> None:
        self._book = book
        self._guard = guard
        self._events = events
        self._clock = clock
        self._get_nursery = get_nursery
        self._by_muxed: dict[object, INetConn] = {}
        self._strangers: set[ID] = set()
        """Inbound unprotected peers forgotten since the last sweep (identify may write after)."""

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        """Admit `conn`, or close it (and close an idle one that made room)."""
        peer = PeerName(str(conn.muxed_conn.peer_id))
        self._guard.peer_connected(peer)
        dialled = getattr(getattr(conn, "direction", None), "name", None) == "OUTBOUND"
        decision = self._book.connected(conn, peer, remote_ip(conn), self._clock(), dialled=dialled)
        nursery = self._get_nursery()
        if decision.evicted is not None:
            self._events.add("connection_evicted")
            self._by_muxed.pop(decision.evicted.muxed_conn, None)
            if nursery is not None:
                nursery.start_soon(close_connection, decision.evicted)
        if decision.kept:
            self._by_muxed[conn.muxed_conn] = conn
            return
        self._events.add(
            "connection_refused_per_ip"
            if decision.admission is Admission.REFUSED_PER_IP
            else "connection_refused_total"
        )
        log.debug("connection refused", peer=peer, reason=decision.admission.value)
        if nursery is not None:
            nursery.start_soon(close_connection, conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        """Forget `conn`, and a stranger that dialled us once it has no connection left."""
        stranger = self._book.is_stranger(conn)
        self._book.disconnected(conn)
        self._by_muxed.pop(conn.muxed_conn, None)
        peer_id = conn.muxed_conn.peer_id
        self._guard.peer_disconnected(PeerName(str(peer_id)))
        if stranger and not network.get_connections(peer_id):
            self._strangers.add(peer_id)
            _forget_peer(network, peer_id)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        """A stream on a connection: it is not idle."""
        conn = self._by_muxed.get(stream.muxed_conn)
        if conn is not None:
            self._book.observe(conn, 1, self._clock())

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        """Nothing to do (the next sweep sees whether streams are left)."""

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        """Nothing to do."""

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        """Nothing to do."""

    def sweep(self, nursery: trio.Nursery, network: INetwork) -> None:
        """Note which connections have streams open now, close those idle for too long, and forget
        again strangers that identify wrote about after they left."""
        for peer_id in self._strangers:
            if not network.get_connections(peer_id):
                _forget_peer(network, peer_id)
        self._strangers.clear()
        now = self._clock()
        for conn in self._book.connections():
            self._book.observe(conn, len(conn.get_streams()), now)
        for conn in self._book.compute_idle(now):
            self._book.disconnected(conn)
            self._by_muxed.pop(conn.muxed_conn, None)
            self._events.add("connection_idle_pruned")
            log.debug("idle connection pruned", peer=str(conn.muxed_conn.peer_id))
            nursery.start_soon(close_connection, conn)


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
