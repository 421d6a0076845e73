"""Server side of the request/response protocols: bounded reads, bounded time, bounded concurrency.

Every inbound stream goes through `RequestServer._serve`: refuse banned peers, cap concurrent requests
per (peer, protocol), read one frame whose length is checked before the body is read, decode it (a
malformed request is answered with INVALID_REQUEST and lowers the peer's score, and never reaches a
port), call the port in a worker thread within the handler timeout, write the answer, close.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import structlog
import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol

from da.header import compute_data_root, header_to_bytes
from da.types import GridSample, Sample
from network import constants as c
from network.config import NetworkConfig
from network.constants import ResultCode
from network.errors import MalformedMessage, MessageTooLarge, NetworkError, PeerDisconnected
from network.framing import encode_error, encode_success
from network.messages import (
    GridSamplesResponse,
    SamplesResponse,
    bytes_to_custody_push,
    bytes_to_data_root,
    bytes_to_grid_samples_request,
    bytes_to_samples_request,
    grid_samples_response_to_bytes,
    samples_response_to_bytes,
    validate_attestation_bytes,
)
from network.peers import PeerGuard
from network.ports import AttestationSink, CustodySink, GridSampleStore, HeaderStore, SampleStore
from network.scoring import Offence
from network.streams import STREAM_ERRORS, FrameReader, write_all
from network.types import PeerName, Verdict

log = structlog.get_logger(__name__)
T = TypeVar("T")

Handler = Callable[[PeerName, bytes], Awaitable[bytes]]
"""Decodes a request body (raising `MalformedMessage`) and returns the complete answer bytes."""


@dataclass(frozen=True, slots=True)
class ServerPorts:
    """The cores that answer requests; a protocol whose port is None is not offered."""

    samples: SampleStore | None = None
    grid_samples: GridSampleStore | None = None
    headers: HeaderStore | None = None
    custody: CustodySink | None = None
    attestations: AttestationSink | None = None


class PortFailed(NetworkError):
    """Raised inside the server when a port misbehaves (raises, or returns the wrong shape)."""


_VERDICT_ANSWERS = {
    Verdict.ACCEPT: encode_success(b""),
    Verdict.IGNORE: encode_error(ResultCode.IGNORED, "not accepted"),
}


class RequestServer:
    """Registers one stream handler per offered protocol on a host and serves them."""

    def __init__(self, config: NetworkConfig, ports: ServerPorts, guard: PeerGuard) -> None:
        self._config = config
        self._ports = ports
        self._guard = guard
        self._in_flight: Counter[tuple[PeerName, str]] = Counter()
        self._per_peer: Counter[PeerName] = Counter()
        self._idle: dict[PeerName, trio.Event] = {}
        self._limiters: dict[str, trio.CapacityLimiter] = {}
        self.protocols: dict[str, tuple[int, Handler]] = {}
        if ports.samples is not None:
            self.protocols[c.PROTOCOL_SAMPLES] = (c.SAMPLES_REQUEST_MAX_BYTES, self._answer_samples)
        if ports.grid_samples is not None:
            self.protocols[c.PROTOCOL_GRID_SAMPLES] = (
                c.GRID_SAMPLES_REQUEST_MAX_BYTES,
                self._answer_grid_samples,
            )
        if ports.headers is not None:
            self.protocols[c.PROTOCOL_HEADER] = (c.HEADER_REQUEST_BYTES, self._answer_header)
        if ports.custody is not None:
            self.protocols[c.PROTOCOL_CUSTODY] = (c.CUSTODY_PUSH_MAX_BYTES, self._answer_custody)
        if ports.attestations is not None:
            limit = min(c.MAX_ATTESTATION_BYTES, ports.attestations.max_attestation_bytes)
            self.protocols[c.PROTOCOL_ATTEST] = (limit, self._answer_attestation)

    def register(self, host: IHost) -> None:
        """Install the stream handlers (call from the trio thread that owns `host`)."""
        for protocol in self.protocols:
            self._limiters[protocol] = trio.CapacityLimiter(1)
            host.set_stream_handler(TProtocol(protocol), self._make_handler(protocol))

    def _make_handler(self, protocol: str) -> Callable[[INetStream], Awaitable[None]]:
        async def handle(stream: INetStream) -> None:
            await self._serve(protocol, stream)

        return handle

    async def _call_port(self, protocol: str, function: Callable[..., T], *args: object) -> T:
        try:
            # trio-typing's stubs (a libp2p dependency) still call abandon_on_cancel `cancellable`.
            return await trio.to_thread.run_sync(  # type: ignore[call-arg]
                lambda: function(*args), limiter=self._limiters[protocol], abandon_on_cancel=True
            )
        except Exception as error:
            raise PortFailed(f"{type(error).__name__}: {error}") from error

    async def _serve(self, protocol: str, stream: INetStream) -> None:
        peer = PeerName(str(stream.muxed_conn.peer_id))
        if self._guard.is_banned(peer):
            await _reset(stream)
            return
        key = (peer, protocol)
        if self._in_flight[key] >= self._config.max_concurrent_requests_per_peer:
            self._guard.penalize(peer, Offence.RATE_LIMITED)
            await _answer_and_close(stream, encode_error(ResultCode.RATE_LIMITED, "too many requests"), peer)
            return
        self._in_flight[key] += 1
        self._per_peer[peer] += 1
        try:
            await self._serve_one(protocol, stream, peer)
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]
            self._per_peer[peer] -= 1
            if not self._per_peer[peer]:
                del self._per_peer[peer]
                idle = self._idle.pop(peer, None)
                if idle is not None:
                    idle.set()

    async def wait_until_idle(self, peer: PeerName) -> None:
        """Return once no request from `peer` is being served (so its last answer has been written)."""
        if self._per_peer[peer]:
            await self._idle.setdefault(peer, trio.Event()).wait()

    async def _serve_one(self, protocol: str, stream: INetStream, peer: PeerName) -> None:
        limit, handler = self.protocols[protocol]
        bound = log.bind(peer=peer, protocol=protocol)
        try:
            with trio.fail_after(self._config.request_read_timeout):
                body = await FrameReader(stream, peer).read_frame(limit, "request")
        except MessageTooLarge as error:
            bound.info("request refused", reason="oversize", size=error.size, limit=error.limit)
            self._guard.penalize(peer, Offence.OVERSIZE_MESSAGE)
            await _answer_and_close(stream, encode_error(ResultCode.INVALID_REQUEST, str(error)), peer)
            await self._finish(stream, peer)
            return
        except trio.TooSlowError:
            # Slow is not wrong (a busy peer writes slowly): the stream is reset, the score untouched.
            bound.info("request refused", reason="timeout", seconds=self._config.request_read_timeout)
            await _reset(stream)
            return
        except PeerDisconnected as error:
            bound.debug("request abandoned", detail=error.detail)
            await _reset(stream)
            return
        try:
            with trio.fail_after(self._config.handler_timeout):
                answer = await handler(peer, body)
                await write_all(stream, answer, peer, "answer")
        except MalformedMessage as error:
            bound.info("request refused", reason="malformed", detail=error.detail)
            self._guard.penalize(peer, Offence.MALFORMED_MESSAGE)
            await _answer_and_close(stream, encode_error(ResultCode.INVALID_REQUEST, str(error)), peer)
            await self._finish(stream, peer)
            return
        except PortFailed as error:
            bound.error("port failed", detail=str(error))
            await _answer_and_close(stream, encode_error(ResultCode.SERVER_ERROR, "internal error"), peer)
            return
        except trio.TooSlowError:
            bound.warning("answer timed out", seconds=self._config.handler_timeout)
            await _reset(stream)
            return
        except PeerDisconnected as error:
            bound.debug("answer abandoned", detail=error.detail)
            await _reset(stream)
            return
        await self._finish(stream, peer)

    async def _finish(self, stream: INetStream, peer: PeerName) -> None:
        await _close(stream)
        if self._guard.is_banned(peer):
            # The peer is about to be disconnected: give it the time to read the answer that explains why
            # (closing the connection resets its streams and discards what it has not read yet).
            await _linger(stream)

    # --- Protocol answers ------------------------------------------------------------------------

    async def _answer_samples(self, peer: PeerName, body: bytes) -> bytes:
        request = bytes_to_samples_request(body)
        store = self._ports.samples
        if store is None:
            raise PortFailed("no sample store")
        results = await self._call_port(
            c.PROTOCOL_SAMPLES, store.get_samples, request.data_root, request.coordinates
        )
        checked = _check_sample_results(results, request.coordinates)
        try:
            return encode_success(samples_response_to_bytes(SamplesResponse(checked)))
        except MalformedMessage as error:  # the store's samples, not the peer's request
            raise PortFailed(f"sample store returned a malformed sample: {error}") from error

    async def _answer_grid_samples(self, peer: PeerName, body: bytes) -> bytes:
        request = bytes_to_grid_samples_request(body)
        store = self._ports.grid_samples
        if store is None:
            raise PortFailed("no grid sample store")
        results = await self._call_port(
            c.PROTOCOL_GRID_SAMPLES, store.get_grid_samples, request.data_root, request.coordinates
        )
        checked = _check_grid_results(results, request.coordinates)
        try:
            return encode_success(grid_samples_response_to_bytes(GridSamplesResponse(checked)))
        except MalformedMessage as error:  # the store's samples, not the peer's request
            raise PortFailed(f"grid sample store returned a malformed sample: {error}") from error

    async def _answer_header(self, peer: PeerName, body: bytes) -> bytes:
        data_root = bytes_to_data_root(body)
        store = self._ports.headers
        if store is None:
            raise PortFailed("no header store")
        header = await self._call_port(c.PROTOCOL_HEADER, store.get_header, data_root)
        if header is None:
            return encode_error(ResultCode.RESOURCE_UNAVAILABLE, "header not held")
        try:
            return encode_success(header_to_bytes(header))
        except Exception as error:
            raise PortFailed(f"header store returned an invalid header: {error}") from error

    async def _answer_custody(self, peer: PeerName, body: bytes) -> bytes:
        push = bytes_to_custody_push(body)
        sink = self._ports.custody
        if sink is None:
            raise PortFailed("no custody sink")
        data_root = compute_data_root(push.header)
        verdict = await self._call_port(c.PROTOCOL_CUSTODY, sink.accept_custody, peer, data_root, push)
        return self._verdict_answer(peer, verdict, "custody")

    async def _answer_attestation(self, peer: PeerName, body: bytes) -> bytes:
        sink = self._ports.attestations
        if sink is None:
            raise PortFailed("no attestation sink")
        attestation = validate_attestation_bytes(
            body, min(c.MAX_ATTESTATION_BYTES, sink.max_attestation_bytes)
        )
        verdict = await self._call_port(c.PROTOCOL_ATTEST, sink.accept_attestation, peer, attestation)
        return self._verdict_answer(peer, verdict, "attestation")

    def _verdict_answer(self, peer: PeerName, verdict: object, what: str) -> bytes:
        if verdict is Verdict.REJECT:
            self._guard.penalize(peer, Offence.INVALID_DATA)
            return encode_error(ResultCode.INVALID_REQUEST, f"{what} rejected")
        if not isinstance(verdict, Verdict):
            raise PortFailed(f"{what} sink returned {verdict!r}, not a Verdict")
        return _VERDICT_ANSWERS[verdict]


def _check_sample_results(results: object, coordinates: Sequence[object]) -> tuple[Sample | None, ...]:
    if not isinstance(results, list | tuple) or len(results) != len(coordinates):
        raise PortFailed("sample store returned the wrong number of results")
    for result, coordinate in zip(results, coordinates, strict=True):
        if result is not None and (not isinstance(result, Sample) or result.coordinate != coordinate):
            raise PortFailed("sample store returned a sample for another coordinate")
    return tuple(results)


def _check_grid_results(results: object, coordinates: Sequence[object]) -> tuple[GridSample | None, ...]:
    if not isinstance(results, list | tuple) or len(results) != len(coordinates):
        raise PortFailed("grid sample store returned the wrong number of results")
    for result, coordinate in zip(results, coordinates, strict=True):
        if result is not None and (not isinstance(result, GridSample) or result.coordinate != coordinate):
            raise PortFailed("grid sample store returned a sample for another coordinate")
    return tuple(results)


async def _answer_and_close(stream: INetStream, answer: bytes, peer: PeerName) -> None:
    """Best effort: write an (error) answer within a short bound, then close; reset if that fails."""
    with trio.move_on_after(1.0) as scope:
        try:
            await write_all(stream, answer, peer, "error answer")
        except PeerDisconnected:
            scope.cancel()
    if scope.cancelled_caught:
        await _reset(stream)
    else:
        await _close(stream)


async def _linger(stream: INetStream, seconds: float = 1.0, limit: int = 1 << 20) -> None:
    """Wait (bounded) until the peer closes its side, discarding at most `limit` bytes it still sends."""
    with trio.move_on_after(seconds):
        received = 0
        try:
            while received <= limit:
                chunk = await stream.read(65536)
                if not chunk:
                    return
                received += len(chunk)
        except STREAM_ERRORS:
            return


async def _close(stream: INetStream) -> None:
    with trio.move_on_after(1.0):
        try:
            await stream.close()
            return
        except STREAM_ERRORS:
            pass
    await _reset(stream)


async def _reset(stream: INetStream) -> None:
    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
        try:
            await stream.reset()
        except STREAM_ERRORS:
            log.debug("stream reset failed")
