"""The libp2p service: owns one host (trio only) with its request protocols, gossip and peer scores.

What the host is told (DESIGN.md section 5): explicit listen addresses (loopback by default), Noise and
Yamux only (`network.transport`: py-libp2p would also offer TLS, secio, plaintext and Mplex),
`max_connections_per_peer=1` (otherwise every connect waits 250 ms), Pubsub
built before any peer connects, the seen-message cache's thread stopped and `host.close()` awaited before
`host.run()` is left. Identify and ping are the host's default protocols. The plumbing (bounded closes
and disconnects, cutting off banned peers) lives in `network.host`.

Trio programs use `open_service` (or `open_services` for several hosts that should close in parallel);
asyncio programs reach the service through `network.bridge.TrioBridge`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import multiaddr
import structlog
import trio
from libp2p.abc import IHost, INetConn
from libp2p.crypto.keys import KeyPair
from libp2p.host.ping import PingService
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.peer.peerstore import PeerStoreError

from da.types import BlobHeader, CellCoordinate, DataRoot, Sample
from network.client import RequestClient, parse_peer_name
from network.config import NetworkConfig
from network.connections import ConnectionBook, EventCounter
from network.errors import (
    GossipOff,
    NetworkError,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    ServiceNotRunning,
)
from network.gossip import GossipService
from network.host import (
    BanNotifee,
    ManagerNotifee,
    build_host,
    close_host,
    cut_off,
    disconnect_peer,
    shut_connections,
    stop_auto_connector,
)
from network.identity import load_or_create_identity
from network.logs import route_libp2p_logs
from network.messages import GridSamplesResponse, SamplesResponse
from network.peers import Clock, PeerGuard
from network.ports import CertificateValidator
from network.server import RequestServer, ServerPorts
from network.streams import STREAM_ERRORS
from network.types import GossipMessage, MessageId, PeerName, Verdict

if TYPE_CHECKING:
    # trio-typing's stubs (a libp2p dependency) shadow trio's own annotations; TaskStatus lives there.
    from libp2p.peer.id import ID
    from trio_typing import TaskStatus

T = TypeVar("T")
log = structlog.get_logger(__name__)


class NetworkService:
    """One libp2p host with Tessera's protocols; call its methods from the trio thread that runs it."""

    def __init__(
        self,
        config: NetworkConfig | None = None,
        ports: ServerPorts | None = None,
        *,
        certificate_validator: CertificateValidator | None = None,
        key_pair: KeyPair | None = None,
        clock: Clock = time.time,
        is_protected: Callable[[PeerName], bool] | None = None,
        on_count: Callable[[str], None] | None = None,
    ) -> None:
        """`is_protected(peer)` says whether a peer is a validator (always admitted, never pruned as
        idle; the daemon asks its `PeerBook`); `on_count(kind)` mirrors `events` into metrics."""
        self.config = (config or NetworkConfig()).validate()
        self._ports = ports or ServerPorts()
        self._certificate_validator = certificate_validator
        self._key_pair = key_pair or load_or_create_identity(self.config.identity_path)
        self._clock = clock
        self._stop = trio.Event()
        self._host: IHost | None = None
        self._client: RequestClient | None = None
        self._gossip: GossipService | None = None
        self._nursery: trio.Nursery | None = None
        self._server: RequestServer | None = None
        self.guard = PeerGuard(self.config.score_params, clock, self._on_ban, self.config.backoff_params)
        self._ping_locks: dict[PeerName, trio.Lock] = {}
        """One ping in flight per peer: py-libp2p's ping handler resets a third concurrent stream.
        A lock is dropped when its last ping ends, so the map holds only peers being pinged."""
        self._is_protected = is_protected or _nobody
        self.events = EventCounter(on_count)
        """What the connection manager and gossip refused or dropped, by kind."""
        self._manager: ManagerNotifee | None = None

    # --- Lifecycle ------------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[NetworkService] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the host, serve until `stop()` (or cancellation), then close everything it opened.

        A stopped service may be run again; it keeps its identity.
        """
        self._stop = trio.Event()
        route_libp2p_logs()
        listen = [multiaddr.Multiaddr(address) for address in self.config.listen_addrs]
        host = build_host(self._key_pair, listen, self.config.dial_timeout, self.config.connection_limits)
        gossip = (
            GossipService(
                host, self.config, self.guard, self._certificate_validator, self._clock, self.events
            )
            if self.config.gossip
            else None
        )
        server = RequestServer(self.config, self._ports, self.guard)
        server.register(host)
        host.get_network().register_notifee(BanNotifee(host, self.guard, lambda: self._nursery))
        book: ConnectionBook[INetConn] = ConnectionBook(self.config.connection_limits, self._is_protected)
        manager = ManagerNotifee(book, self.guard, self.events, self._clock, lambda: self._nursery)
        host.get_network().register_notifee(manager)
        try:
            async with host.run(listen):
                await stop_auto_connector(host)
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery, self._server = nursery, server
                        if gossip is not None:
                            await nursery.start(gossip.run)
                        self._host, self._gossip, self._manager = host, gossip, manager
                        nursery.start_soon(self._maintain_forever)
                        self._client = RequestClient(host, self.config, self.guard)
                        try:
                            await self._connect_bootstrap_peers()
                            log.info("network service started", peer=self.peer_id, addrs=self.listen_addrs)
                            task_status.started(self)
                            await self._stop.wait()
                        finally:
                            # Connections first, while pubsub still runs: its stream handlers hand every
                            # message they read to pubsub's task nursery, which must still be open.
                            self._host = self._client = self._gossip = self._server = self._manager = None
                            await close_host(host)
                        nursery.cancel_scope.cancel()
                finally:
                    self._nursery = None
                    await close_host(host)  # idempotent; covers a failure before the nursery ran
        finally:
            if gossip is not None:
                gossip.pubsub.seen_messages.stop()  # it owns a thread; idempotent
            log.info("network service stopped")

    async def _maintain_forever(self) -> None:
        while True:
            await trio.sleep(self.config.maintenance_seconds)
            self.maintain()

    def maintain(self) -> None:
        """Prune idle unprotected connections, drop disconnected peers' faded scores and ended
        backoffs (`PeerGuard.prune`), and lift gossip bans that have ended. Runs every
        `maintenance_seconds` (trio thread); a no-op outside `run`."""
        nursery, manager = self._nursery, self._manager
        if nursery is None or manager is None:
            return
        manager.sweep(nursery, self.host.get_network())
        self.guard.prune()
        if self._gossip is not None:
            self._gossip.lift_ended_bans(self.guard.is_banned)

    def stop(self) -> None:
        """Ask `run` to close the host and return (trio thread only: `TrioBridge.stop` calls it there)."""
        self._stop.set()

    @property
    def host(self) -> IHost:
        """The running host; raises `ServiceNotRunning` outside `run`."""
        if self._host is None:
            raise ServiceNotRunning("the network service is not running")
        return self._host

    @property
    def client(self) -> RequestClient:
        """The request client of the running host."""
        if self._client is None:
            raise ServiceNotRunning("the network service is not running")
        return self._client

    @property
    def gossip(self) -> GossipService:
        """The gossip service of the running host; `GossipOff` if its config has no gossip."""
        if not self.config.gossip:
            raise GossipOff("this service runs without gossip (NetworkConfig.gossip is False)")
        if self._gossip is None:
            raise ServiceNotRunning("the network service is not running")
        return self._gossip

    # --- Identity and peers -----------------------------------------------------------------------------

    @property
    def peer_id(self) -> PeerName:
        """This node's peer id."""
        return PeerName(str(self.host.get_id()))

    @property
    def listen_addrs(self) -> list[str]:
        """The real listen addresses (ports chosen by the OS filled in), each ending in /p2p/<peer id>."""
        return [str(address) for address in self.host.get_addrs()]

    def connected_peers(self) -> list[PeerName]:
        """Peers with an open connection."""
        return sorted(PeerName(str(peer)) for peer in self.host.get_connected_peers())

    def knows_peer(self, peer: PeerName) -> bool:
        """True if `peer` is connected or the peerstore holds an address for it (so it can be
        dialled); False for anything else, including text that is not a peer id."""
        try:
            peer_id = parse_peer_name(peer)
        except NetworkError:
            return False
        if peer_id in self.host.get_connected_peers():
            return True
        try:
            return bool(self.host.get_peerstore().addrs(peer_id))
        except PeerStoreError:
            return False

    def peer_protocols(self, peer: PeerName) -> list[str]:
        """The protocols `peer` announced through identify (empty until identify has run)."""
        try:
            return sorted(self.host.get_peerstore().get_protocols(parse_peer_name(peer)))
        except (KeyError, NetworkError, *STREAM_ERRORS):
            return []

    async def connect(self, address: str) -> PeerName:
        """Connect to the peer at `address` (a multiaddr ending in /p2p/<peer id>); returns its peer id."""
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(address))
        except Exception as error:
            raise PeerUnreachable(PeerName(address), f"not a /p2p/ multiaddr: {error}") from error
        peer = PeerName(str(info.peer_id))
        self.guard.check_not_banned(peer)
        try:
            with trio.fail_after(self.config.dial_timeout):
                await self.host.connect(info)
        except trio.TooSlowError as error:
            raise PeerUnreachable(peer, f"no connection within {self.config.dial_timeout:g} s") from error
        except STREAM_ERRORS as error:
            raise PeerUnreachable(peer, f"{type(error).__name__}: {error}") from error
        return peer

    async def ensure_connected(self, peer: PeerName) -> None:
        """Connect to `peer` at an address the peerstore knows, unless already connected.

        py-libp2p 0.8.1 dials implicitly when a stream is opened to an unconnected peer, but a stream
        opened that way sometimes fails its negotiation, and the half-made connection is dropped
        ("No valid connections available" on the retry). `host.connect` returns only once the
        connection is ready for streams. Raises `PeerUnreachable` (or `PeerBanned`) when no address works.
        """
        peer_id = parse_peer_name(peer)
        if peer_id in self.host.get_connected_peers():
            return
        try:
            addresses = self.host.get_peerstore().addrs(peer_id)
        except PeerStoreError:
            addresses = []
        failure: NetworkError = PeerUnreachable(peer, "no known address")
        for address in addresses:
            try:
                await self.connect(f"{address}/p2p/{peer}")
            except NetworkError as error:
                failure = error
                continue
            return
        raise failure

    async def reconnect(self, peer: PeerName) -> None:
        """Drop every connection to `peer` and dial it again: after a failed stream, the connection
        may be half-closed (a request cancelled on it breaks it in py-libp2p 0.8.1)."""
        await self.disconnect(peer)
        await self.ensure_connected(peer)

    async def disconnect(self, peer: PeerName) -> None:
        """Close every connection to `peer`."""
        await disconnect_peer(self.host, peer)

    async def shut_connections(self) -> None:
        """Before `stop()`: close every connection at once, returning when their transports are
        shut, without py-libp2p's 0.2 s of local settling per connection
        (`network.host.shut_connections`)."""
        await shut_connections(self.host)

    async def on_fresh_connection(
        self,
        peer: PeerName,
        request: Callable[[], Awaitable[T]],
        on_retry: Callable[[NetworkError], None] | None = None,
    ) -> T:
        """`request()` to a connected `peer`, sent a second time on a new connection if the first
        could not open a stream or lost it. py-libp2p 0.8.1 leaves a connection on which a request
        was cancelled unable to negotiate its next stream ("handshake write failed", "No valid
        connections available"); one retry on a fresh connection recovers it. A timeout is never
        retried."""
        await self.ensure_connected(peer)
        try:
            return await request()
        except (PeerUnreachable, PeerDisconnected) as error:
            if on_retry is not None:
                on_retry(error)
            await self.reconnect(peer)  # the old connection may be half-closed
            return await request()

    async def ping(self, peer: PeerName) -> float:
        """Round-trip time to `peer` over `/ipfs/ping/1.0.0`, in seconds (on a fresh connection
        once if the first stream fails, as every request). Pings to one peer run one at a time:
        py-libp2p 0.8.1's handler keeps at most two ping streams per peer and resets any other, so
        concurrent pings (two API calls at once) failed with `StreamReset` and then a reconnect
        storm. The wait for the lock counts towards the round trip, as a user would see it."""
        peer_id = parse_peer_name(peer)
        self.guard.check_not_banned(peer)
        name = PeerName(str(peer_id))
        lock = self._ping_locks.setdefault(name, trio.Lock())
        try:
            async with lock:
                return await self._ping_unlocked(peer, peer_id)
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._ping_locks.pop(name, None)

    @property
    def ping_locks_held(self) -> int:
        """Peers with a ping lock (in flight or waited for)."""
        return len(self._ping_locks)

    async def _ping_unlocked(self, peer: PeerName, peer_id: ID) -> float:

        async def ping_once() -> float:
            started = time.perf_counter()
            try:
                with trio.fail_after(self.config.response_timeout):
                    await PingService(self.host).ping(peer_id, 1)
            except trio.TooSlowError as error:
                raise PeerTimeout(peer, "ping", self.config.response_timeout) from error
            except (*STREAM_ERRORS, ValueError) as error:
                raise PeerUnreachable(peer, f"ping failed: {type(error).__name__}: {error}") from error
            return time.perf_counter() - started

        return await self.on_fresh_connection(peer, ping_once)

    async def _connect_bootstrap_peers(self) -> None:
        async def connect_one(address: str) -> None:
            try:
                peer = await self.connect(address)
            except NetworkError as error:
                log.warning("bootstrap peer unreachable", address=address, error=str(error))
            else:
                log.info("bootstrap peer connected", peer=peer)

        async with trio.open_nursery() as nursery:
            for address in self.config.bootstrap_peers:
                nursery.start_soon(connect_one, address)

    def _on_ban(self, peer: PeerName) -> None:
        nursery, gossip = self._nursery, self._gossip
        if nursery is None or self._host is None:  # not running, or closing
            return
        if gossip is not None:
            gossip.ban(parse_peer_name(peer))
        nursery.start_soon(cut_off, self.host, self._server, peer)

    # --- Requests (see network.client) --------------------------------------------------------------------

    async def request_samples(
        self, peer: PeerName, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> SamplesResponse:
        """The peer's samples at `coordinates`, unverified (None where not held)."""
        return await self.client.request_samples(peer, data_root, coordinates)

    async def request_grid_samples(
        self, peer: PeerName, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> GridSamplesResponse:
        """The peer's cells of the blob's 2D grid at `coordinates`, unverified (None where not held)."""
        return await self.client.request_grid_samples(peer, data_root, coordinates)

    async def request_header(self, peer: PeerName, data_root: DataRoot) -> BlobHeader | None:
        """The header of `data_root` held by `peer`, checked against the root, or None."""
        return await self.client.request_header(peer, data_root)

    async def push_custody(
        self, peer: PeerName, header: BlobHeader, samples: Sequence[Sample], epoch: int = 0, quorum: int = 0
    ) -> Verdict:
        """Push custody samples for (epoch, quorum); ACCEPT once the member stored them."""
        return await self.client.push_custody(peer, header, samples, epoch, quorum)

    async def send_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        """Send an attestation to the aggregator `peer`."""
        return await self.client.send_attestation(peer, attestation)

    # --- Gossip (see network.gossip) ---------------------------------------------------------------------

    def subscribe(self, topic: str) -> trio.MemoryReceiveChannel[GossipMessage]:
        """Accepted messages on `topic` from now on."""
        return self.gossip.subscribe(topic)

    async def publish_certificate(self, certificate: bytes) -> MessageId:
        """Announce a certificate on gossip."""
        return await self.gossip.publish_certificate(certificate)


def _nobody(peer: PeerName) -> bool:
    """The default `is_protected`: no peer is a validator (a light client's service)."""
    return False


@asynccontextmanager
async def open_service(
    config: NetworkConfig | None = None,
    ports: ServerPorts | None = None,
    *,
    certificate_validator: CertificateValidator | None = None,
    key_pair: KeyPair | None = None,
    clock: Clock = time.time,
) -> AsyncIterator[NetworkService]:
    """Run a `NetworkService` for the duration of the block (trio programs and tests)."""
    service = NetworkService(
        config, ports, certificate_validator=certificate_validator, key_pair=key_pair, clock=clock
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(service.run)
        try:
            yield service
        finally:
            service.stop()


@asynccontextmanager
async def open_services(services: Sequence[NetworkService]) -> AsyncIterator[list[NetworkService]]:
    """Run several services at once and close them in parallel (each close waits about 0.1 s)."""
    async with trio.open_nursery() as nursery:
        for service in services:
            await nursery.start(service.run)
        try:
            yield list(services)
        finally:
            for service in services:
                service.stop()
