"""The host itself: persisted identity, loopback listening, bootstrap, identify, ping, clean shutdown."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import stat
from pathlib import Path

import pytest
import trio

from network.config import NetworkConfig
from network.errors import PeerUnreachable, ServiceNotRunning
from network.identity import InvalidIdentityFile
from network.logs import StructlogHandler
from network.service import NetworkService, open_service, open_services
from tests.network.conftest import FAST, live_threads, wait_for_identify

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
        pytest.skip("needs /proc to list open sockets")
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
