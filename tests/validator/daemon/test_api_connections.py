"""The API's connections are bounded, over real sockets on 127.0.0.1: idle, slow-header and slow-body
connections are closed by their timeouts while `GET /v1/health` keeps answering; at the connection
cap a new client displaces the longest-idle connection (and is refused only when every connection is
inside a request); a connection carries at most `max_requests_per_connection` requests; a body is
refused by its declared length, bounded while it streams, and the node is asked before it is read."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from network.bridge import TrioBridge
from network.service import NetworkService
from tests.network.conftest import FAST
from validator.daemon.api import ApiConfig, BridgedNode, InvalidApiConfig, build_app, start_api
from validator.daemon.api.app import ApiServer

pytestmark = pytest.mark.anyio

HEALTH = b"GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"
WAIT_S = 10.0
"""The most any single wait here takes (every wait is bounded)."""


@pytest.fixture
def anyio_backend() -> str:
    """The API runs on asyncio."""
    return "asyncio"


@pytest.fixture
async def bridge() -> AsyncIterator[TrioBridge]:
    """A running libp2p host (no validator): enough for health, ping and the blob routes' refusals."""
    bridge = TrioBridge(NetworkService(FAST))
    await asyncio.to_thread(bridge.start)
    try:
        yield bridge
    finally:
        await asyncio.to_thread(bridge.stop)


@contextlib.asynccontextmanager
async def serving(bridge: TrioBridge, config: ApiConfig) -> AsyncIterator[ApiServer]:
    server = await start_api(build_app(BridgedNode(bridge), config))
    try:
        yield server
    finally:
        await server.close()


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect(server: ApiServer) -> Connection:
    host, port = server.url.removeprefix("http://").split(":")
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), WAIT_S)


async def connect_many(server: ApiServer, count: int, batch: int = 100) -> list[Connection]:
    """`count` open connections (in batches, within the listen backlog)."""
    connections: list[Connection] = []
    for start in range(0, count, batch):
        connections += await asyncio.gather(*(connect(server) for _ in range(min(batch, count - start))))
    return connections


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = WAIT_S) -> bytes:
    """Everything the server sends until it closes the connection, by FIN or by RST (a client still
    sending to a closed socket is reset); TimeoutError if it never does."""
    received = bytearray()

    async def read() -> None:
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                received.extend(chunk)

    await asyncio.wait_for(read(), timeout)
    return bytes(received)


def close_all(connections: list[Connection]) -> None:
    for _, writer in connections:
        writer.close()


async def health_answers(server: ApiServer) -> float:
    """Seconds a fresh client takes to get `200` from GET /v1/health."""
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=WAIT_S)
    async with aiohttp.ClientSession(server.url, timeout=timeout) as http, http.get("/v1/health") as answer:
        assert answer.status == 200, await answer.text()
    return time.perf_counter() - started


async def trickle(writer: asyncio.StreamWriter, pieces: list[bytes], every_s: float) -> None:
    """Send `pieces` one at a time, `every_s` apart, until the server closes the connection."""
    with contextlib.suppress(ConnectionError):
        for piece in pieces:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every_s)


async def test_idle_and_slow_connections_are_closed_by_their_timeouts_and_health_answers(
    bridge: TrioBridge,
) -> None:
    config = ApiConfig(header_timeout_s=1.0, body_timeout_s=1.0, max_connections=2048)
    async with serving(bridge, config) as server:
        idle = await connect_many(server, 1000)
        slow_header = await connect_many(server, 50)
        slow_body = await connect_many(server, 50)
        opened = time.monotonic()
        header_lines = [b"GET /v1/health HTTP/1.1\r\n"] + [b"X-Slow: %d\r\n" % i for i in range(200)]
        body_head = (
            b"POST /v1/node/ping HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        tricklers = [
            *(asyncio.create_task(trickle(w, header_lines, 0.1)) for _, w in slow_header),
            *(asyncio.create_task(trickle(w, [body_head] + [b" "] * 200, 0.1)) for _, w in slow_body),
        ]
        try:
            latencies = [await health_answers(server)]
            await asyncio.sleep(0.3)
            latencies.append(await health_answers(server))
            closings = await asyncio.gather(
                *(read_until_closed(r) for r, _ in idle + slow_header + slow_body)
            )
            closed_after = time.monotonic() - opened
            latencies.append(await health_answers(server))
        finally:
            for task in tricklers:
                task.cancel()
            close_all(idle + slow_header + slow_body)
        stats = server.gate.stats
    assert max(latencies) < 5.0, latencies  # answered at once, not after the flood's timeouts
    assert closed_after < 1.0 + 5.0, closed_after  # the timeouts, not the end of the test, closed them
    assert all(answer == b"" for answer in closings[:1050])  # idle and slow-header: closed unanswered
    for answer in closings[1050:]:  # slow bodies: told why
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"request_timeout"' in answer
    assert (stats.accepted, stats.refused, stats.displaced) == (1103, 0, 0)  # all taken, none pushed out
    assert stats.open == 0


