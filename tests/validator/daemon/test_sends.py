"""The daemon's sends keep a per-peer outbound limiter only while a send to that peer is in flight or
waiting: a peer it once talked to costs nothing afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from network.service import NetworkService
from network.types import PeerName
from tests.network.conftest import FAST
from tests.validator.daemon.test_driver import _registry
from validator.core import Input, Output
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.daemon.sends import Sends
from validator.registry.sqlite import SqliteRegistry

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "trio"


async def _no_core(event: Input) -> list[Output]:
    raise AssertionError("no core input is expected here")


async def test_outbound_limiters_live_only_while_sends_to_their_peer_are_in_flight(tmp_path: Path) -> None:
    _registry(tmp_path / "registry.sqlite")
    with SqliteRegistry(tmp_path / "registry.sqlite") as registry:
        sends = Sends(NetworkService(FAST), PeerBook(registry), NodeMetrics(), _no_core)
        capacity = max(1, FAST.max_concurrent_requests_per_peer // 2)
        peers = [PeerName(f"peer-{index}") for index in range(50)]
        release = trio.Event()
        held: list[int] = []

        async def send(peer: PeerName) -> None:
            async with sends.outbound_slot(peer):
                held.append(sends.peers_with_limiters)
                await release.wait()

        async with trio.open_nursery() as nursery:
            for peer in peers:
                for _ in range(capacity + 1):  # one of them waits for a slot
                    nursery.start_soon(send, peer)
            with trio.fail_after(5):
                while len(held) < capacity * len(peers):
                    await trio.sleep(0.01)
            assert sends.peers_with_limiters == len(peers)
            release.set()
        assert len(held) == (capacity + 1) * len(peers)
        assert sends.peers_with_limiters == 0
