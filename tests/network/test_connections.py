"""The connection manager on real hosts on 127.0.0.1: inbound slots come back when connections close
(py-libp2p 0.8.1 keeps them until the swarm stops), caps per IP and in total for peers that are not
validators, validators always admitted, idle connections pruned; and its rules as a pure book."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import trio
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

from da import EncodedBlob
from network.config import NetworkConfig
from network.connections import Admission, ConnectionBook, ConnectionLimits
from network.errors import InvalidNetworkConfig
from network.server import ServerPorts
from network.service import NetworkService, open_services
from network.types import PeerName
from tests.network.conftest import FAST, DictSampleStore, wait_for_identify

pytestmark = pytest.mark.anyio

CLIENT = dataclasses.replace(FAST, gossip=False)
"""A one-shot client, as `das light check` runs it."""


def _peer_of(key_pair: KeyPair) -> PeerName:
    return PeerName(str(ID.from_pubkey(key_pair.public_key)))


async def _wait_until(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_inbound_slots_come_back_when_connections_close(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    """py-libp2p 0.8.1 holds an inbound slot per connection until the swarm stops: with room for 12
    sockets, the 13th short-lived connection was refused for good. Here 40 connections are opened,
    used and closed one after another, and a new one still connects and is answered."""
    _, blob = two_row_blob
    limits = ConnectionLimits(max_connections=8, max_connections_per_ip=8, max_sockets=12)
    server = NetworkService(
        dataclasses.replace(FAST, connection_limits=limits), ServerPorts(headers=DictSampleStore(blob))
    )
    client = NetworkService(CLIENT)
    async with open_services([server, client]):
        address = server.listen_addrs[0]
        for attempt in range(40):
            peer = await client.connect(address)
            assert await client.request_header(peer, blob.data_root) == blob.header, attempt
            await client.disconnect(peer)
            await _wait_until(lambda: not server.connected_peers())
        peer = await client.connect(address)
        assert await client.request_header(peer, blob.data_root) == blob.header


async def test_unprotected_connections_are_capped_per_ip_and_validators_always_admitted() -> None:
    """Three light clients from 127.0.0.1 with room for two per IP: the third is closed by the server
    and counted; a validator (a protected peer) connects past both caps and stays."""
    keys = [create_new_key_pair() for _ in range(4)]
    validator = _peer_of(keys[3])
    limits = ConnectionLimits(max_connections=2, max_connections_per_ip=2, max_sockets=16)
    server = NetworkService(
        dataclasses.replace(FAST, connection_limits=limits), is_protected=lambda peer: peer == validator
    )
    clients = [NetworkService(CLIENT, key_pair=key) for key in keys]
    async with open_services([server, *clients]):
        address = server.listen_addrs[0]
        for client in clients[:2]:
            await client.connect(address)
        await _wait_until(lambda: len(server.connected_peers()) == 2)
        await clients[2].connect(address)
        await _wait_until(lambda: server.events["connection_refused_per_ip"] == 1)
        await _wait_until(lambda: not clients[2].connected_peers())
        await clients[3].connect(address)
        await _wait_until(lambda: validator in server.connected_peers())
        await trio.sleep(0.3)  # a refusal would have closed it by now
        connected = server.connected_peers()
    assert sorted(connected) == sorted(_peer_of(key) for key in (keys[0], keys[1], keys[3]))
    assert server.events["connection_refused_total"] == 0


async def test_idle_unprotected_connections_are_pruned_and_validators_kept() -> None:
    """A connection with no stream for `idle_seconds` is closed unless its peer is a validator; the
    client's own connections (it dialled them) are never refused or pruned on its side."""
    keys = [create_new_key_pair() for _ in range(2)]
    validator = _peer_of(keys[1])
    limits = ConnectionLimits(idle_seconds=0.3)
    server = NetworkService(
        dataclasses.replace(FAST, connection_limits=limits, maintenance_seconds=0.1),
        is_protected=lambda peer: peer == validator,
    )
    clients = [NetworkService(CLIENT, key_pair=key) for key in keys]
    async with open_services([server, *clients]):
        for client in clients:
            await client.connect(server.listen_addrs[0])
        await _wait_until(lambda: server.events["connection_idle_pruned"] == 1)
        await _wait_until(lambda: server.connected_peers() == [validator])
        await trio.sleep(0.5)
        assert server.connected_peers() == [validator]
        tight = dataclasses.replace(
            CLIENT,
            connection_limits=ConnectionLimits(
                max_connections=1, max_connections_per_ip=1, max_sockets=8, idle_seconds=0.1
            ),
            maintenance_seconds=0.05,
        )
        async with open_services([NetworkService(tight)]) as (dialer,):
            for client in clients:  # their own caps and idle time are the defaults
                await dialer.connect(client.listen_addrs[0])
            await trio.sleep(0.5)
            assert len(dialer.connected_peers()) == 2 and dialer.events.counts == {}


