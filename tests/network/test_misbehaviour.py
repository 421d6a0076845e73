"""Misbehaving peers on real hosts: garbage, oversize frames, silence, wrong data, a peer killed mid-request.

Each test checks what the other side sees (an error code, a typed exception, within a time bound) and
that honest peers keep being served while the bad one is penalized or cut off.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol

from da import CkzgBackend, EncodedBlob
from da.types import Cell, CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
from network.backoff import BackoffParams
from network.constants import PROTOCOL_HEADER, PROTOCOL_SAMPLES, SAMPLES_REQUEST_MAX_BYTES, ResultCode
from network.errors import (
    MalformedMessage,
    MessageTooLarge,
    NetworkError,
    PeerBanned,
    PeerDisconnected,
    PeerTimeout,
    RemoteError,
)
from network.framing import encode_frame
from network.messages import SamplesRequest, samples_request_to_bytes
from network.sample_fetch import fetch_verified_samples
from network.server import ServerPorts
from network.service import NetworkService, open_services
from network.streams import FrameReader
from network.types import PeerName, VerifiedSamples
from tests.network.conftest import FAST, DictSampleStore, raw_request

pytestmark = pytest.mark.anyio

COORDINATES = [CellCoordinate(RowIndex(0), ColumnIndex(c)) for c in range(16)]


async def _fetch(
    service: NetworkService, peer: PeerName, blob: EncodedBlob, kzg: CkzgBackend
) -> VerifiedSamples:
    return await fetch_verified_samples(
        service.request_samples, peer, blob.data_root, COORDINATES, kzg, service.guard
    )


def _request_bytes(blob: EncodedBlob) -> bytes:
    return encode_frame(samples_request_to_bytes(SamplesRequest(blob.data_root, tuple(COORDINATES))))


async def _stall(stream: INetStream) -> None:
    """A peer that reads the request and never answers."""
    await FrameReader(stream, "stall").read_frame(1 << 20, "request")
    await trio.sleep_forever()


async def test_garbage_requests_get_an_error_code_and_the_sender_is_cut_off(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    server = NetworkService(FAST, ServerPorts(samples=DictSampleStore(blob)))
    honest, bad = NetworkService(FAST), NetworkService(FAST)
    async with open_services([server, honest, bad]):
        target = await honest.connect(server.listen_addrs[0])
        await bad.connect(server.listen_addrs[0])
        first = await raw_request(bad, target, PROTOCOL_SAMPLES, encode_frame(b"\xff" * 50))
        assert not server.guard.is_banned(bad.peer_id)
        assert len((await _fetch(honest, target, blob, kzg)).samples) == 16
        second = await raw_request(bad, target, PROTOCOL_SAMPLES, encode_frame(b"\x00" * 37))
        assert server.guard.is_banned(bad.peer_id)
        with pytest.raises(NetworkError):
            await bad.request_samples(target, blob.data_root, COORDINATES)
        assert len((await _fetch(honest, target, blob, kzg)).samples) == 16
    assert first[0] == second[0] == ResultCode.INVALID_REQUEST
    assert b"malformed samples request" in first[1]


async def test_oversize_frame_is_refused_from_its_prefix_and_bans_the_sender(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    server, bad = (
        NetworkService(FAST, ServerPorts(samples=DictSampleStore(two_row_blob[1]))),
        NetworkService(FAST),
    )
    async with open_services([server, bad]):
        target = await bad.connect(server.listen_addrs[0])
        # Announce 64 MiB and send none of it: the answer is about the announced size (judged from the
        # prefix alone); a server that waited for the body would time the request out instead.
        code, message = await raw_request(
            bad, target, PROTOCOL_SAMPLES, (64 << 20).to_bytes(4, "little"), False
        )
        banned = server.guard.is_banned(bad.peer_id)
    assert code == ResultCode.INVALID_REQUEST
    assert f"over the limit of {SAMPLES_REQUEST_MAX_BYTES} bytes".encode() in message
    assert banned


async def test_a_silent_requester_is_cut_off_but_not_penalized(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    server, bad = (
        NetworkService(FAST, ServerPorts(samples=DictSampleStore(two_row_blob[1]))),
        NetworkService(FAST),
    )
    async with open_services([server, bad]):
        target = await bad.connect(server.listen_addrs[0])
        started = trio.current_time()
        with pytest.raises(PeerDisconnected):
            await raw_request(bad, target, PROTOCOL_SAMPLES, b"", half_close=False)
        elapsed = trio.current_time() - started
        score, banned = server.guard.score(bad.peer_id), server.guard.is_banned(bad.peer_id)
    assert elapsed >= FAST.request_read_timeout  # cut off by its read timeout, not before
    assert score == 0 and not banned  # slow is not wrong (specs/p2p-interface.md, Slow peers)


async def test_a_peer_that_never_answers_times_out_without_holding_up_others(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    honest = NetworkService(FAST, ServerPorts(samples=DictSampleStore(blob)))
    staller, client = NetworkService(FAST), NetworkService(FAST)
    outcome: dict[str, object] = {}
    async with open_services([honest, staller, client]):
        staller.host.set_stream_handler(TProtocol(PROTOCOL_SAMPLES), _stall)
        good = await client.connect(honest.listen_addrs[0])
        slow = await client.connect(staller.listen_addrs[0])

        finished: list[str] = []

        async def ask_staller() -> None:
            started = trio.current_time()
            try:
                await client.request_samples(slow, blob.data_root, COORDINATES)
            except PeerTimeout as error:
                outcome["error"] = error
            outcome["stall_seconds"] = trio.current_time() - started
            finished.append("staller")

        async def ask_honest() -> None:
            outcome["good"] = await _fetch(client, good, blob, kzg)
            finished.append("honest")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask_staller)
            nursery.start_soon(ask_honest)
        slow_score = client.guard.score(slow)
        backoff = client.guard.backoff_seconds(slow)
    assert isinstance(outcome["error"], PeerTimeout)
    assert outcome["error"].seconds == FAST.response_timeout
    assert outcome["stall_seconds"] >= FAST.response_timeout  # type: ignore[operator]
    assert finished == ["honest", "staller"]  # the stalling peer held up nobody else
    assert len(outcome["good"].samples) == 16  # type: ignore[attr-defined]
    assert slow_score == 0 and backoff > 0  # backed off from, not scored
    assert client.guard.backoff_seconds(good) == 0


async def test_a_peer_that_keeps_timing_out_is_backed_off_from_and_never_banned(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    quick = dataclasses.replace(
        FAST, response_timeout=0.3, backoff_params=BackoffParams(base_seconds=0.1, max_seconds=0.4)
    )
    staller, client = NetworkService(quick), NetworkService(quick)
    gaps: list[float] = []
    async with open_services([staller, client]):
        staller.host.set_stream_handler(TProtocol(PROTOCOL_SAMPLES), _stall)
        slow = await client.connect(staller.listen_addrs[0])
        previous_end = trio.current_time()
        for _ in range(6):  # more timeouts than the old -12 per timeout needed to ban (four)
            with pytest.raises(PeerTimeout):
                await client.request_samples(slow, blob.data_root, COORDINATES)
            # The backoff runs from the previous timeout, so measure from there (not from this call,
            # which a loaded machine may start a few milliseconds into the backoff).
            ended = trio.current_time()
            gaps.append(ended - previous_end - quick.response_timeout)
            previous_end = ended
        banned, score = client.guard.is_banned(slow), client.guard.score(slow)
    assert not banned and score == 0
    # Each request after a timeout first waited out the backoff: 0, then 0.1, 0.2, 0.4, 0.4, 0.4 s.
    expected = [0.0, 0.1, 0.2, 0.4, 0.4, 0.4]
    assert [gap >= wait - 0.01 for gap, wait in zip(gaps, expected, strict=True)] == [True] * 6, gaps


async def test_killing_a_peer_mid_request_yields_a_typed_error_within_the_timeout(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    staller, client = NetworkService(FAST), NetworkService(FAST)
    async with open_services([client]), trio.open_nursery() as nursery:
        await nursery.start(staller.run)
        staller.host.set_stream_handler(TProtocol(PROTOCOL_SAMPLES), _stall)
        peer = await client.connect(staller.listen_addrs[0])

        async def kill_soon() -> None:
            await trio.sleep(0.3)
            staller.stop()

        nursery.start_soon(kill_soon)
        with pytest.raises((PeerDisconnected, PeerTimeout)) as info:
            await client.request_samples(peer, blob.data_root, COORDINATES)
    assert isinstance(info.value, PeerDisconnected), "the host closed: the error must say so, not time out"


class _ForgingStore(DictSampleStore):
    """Serves samples whose cells have been replaced: well-formed, wrong."""

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        return [
            None if s is None else dataclasses.replace(s, cell=Cell(bytes(2048)))
            for s in super().get_samples(data_root, coordinates)
        ]


@pytest.mark.parametrize("gossip", [True, False], ids=["gossip", "no-gossip"])
async def test_wrong_samples_are_reported_invalid_and_ban_the_server(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob], gossip: bool
) -> None:
    """Also for a client without gossip (`das light check`): the ban cuts the liar off."""
    blob = two_row_blob[1]
    liar = NetworkService(FAST, ServerPorts(samples=_ForgingStore(blob)))
    client = NetworkService(dataclasses.replace(FAST, gossip=gossip))
    async with open_services([liar, client]):
        peer = await client.connect(liar.listen_addrs[0])
        result = await _fetch(client, peer, blob, kzg)
        assert result.invalid == tuple(COORDINATES) and result.samples == result.missing == ()
        with pytest.raises(PeerBanned):
            await client.request_samples(peer, blob.data_root, COORDINATES)
        with trio.fail_after(5):
            while peer in client.connected_peers():
                await trio.sleep(0.01)


async def test_garbage_and_oversize_answers_are_typed_errors(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    blob = two_row_blob[1]

    async def oversize_answer(stream: INetStream) -> None:
        await FrameReader(stream, "x").read_frame(1 << 20, "request")
        await stream.write(b"\x00" + (1 << 30).to_bytes(4, "little"))
        await trio.sleep_forever()

    async def unknown_code(stream: INetStream) -> None:
        await FrameReader(stream, "x").read_frame(1 << 20, "request")
        await stream.write(b"\x09" + encode_frame(b"?"))
        await stream.close()

    bad, client = NetworkService(FAST), NetworkService(FAST)
    async with open_services([bad, client]):
        bad.host.set_stream_handler(TProtocol(PROTOCOL_SAMPLES), oversize_answer)
        bad.host.set_stream_handler(TProtocol(PROTOCOL_HEADER), unknown_code)
        peer = await client.connect(bad.listen_addrs[0])
        with pytest.raises(MessageTooLarge) as too_large:  # from the prefix: a timeout would be PeerTimeout
            await client.request_samples(peer, blob.data_root, COORDINATES)
        score_after_oversize = client.guard.score(peer)
    other_client = NetworkService(FAST)  # `client` has banned `bad` by now, and `bad` keeps its identity
    async with open_services([bad, other_client]):
        bad.host.set_stream_handler(TProtocol(PROTOCOL_HEADER), unknown_code)
        peer = await other_client.connect(bad.listen_addrs[0])
        with pytest.raises(MalformedMessage, match="unknown code 9"):
            await other_client.request_header(peer, blob.data_root)
    assert too_large.value.size == 1 << 30
    assert score_after_oversize < 0


async def test_too_many_concurrent_requests_from_one_peer_are_rate_limited(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    release = threading.Event()

    class SlowStore(DictSampleStore):
        def get_samples(
            self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
        ) -> list[Sample | None]:
            release.wait(timeout=5)
            return super().get_samples(data_root, coordinates)

    config = dataclasses.replace(FAST, max_concurrent_requests_per_peer=1)
    server, client = NetworkService(config, ServerPorts(samples=SlowStore(blob))), NetworkService(FAST)
    results: list[object] = []
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])

        async def ask() -> None:
            try:
                results.append(await client.request_samples(peer, blob.data_root, COORDINATES))
            except RemoteError as error:
                results.append(error)
                release.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask)
            nursery.start_soon(ask)
    errors = [r for r in results if isinstance(r, RemoteError)]
    assert len(results) == 2 and len(errors) == 1
    assert errors[0].code == ResultCode.RATE_LIMITED
