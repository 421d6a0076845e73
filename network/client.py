"""Client side of the request/response protocols: one stream per request, every wait bounded.

Each request opens a stream, writes one frame, half-closes, and reads one answer within
`response_timeout` (dialing, if needed, within `dial_timeout`). Outcomes feed the peer guard: a timeout,
a malformed or oversize answer, or wrong data lower the peer's score; a good answer raises it.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.exceptions import BaseLibp2pError
from libp2p.network.stream.net_stream import NetStream
from libp2p.peer.id import ID

from da.errors import MalformedHeader
from da.header import bytes_to_header, compute_data_root
from da.types import BlobHeader, CellCoordinate, DataRoot, Sample
from network import constants as c
from network.config import NetworkConfig
from network.constants import ResultCode
from network.errors import (
    InvalidResponse,
    MalformedMessage,
    MessageTooLarge,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    RemoteError,
)
from network.framing import encode_frame
from network.messages import (
    CustodyPush,
    GridSamplesRequest,
    GridSamplesResponse,
    SamplesRequest,
    SamplesResponse,
    bytes_to_error_message,
    bytes_to_grid_samples_response,
    bytes_to_samples_response,
    custody_push_to_bytes,
    is_matching_grid_samples_response,
    is_matching_samples_response,
    samples_request_to_bytes,
    validate_attestation_bytes,
)
from network.peers import PeerGuard
from network.scoring import Offence
from network.streams import STREAM_ERRORS, FrameReader, write_all
from network.types import PeerName, Verdict

log = structlog.get_logger(__name__)


def parse_peer_name(peer: PeerName) -> ID:
    """The libp2p peer id for `peer`; raises `PeerUnreachable` if it is not a valid base58 peer id."""
    try:
        return ID.from_base58(peer)
    except (ValueError, TypeError, BaseLibp2pError) as error:
        raise PeerUnreachable(peer, f"not a peer id: {error}") from error


class RequestClient:
    """Sends requests from one host; the `PeerGuard` is told how each peer behaved."""

    def __init__(self, host: IHost, config: NetworkConfig, guard: PeerGuard) -> None:
        self._host = host
        self._config = config
        self._guard = guard

    async def _open(self, peer: PeerName, protocol: str) -> INetStream:
        peer_id = parse_peer_name(peer)
        try:
            with trio.fail_after(self._config.dial_timeout):
                return await self._host.new_stream(peer_id, [TProtocol(protocol)])
        except trio.TooSlowError as error:
            raise PeerUnreachable(peer, f"no stream within {self._config.dial_timeout:g} s") from error
        except STREAM_ERRORS as error:
            raise PeerUnreachable(peer, f"{type(error).__name__}: {error}") from error

    async def request(self, peer: PeerName, protocol: str, body: bytes, success_limit: int) -> bytes:
        """Send `body` on `protocol` and return the success body; raises a typed `NetworkError`."""
        self._guard.check_not_banned(peer)
        pause = self._guard.backoff_seconds(peer)
        if pause > 0:  # it timed out lately: give it room (bounded by BACKOFF_MAX_MILLISECONDS)
            await trio.sleep(pause)
        what = f"{protocol} answer"
        timeout = self._config.response_timeout
        stream: INetStream | None = None
        try:
            with trio.fail_after(timeout):
                stream = await self._open(peer, protocol)
                await write_all(stream, encode_frame(body), peer, protocol)
                await _half_close(stream)
                code, answer = await FrameReader(stream, peer).read_answer(success_limit, what)
        except trio.TooSlowError as error:
            self._guard.timed_out(peer)
            raise PeerTimeout(peer, protocol, timeout) from error
        except MessageTooLarge:
            self._guard.penalize(peer, Offence.OVERSIZE_MESSAGE)
            raise
        except MalformedMessage:
            self._guard.penalize(peer, Offence.MALFORMED_MESSAGE)
            raise
        except STREAM_ERRORS as error:
            raise PeerDisconnected(peer, protocol, f"{type(error).__name__}: {error}") from error
        finally:
            if stream is not None:
                await _release(stream)
        self._guard.answered(peer)
        if code != ResultCode.SUCCESS:
            raise RemoteError(peer, int(code), bytes_to_error_message(answer))
        return answer

    async def request_samples(
        self, peer: PeerName, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> SamplesResponse:
        """The peer's samples at `coordinates` (None where it does not hold one); not yet verified."""
        request = SamplesRequest(data_root, tuple(coordinates))
        body = await self.request(
            peer, c.PROTOCOL_SAMPLES, samples_request_to_bytes(request), c.SAMPLES_RESPONSE_MAX_BYTES
        )
        try:
            response = bytes_to_samples_response(body)
        except MalformedMessage:
            self._guard.penalize(peer, Offence.MALFORMED_MESSAGE)
            raise
        if not is_matching_samples_response(request, response):
            self._guard.penalize(peer, Offence.INVALID_DATA)
            raise InvalidResponse(peer, "the answer does not match the requested coordinates")
        return response

    async def request_grid_samples(
        self, peer: PeerName, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> GridSamplesResponse:
        """The peer's cells of `data_root`'s 2D grid at `coordinates` (`/tessera/samples/2`; None where
        it does not hold one); not yet verified."""
        request = GridSamplesRequest(data_root, tuple(coordinates))
        body = await self.request(
            peer,
            c.PROTOCOL_GRID_SAMPLES,
            samples_request_to_bytes(request),
            c.GRID_SAMPLES_RESPONSE_MAX_BYTES,
        )
        try:
            response = bytes_to_grid_samples_response(body)
        except MalformedMessage:
            self._guard.penalize(peer, Offence.MALFORMED_MESSAGE)
            raise
        if not is_matching_grid_samples_response(request, response):
            self._guard.penalize(peer, Offence.INVALID_DATA)
            raise InvalidResponse(peer, "the answer does not match the requested coordinates")
        return response

    async def request_header(self, peer: PeerName, data_root: DataRoot) -> BlobHeader | None:
        """The header of `data_root` from `peer` (checked against the root), or None if it has none."""
        try:
            body = await self.request(peer, c.PROTOCOL_HEADER, bytes(data_root), c.HEADER_RESPONSE_MAX_BYTES)
        except RemoteError as error:
            if error.code == ResultCode.RESOURCE_UNAVAILABLE:
                return None
            raise
        try:
            header = bytes_to_header(body)
        except MalformedHeader as error:
            self._guard.penalize(peer, Offence.MALFORMED_MESSAGE)
            raise MalformedMessage("header answer", str(error)) from error
        if compute_data_root(header) != data_root:
            self._guard.penalize(peer, Offence.INVALID_DATA)
            raise InvalidResponse(peer, "the header does not hash to the requested data root")
        self._guard.reward(peer)
        return header

    async def push_custody(
        self, peer: PeerName, header: BlobHeader, samples: Sequence[Sample], epoch: int = 0, quorum: int = 0
    ) -> Verdict:
        """Push custody samples to `peer`: ACCEPT once it stored them, IGNORE if it did not want them."""
        body = custody_push_to_bytes(CustodyPush(header, tuple(samples), epoch, quorum))
        return await self._send_for_verdict(peer, c.PROTOCOL_CUSTODY, body)

    async def send_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        """Send an attestation (opaque bytes) to `peer`: ACCEPT or IGNORE; `RemoteError` if it rejects it."""
        return await self._send_for_verdict(peer, c.PROTOCOL_ATTEST, validate_attestation_bytes(attestation))

    async def _send_for_verdict(self, peer: PeerName, protocol: str, body: bytes) -> Verdict:
        try:
            await self.request(peer, protocol, body, 0)
        except RemoteError as error:
            if error.code == ResultCode.IGNORED:
                return Verdict.IGNORE
            raise
        return Verdict.ACCEPT


async def _half_close(stream: INetStream) -> None:
    """Tell the peer the request is complete (a Yamux FIN on our side; the answer still flows back)."""
    if isinstance(stream, NetStream):
        await stream.close_write()


async def _release(stream: INetStream) -> None:
    """Close a finished stream, or reset it if that fails; shielded and bounded (runs after cancellation)."""
    with trio.CancelScope(shield=True), trio.move_on_after(1.0):
        try:
            await stream.close()
        except STREAM_ERRORS:
            try:
                await stream.reset()
            except STREAM_ERRORS:
                log.debug("stream release failed")