async def test_at_the_cap_a_new_client_displaces_the_longest_idle_connection(bridge: TrioBridge) -> None:
    config = ApiConfig(header_timeout_s=30.0, body_timeout_s=30.0, max_connections=4)
    async with serving(bridge, config) as server:
        idle = await connect_many(server, 4)
        try:
            await health_answers(server)  # a fifth connection: the first idle one made room
            assert await read_until_closed(idle[0][0]) == b""
            assert server.gate.stats.displaced == 1
            # Four connections inside a request (bodies that never come): nothing is idle, so a new
            # connection is refused with a 503 it can read.
            busy = await connect_many(server, 4)
            head = (
                b"POST /v1/node/ping HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"
            )
            for _, writer in busy:
                writer.write(head)
            await asyncio.sleep(0.3)
            reader, writer = await connect(server)
            refused = await read_until_closed(reader)
            writer.close()
            assert refused.startswith(b"HTTP/1.1 503"), refused
            assert b"Retry-After: 1" in refused
            assert server.gate.stats.refused == 1
            exposition = server.gate.render().decode()
            # The three idle connections left made room for three of the four busy ones.
            closed = await asyncio.gather(*(read_until_closed(r) for r, _ in idle[1:]))
            assert closed == [b""] * 3
            assert "tessera_api_connections_displaced_total 4.0" in exposition
            assert "tessera_api_connections_refused_total 1.0" in exposition
            assert "tessera_api_connections 4.0" in exposition
        finally:
            close_all(idle)
            close_all(busy)


async def test_a_connection_carries_at_most_max_requests_per_connection(bridge: TrioBridge) -> None:
    async with serving(bridge, ApiConfig(max_requests_per_connection=3)) as server:
        reader, writer = await connect(server)
        try:
            for number in range(1, 4):
                writer.write(HEALTH)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert (b"Connection: close" in head) == (number == 3), (number, head)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                await asyncio.wait_for(reader.readexactly(length), WAIT_S)
            assert await read_until_closed(reader) == b""  # the third answer was the last
        finally:
            writer.close()
        assert server.gate.stats.closed_at_request_limit == 1


async def test_a_body_is_refused_by_its_length_and_bounded_while_it_streams(bridge: TrioBridge) -> None:
    async with serving(bridge, ApiConfig(max_request_bytes=1024, body_timeout_s=5.0)) as server:
        # A declared length over the limit is answered before any of the body is sent.
        reader, writer = await connect(server)
        writer.write(
            b"POST /v1/blobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 10485760\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        writer.close()
        assert head.startswith(b"HTTP/1.1 413"), head
        # A chunked body is cut once it passes the limit, though it never ends.
        reader, writer = await connect(server)
        writer.write(
            b"POST /v1/node/ping HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + b"200\r\n" + b" " * 512 + b"\r\n"
        )
        sender = asyncio.create_task(trickle(writer, [b"200\r\n" + b" " * 512 + b"\r\n"] * 50, 0.05))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        sender.cancel()
        writer.close()
        assert head.startswith(b"HTTP/1.1 413"), head
        # The node is asked before the body is read: here it runs no validator, and the answer
        # (503) comes while the declared body is still unsent.
        reader, writer = await connect(server)
        writer.write(
            b"POST /v1/blobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1000\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        writer.close()
        assert head.startswith(b"HTTP/1.1 503"), head


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("header_timeout_s", 0.0),
        ("body_timeout_s", -1.0),
        ("body_timeout_s", True),
        ("max_connections", 0),
        ("max_requests_per_connection", 0),
    ],
)
def test_a_bad_connection_bound_is_named(field: str, value: object) -> None:
    with pytest.raises(InvalidApiConfig, match=field) as raised:
        ApiConfig(**{field: value}).validate()  # type: ignore[arg-type]
    assert raised.value.field == field


async def test_expect_100_continue_is_answered_only_after_the_checks(bridge: TrioBridge) -> None:
    async with serving(bridge, ApiConfig(max_request_bytes=1024)) as server:
        cases = [
            (b"application/octet-stream", 10_000, b"HTTP/1.1 413"),  # too large: no 100, no body sent
            (b"text/plain", 100, b"HTTP/1.1 415"),
            (b"application/octet-stream", 100, b"HTTP/1.1 503"),  # the node (no validator) refuses
        ]
        for media, length, status in cases:
            reader, writer = await connect(server)
            writer.write(
                b"POST /v1/blobs HTTP/1.1\r\nHost: t\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                b"Expect: 100-continue\r\n\r\n" % (media, length)
            )
            answer = await read_until_closed(reader)  # the refusal closes: the body is never sent
            writer.close()
            assert answer.startswith(status), answer
            assert b"100 Continue" not in answer
        # Another route keeps aiohttp's default: 100 Continue at once, then the answer.
        reader, writer = await connect(server)
        writer.write(
            b"POST /v1/node/ping HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        writer.write(b"{}")
        final = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        writer.close()
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        assert final.startswith(b"HTTP/1.1 400"), final
