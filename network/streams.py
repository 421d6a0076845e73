"""Reading and writing frames on libp2p streams, with the length limit enforced before the body is read.

Callers bound time (`trio.fail_after`); this module bounds bytes and turns the library's stream errors
into `PeerDisconnected`.

Reads go through `FrameReader`, which asks the stream for whole chunks and keeps the surplus itself:
py-libp2p 0.8.1's Yamux `read(n)` on a stream closed in both directions discards whatever is still
buffered beyond the `n` bytes it returns (it finalizes the stream after any read), so reading a
1-byte code and then a 4-byte prefix separately loses the body when the peer's FIN has arrived.
"""

from __future__ import annotations

from typing import Protocol

import trio
from libp2p.exceptions import BaseLibp2pError

from network.constants import FRAME_PREFIX_BYTES, RESULT_CODE_BYTES, ResultCode
from network.errors import PeerDisconnected
from network.framing import answer_body_limit, bytes_to_result_code, check_frame_length

STREAM_ERRORS = (
    BaseLibp2pError,
    EOFError,
    ConnectionError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
)
"""What py-libp2p raises when a stream resets, closes or loses its connection."""

READ_CHUNK_BYTES = 64 * 1024
"""How much `FrameReader` asks the stream for at a time (at least what it still needs)."""


class ByteStream(Protocol):
    """The part of a libp2p stream that framing needs."""

    async def read(self, n: int | None = None) -> bytes:
        """Up to `n` bytes; b"" or an error at the end of the stream."""

    async def write(self, data: bytes) -> None:
        """Send `data`."""


class FrameReader:
    """Reads exact byte counts, frames and answers from one stream, buffering what it over-reads."""

    def __init__(self, stream: ByteStream, peer: str) -> None:
        self._stream = stream
        self._peer = peer
        self._buffer = bytearray()

    async def read_exactly(self, count: int, operation: str) -> bytes:
        """Exactly `count` bytes, or `PeerDisconnected` if the stream ends first."""
        while len(self._buffer) < count:
            wanted = max(count - len(self._buffer), READ_CHUNK_BYTES)
            try:
                chunk = await self._stream.read(wanted)
            except STREAM_ERRORS as error:
                raise PeerDisconnected(
                    self._peer, operation, f"{type(error).__name__} after {len(self._buffer)}/{count} bytes"
                ) from error
            if not chunk:
                raise PeerDisconnected(
                    self._peer, operation, f"end of stream after {len(self._buffer)}/{count} bytes"
                )
            self._buffer += chunk
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_frame(self, limit: int, what: str) -> bytes:
        """One frame's body; raises `MessageTooLarge` (before reading the body) or `PeerDisconnected`."""
        length = check_frame_length(await self.read_exactly(FRAME_PREFIX_BYTES, what), limit, what)
        return await self.read_exactly(length, what)

    async def read_answer(self, success_limit: int, what: str) -> tuple[ResultCode, bytes]:
        """An answer's result code and body (SSZ on success, error text otherwise)."""
        code = bytes_to_result_code(await self.read_exactly(RESULT_CODE_BYTES, what))
        return code, await self.read_frame(answer_body_limit(code, success_limit), what)


async def write_all(stream: ByteStream, data: bytes, peer: str, operation: str) -> None:
    """Write `data`, mapping stream errors to `PeerDisconnected`."""
    try:
        await stream.write(data)
    except STREAM_ERRORS as error:
        raise PeerDisconnected(peer, operation, type(error).__name__) from error
