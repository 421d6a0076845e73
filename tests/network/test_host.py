"""The host itself: persisted identity, loopback listening, bootstrap, identify, ping, clean shutdown,
and peers that speak less than a Tessera node."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
from pathlib import Path

import multiaddr
import pytest
import structlog
import trio
from libp2p import new_host
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.network.exceptions import SwarmDialAllFailedError
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport
from libp2p.security.secio.transport import ID as SECIO_PROTOCOL_ID
from libp2p.security.secio.transport import Transport as SecioTransport
from libp2p.stream_muxer.mplex.mplex import MPLEX_PROTOCOL_ID, Mplex

from da import EncodedBlob
from da.types import CellCoordinate, ColumnIndex, RowIndex
from network.config import NetworkConfig
from network.errors import GossipOff, PeerUnreachable, ServiceNotRunning
from network.identity import InvalidIdentityFile
from network.logs import StructlogHandler, UnsupportedProtocolFilter
from network.server import ServerPorts
from network.service import NetworkService, open_service, open_services
from network.transport import muxer_options, security_options
from tests.environment import require_or_skip
from tests.network.conftest import FAST, DictSampleStore, live_threads, wait_for_identify

pytestmark = pytest.mark.anyio


async def test_identity_is_created_once_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "node" / "identity.key"
    config = dataclasses.replace(FAST, identity_path=key_file)
    async with open_service(config) as first:
        first_id = first.peer_id
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    async with open_service(config) as second:
        assert second.peer_id == first_id
    key_file.write_bytes(b"not a key")
    with pytest.raises(InvalidIdentityFile):
        NetworkService(config)


async def test_listens_on_loopback_with_an_os_chosen_port_and_serves_identify_and_ping() -> None:
    async with open_services([NetworkService(FAST), NetworkService(FAST)]) as (a, b):
        (address,) = a.listen_addrs
        assert address.startswith("/ip4/127.0.0.1/tcp/")
        assert address.endswith(f"/p2p/{a.peer_id}")
        assert int(address.split("/")[4]) > 0
        peer = await b.connect(address)
        assert peer == a.peer_id
        assert b.connected_peers() == [a.peer_id]
        rtt = await b.ping(peer)
        protocols = await wait_for_identify(b, peer)
    assert rtt > 0  # a real round trip was measured
    assert {"/ipfs/id/1.0.0", "/ipfs/ping/1.0.0", "/meshsub/1.1.0"} <= set(protocols)


async def test_bootstrap_peers_are_dialled_at_start_and_bad_ones_only_logged() -> None:
    async with open_service(FAST) as seed:
        dead = "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWGvPd4MXDxBgZM2ZCqYDMJ4oETHuNTCUdTbh77cnGPpWu"
        config = dataclasses.replace(FAST, bootstrap_peers=(seed.listen_addrs[0], dead))
        async with open_service(config) as node:
            assert node.connected_peers() == [seed.peer_id]


def _open_sockets() -> set[str]:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        require_or_skip("needs /proc to list open sockets")
    targets = set()
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            targets.add(os.readlink(fd))
    return {target for target in targets if target.startswith("socket:")}


async def test_shutdown_leaves_no_threads_and_no_open_sockets() -> None:
    threads, sockets = live_threads(), _open_sockets()
    for _ in range(2):
        async with open_services([NetworkService(FAST) for _ in range(3)]) as services:
            for other in services[1:]:
                await services[0].connect(other.listen_addrs[0])
            assert live_threads() > threads  # each pubsub seen-cache owns a thread while running
            assert len(_open_sockets() - sockets) >= 3 + 2 * 2  # 3 listeners, 2 connections (both ends)
    assert live_threads() == threads
    assert _open_sockets() - sockets == set()


async def test_using_a_stopped_service_raises_a_typed_error() -> None:
    service = NetworkService(FAST)
    with pytest.raises(ServiceNotRunning):
        _ = service.peer_id
    async with open_service(FAST) as node:
        with pytest.raises(PeerUnreachable):
            await node.connect("/ip4/127.0.0.1/tcp/1")
        with trio.fail_after(FAST.dial_timeout + 1), pytest.raises(PeerUnreachable):
            await node.connect(
                "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWGvPd4MXDxBgZM2ZCqYDMJ4oETHuNTCUdTbh77cnGPpWu"
            )


async def test_libp2p_logs_go_through_structlog_not_raw_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    async with open_service(NetworkConfig()):
        logging.getLogger("libp2p.test").warning("routed %s", "warning")
    libp2p_logger = logging.getLogger("libp2p")
    assert any(isinstance(handler, StructlogHandler) for handler in libp2p_logger.handlers)
    assert libp2p_logger.propagate is False
    out, err = capfd.readouterr()
    assert "routed warning" in out + err
    assert "WARNING:libp2p" not in err and "routed warning\n" not in err.splitlines()


def _unsupported_protocol_filter() -> UnsupportedProtocolFilter:
    (handler,) = [h for h in logging.getLogger("libp2p").handlers if isinstance(h, StructlogHandler)]
    (found,) = [f for f in handler.filters if isinstance(f, UnsupportedProtocolFilter)]
    return found


async def test_a_peer_without_gossipsub_is_normal_and_logged_once_at_debug_level() -> None:
    """py-libp2p's pubsub opens a meshsub stream to every new peer and retries while it stays
    connected; a peer that answers "na" (here a bare py-libp2p host with no pubsub) must not put an
    ERROR in the node's log each time."""
    key_pair = create_new_key_pair()
    bare = new_host(
        key_pair=key_pair,
        sec_opt=security_options(key_pair),
        muxer_opt=muxer_options(),
        listen_addrs=[multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")],
    )
    with structlog.testing.capture_logs() as logs:
        async with open_service(FAST) as node, bare.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
            await bare.connect(info_from_p2p_addr(multiaddr.Multiaddr(node.listen_addrs[0])))
            seen = _unsupported_protocol_filter()
            with trio.fail_after(10):
                while not any(peer == str(bare.get_id()) for peer, _ in seen.logged()):
                    await trio.sleep(0.05)
            await bare.close()
    loud = [entry for entry in logs if entry["log_level"] in ("warning", "error", "critical")]
    assert not loud, loud


def test_the_unsupported_protocol_filter_drops_only_na_answers_and_notes_each_pair_once() -> None:
    record_filter = UnsupportedProtocolFilter()
    failure = (
        "Failed to open stream to peer 12D3KooWPeer:\n"
        "  Error: protocols not supported: tried ['/meshsub/1.2.0'], timeout=10s. Last error: na\n"
        "  Protocols: ['/meshsub/1.2.0']\n  Timeout: 30s\n"
    )

    def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("libp2p.host.basic_host", level, __file__, 1, message, None, None)

    with structlog.testing.capture_logs() as logs:
        assert record_filter.filter(record(failure)) is False
        assert record_filter.filter(record(failure)) is False
        assert record_filter.filter(record("Failed to open stream to peer X:\n  Error: timed out")) is True
        assert record_filter.filter(record("anything else")) is True
    assert record_filter.logged() == [("12D3KooWPeer", "['/meshsub/1.2.0']")]
    assert [entry["event"] for entry in logs] == ["peer does not offer these protocols"]
    assert logs[0]["log_level"] == "debug"


@pytest.mark.parametrize("offer", ["plaintext", "secio", "mplex"])
async def test_a_host_refuses_every_upgrade_the_spec_does_not_name(offer: str) -> None:
    """Only Noise and Yamux are negotiated (`network.transport`): a dialer offering nothing else fails."""
    key_pair = create_new_key_pair()
    security = {
        "plaintext": {PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)},
        "secio": {SECIO_PROTOCOL_ID: SecioTransport(key_pair)},
        "mplex": security_options(key_pair),
    }[offer]
    muxers = {MPLEX_PROTOCOL_ID: Mplex} if offer == "mplex" else muxer_options()
    dialer = new_host(key_pair=key_pair, sec_opt=security, muxer_opt=muxers)
    async with open_service(FAST) as node, dialer.run([multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/0")]):
        with trio.fail_after(FAST.dial_timeout + 5), pytest.raises(SwarmDialAllFailedError) as refused:
            await dialer.connect(info_from_p2p_addr(multiaddr.Multiaddr(node.listen_addrs[0])))
        assert node.connected_peers() == []
        await dialer.close()
    expected = "failed to upgrade mux" if offer == "mplex" else "failed to negotiate the secure protocol"
    assert expected in repr(refused.value.__cause__)


async def test_concurrent_pings_to_one_peer_all_answer() -> None:
    """py-libp2p's ping handler resets a third concurrent stream from one peer; four pings at once,
    as four API calls would send them, used to fail with StreamReset and a reconnect storm (found
    by schemathesis on a loaded CI machine). They now take turns and every one answers."""
    async with open_services([NetworkService(FAST), NetworkService(FAST)]) as (a, b):
        peer = await a.connect(b.listen_addrs[0])
        round_trips: list[float] = []

        async def ping() -> None:
            round_trips.append(await a.ping(peer))

        for _ in range(5):
            async with trio.open_nursery() as nursery:
                for _ in range(4):
                    nursery.start_soon(ping)
    assert len(round_trips) == 20 and all(rtt > 0 for rtt in round_trips)


async def test_shut_connections_closes_every_transport_and_leaves_nothing_behind() -> None:
    """`shut_connections` returns once every transport is shut, without py-libp2p's 0.2 s of local
    settling per connection: the remote ends see the connections go, the swarm holds none of them,
    and stopping the service afterwards leaves no thread and no socket open."""
    threads, sockets = live_threads(), _open_sockets()
    async with open_services([NetworkService(FAST) for _ in range(4)]) as (a, *others):
        for other in others:
            await wait_for_identify(a, await a.connect(other.listen_addrs[0]))
        connections = a.host.get_network().get_connections()
        assert len(connections) == 3
        await a.shut_connections()
        assert all(connection.muxed_conn.is_closed for connection in connections)
        assert a.connected_peers() == []
        with trio.fail_after(5):
            while any(other.connected_peers() for other in others):
                await trio.sleep(0.01)
    assert live_threads() == threads
    assert _open_sockets() - sockets == set()


async def test_a_service_without_gossip_serves_and_requests_and_refuses_gossip_calls(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    """`NetworkConfig(gossip=False)`, as a one-shot light check runs: requests to and from a node
    with gossip work, subscribing or publishing is a typed error, and it closes cleanly."""
    blob = two_row_blob[1]
    threads = live_threads()
    node = NetworkService(FAST, ServerPorts(samples=DictSampleStore(blob)))
    client = NetworkService(dataclasses.replace(FAST, gossip=False))
    async with open_services([node, client]):
        peer = await client.connect(node.listen_addrs[0])
        response = await client.request_samples(
            peer, blob.data_root, [CellCoordinate(RowIndex(0), ColumnIndex(5))]
        )
        assert response.results[0] is not None
        assert await node.ping(await node.connect(client.listen_addrs[0])) > 0
        with pytest.raises(GossipOff):
            client.subscribe(client.config.certificate_topic)
        with pytest.raises(GossipOff):
            await client.publish_certificate(b"certificate")
        assert client.peer_protocols(peer)  # identify still runs
    assert live_threads() == threads
