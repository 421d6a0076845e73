"""Request/response protocols between real hosts on 127.0.0.1: samples, headers, custody, attestations.

The serving cores are real in-process implementations over a real encoded blob; the requester verifies
every sample with the real ckzg backend.
"""

from __future__ import annotations

import dataclasses
import random

import pytest
import trio

from da import CkzgBackend, EncodedBlob
from da.types import Cell, CellCoordinate, ColumnIndex, DataRoot, RowIndex
from network.constants import MAX_SAMPLES_PER_REQUEST, PROTOCOL_ATTEST, PROTOCOL_CUSTODY, ResultCode
from network.errors import PeerUnreachable, RemoteError
from network.sample_fetch import fetch_verified_samples
from network.server import ServerPorts
from network.service import NetworkService, open_services
from network.types import PeerName, Verdict
from tests.network.conftest import (
    FAST,
    DictSampleStore,
    PrefixAttestationSink,
    VerifyingCustodySink,
    wait_for_identify,
)

pytestmark = pytest.mark.anyio


def _pair(ports: ServerPorts) -> tuple[NetworkService, NetworkService]:
    return NetworkService(FAST, ports), NetworkService(FAST)


async def test_batched_sample_request_returns_verified_samples(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    store = DictSampleStore(blob)
    server, client = _pair(ServerPorts(samples=store))
    picks = random.Random(1).sample(range(3 * 128), MAX_SAMPLES_PER_REQUEST)
    coordinates = [CellCoordinate(RowIndex(i // 128), ColumnIndex(i % 128)) for i in picks]
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        result = await fetch_verified_samples(
            client.request_samples, peer, blob.data_root, coordinates, kzg, client.guard
        )
    held = [x for x in coordinates if x.row < 2]
    assert [s.coordinate for s in result.samples] == held
    assert result.samples == tuple(blob.get_samples(held))
    assert list(result.missing) == [x for x in coordinates if x.row >= 2]
    assert store.calls == 1, "a batch travels in one stream and reaches the store once"
    assert client.guard.score(peer) > 0


async def test_samples_of_an_unknown_blob_are_all_not_held(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    server, client = _pair(ServerPorts(samples=DictSampleStore(two_row_blob[1])))
    coordinates = [CellCoordinate(RowIndex(0), ColumnIndex(c)) for c in range(16)]
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        response = await client.request_samples(peer, DataRoot(b"\x01" * 32), coordinates)
    assert response.results == (None,) * 16


async def test_header_request_returns_the_checked_header_or_none(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    server, client = _pair(ServerPorts(headers=DictSampleStore(blob)))
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        assert await client.request_header(peer, blob.data_root) == blob.header
        assert await client.request_header(peer, DataRoot(b"\x02" * 32)) is None


async def test_custody_push_is_verified_stored_and_acknowledged(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    sink = VerifyingCustodySink(kzg)
    member, aggregator = _pair(ServerPorts(custody=sink))
    column = blob.get_column(ColumnIndex(42))
    forged = [dataclasses.replace(column[0], cell=Cell(bytes(2048))), *column[1:]]
    async with open_services([member, aggregator]):
        peer = await aggregator.connect(member.listen_addrs[0])
        assert await aggregator.push_custody(peer, blob.header, column) is Verdict.ACCEPT
        assert await aggregator.push_custody(peer, blob.header, column) is Verdict.IGNORE
        with pytest.raises(RemoteError) as info:
            await aggregator.push_custody(peer, blob.header, forged)
        assert member.guard.score(aggregator.peer_id) < 0
        sender = aggregator.peer_id
    assert info.value.code == ResultCode.INVALID_REQUEST
    assert sink.stored == {blob.data_root: column}
    assert sink.senders == [sender] * 3


async def test_attestations_are_opaque_bounded_bytes_judged_by_the_sink() -> None:
    sink = PrefixAttestationSink(max_attestation_bytes=200)
    aggregator = NetworkService(FAST, ServerPorts(attestations=sink))
    honest, byzantine, sloppy = NetworkService(FAST), NetworkService(FAST), NetworkService(FAST)
    async with open_services([aggregator, honest, byzantine, sloppy]):
        for member in (honest, byzantine, sloppy):
            await member.connect(aggregator.listen_addrs[0])
        target = aggregator.peer_id
        assert await honest.send_attestation(target, b"ATT-1") is Verdict.ACCEPT
        assert await honest.send_attestation(target, b"ATT-1") is Verdict.IGNORE
        with pytest.raises(RemoteError) as rejected:
            await byzantine.send_attestation(target, b"garbage")
        with pytest.raises(RemoteError) as oversize:
            await sloppy.send_attestation(target, b"ATT" + b"x" * 300)
        assert await honest.send_attestation(target, b"ATT-2") is Verdict.ACCEPT
        banned = {
            peer
            for peer in (honest.peer_id, byzantine.peer_id, sloppy.peer_id)
            if aggregator.guard.is_banned(peer)
        }
        expected_banned = {byzantine.peer_id, sloppy.peer_id}
        sender = honest.peer_id
    assert rejected.value.code == oversize.value.code == ResultCode.INVALID_REQUEST
    assert rejected.value.message == "attestation rejected"
    assert "over the limit of 200 bytes" in oversize.value.message
    assert sink.received == [(sender, b"ATT-1"), (sender, b"ATT-2")]
    assert banned == expected_banned


async def test_a_protocol_without_a_port_is_not_offered(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    server, client = _pair(ServerPorts(samples=DictSampleStore(two_row_blob[1])))
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        with pytest.raises(PeerUnreachable):
            await client.send_attestation(peer, b"ATT")
        offered = await wait_for_identify(client, peer)
    assert "/tessera/samples/3" in offered
    assert PROTOCOL_ATTEST not in offered and PROTOCOL_CUSTODY not in offered
    assert "/ipfs/id/1.0.0" in offered and "/ipfs/ping/1.0.0" in offered


async def test_unknown_peer_is_unreachable_not_a_hang() -> None:
    async with open_services([NetworkService(FAST)]) as (client,):
        with trio.fail_after(FAST.dial_timeout + 1):
            with pytest.raises(PeerUnreachable):
                await client.request_samples(
                    PeerName("12D3KooWGvPd4MXDxBgZM2ZCqYDMJ4oETHuNTCUdTbh77cnGPpWu"),
                    DataRoot(b"\x00" * 32),
                    [CellCoordinate(RowIndex(0), ColumnIndex(0))],
                )
            with pytest.raises(PeerUnreachable):
                await client.request_samples(
                    PeerName("not-a-peer"),
                    DataRoot(b"\x00" * 32),
                    [CellCoordinate(RowIndex(0), ColumnIndex(0))],
                )