def test_the_book_makes_room_by_evicting_the_longest_idle_connection_only() -> None:
    limits = ConnectionLimits(max_connections=2, max_connections_per_ip=2, max_sockets=8, idle_seconds=10)
    book: ConnectionBook[str] = ConnectionBook(limits, lambda peer: peer.startswith("validator"))
    assert book.connected("a", PeerName("a"), "10.0.0.1", now=0).admission is Admission.ADMITTED
    assert book.connected("b", PeerName("b"), "10.0.0.2", now=5).admission is Admission.ADMITTED
    book.observe("b", open_streams=2, now=6)
    # Full, and "a" has been idle for only 9 s: the newcomer is refused.
    assert book.connected("c", PeerName("c"), "10.0.0.3", now=9).admission is Admission.REFUSED_TOTAL
    # At 10 s "a" has been idle long enough: it makes room ("b" has streams open).
    decision = book.connected("c", PeerName("c"), "10.0.0.3", now=10)
    assert (decision.admission, decision.evicted) == (Admission.ADMITTED, "a")
    assert book.compute_idle(now=100) == ["c"]
    for index in range(5):
        assert book.connected(f"v{index}", PeerName(f"validator{index}"), "10.0.0.3", now=100).kept
    assert book.connected("out", PeerName("dialled"), "10.0.0.3", now=100, dialled=True).kept
    assert book.unprotected == 2 and len(book) == 8
    book.disconnected("c")
    assert book.count_from("10.0.0.3") == 0 and book.unprotected == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"max_connections": 0}, "max_connections"),
        ({"max_connections_per_ip": 200}, "max_connections_per_ip"),
        ({"max_sockets": 128}, "max_sockets"),
        ({"idle_seconds": 0}, "idle_seconds"),
    ],
)
def test_connection_limits_name_the_bad_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidNetworkConfig) as raised:
        NetworkConfig(connection_limits=dataclasses.replace(ConnectionLimits(), **change)).validate()
    assert raised.value.field == field


async def test_a_fresh_peer_id_per_connection_is_forgotten_and_the_host_survives_many() -> None:
    """Each light check comes from a new peer id. py-libp2p's peerstore evicts past its bound (4 per
    socket here: 48) and may evict the host's own key, after which identify crashes the host. Here
    60 fresh ids connect, ask for identify, and leave: the server forgets each, keeps its own key,
    and still answers a ping."""
    limits = ConnectionLimits(max_connections=8, max_connections_per_ip=8, max_sockets=12)
    server = NetworkService(dataclasses.replace(FAST, connection_limits=limits))
    async with open_services([server]):
        store = server.host.get_peerstore()
        for _ in range(60):
            async with open_services([NetworkService(CLIENT)]) as (client,):
                peer = await client.connect(server.listen_addrs[0])
                await wait_for_identify(client, peer)
                await client.disconnect(peer)
            await _wait_until(lambda: not server.connected_peers())
        await _wait_until(lambda: len(store.peer_ids()) == 1)
        assert store.peer_ids() == [server.host.get_id()]
        async with open_services([NetworkService(CLIENT)]) as (client,):
            assert await client.ping(await client.connect(server.listen_addrs[0])) > 0
