"""asyncio callers and the trio host: the bridge (results, errors, cancellation cross) and the HTTP API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import aiohttp
import pytest
import trio
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol
from libp2p.host.ping import ID as PING_PROTOCOL
from multiaddr import Multiaddr

from network.bridge import TrioBridge
from network.client import parse_peer_name
from network.constants import PROTOCOL_SAMPLES, ResultCode
from network.errors import PeerUnreachable, ServiceNotRunning
from network.server import ServerPorts
from network.service import NetworkService
from network.types import PeerName
from tests.network.conftest import FAST, DictSampleStore, live_threads, raw_request
from validator.daemon.api import ERROR_CODES, ApiConfig, BridgedNode, build_app, start_api
from validator.daemon.api.routes import ROUTES

pytestmark = pytest.mark.anyio

UNKNOWN_PEER = "12D3KooWGvPd4MXDxBgZM2ZCqYDMJ4oETHuNTCUdTbh77cnGPpWu"


@pytest.fixture
def anyio_backend() -> str:
    """These are the asyncio callers (aiohttp's side of the bridge)."""
    return "asyncio"


@pytest.fixture
async def bridges() -> AsyncIterator[tuple[TrioBridge, TrioBridge]]:
    """Two hosts, each in its own trio thread; the first knows the second and serves (no) samples."""
    first = TrioBridge(NetworkService(FAST, ServerPorts(samples=DictSampleStore())))
    second = TrioBridge(NetworkService(FAST))
    await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))
    try:
        address = second.call_sync(lambda: second.service.listen_addrs[0])
        await first.call(first.service.connect, address)
        yield first, second
    finally:
        await asyncio.gather(asyncio.to_thread(first.stop), asyncio.to_thread(second.stop))


async def test_results_errors_and_cancellation_cross_the_bridge() -> None:
    before = live_threads()
    bridge = TrioBridge(NetworkService(FAST))
    with pytest.raises(ServiceNotRunning):
        await bridge.call(trio.sleep, 0)
    await asyncio.to_thread(bridge.start)
    assert "tessera-libp2p" in live_threads()
    cancelled = threading.Event()

    async def wait_forever() -> None:
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()

    async def peer_id() -> PeerName:
        return bridge.service.peer_id

    try:
        assert (await bridge.call(peer_id)).startswith("12D3KooW")
        with pytest.raises(PeerUnreachable, match="unreachable"):
            await bridge.call(bridge.service.connect, f"/ip4/127.0.0.1/tcp/9/p2p/{UNKNOWN_PEER}")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bridge.call(wait_forever), 0.2)
        assert await asyncio.to_thread(cancelled.wait, 5), (
            "cancelling the asyncio caller cancels the trio task"
        )
    finally:
        await asyncio.to_thread(bridge.stop)
    assert live_threads() == before
    with pytest.raises(ServiceNotRunning):
        await bridge.call(peer_id)


async def test_http_api_serves_identity_peers_ping_and_openapi(
    bridges: tuple[TrioBridge, TrioBridge],
) -> None:
    first, second = bridges
    app = build_app(BridgedNode(first))
    server = await start_api(app)
    try:
        own_id = first.call_sync(lambda: first.service.peer_id)
        other_id = second.call_sync(lambda: second.service.peer_id)
        async with aiohttp.ClientSession(server.url) as http:
            async with http.get("/v1/health") as response:
                assert (response.status, await response.json()) == (200, {"status": "ok"})
            async with http.get("/v1/node/identity") as response:
                identity = await response.json()
            async with http.get("/v1/node/peers") as response:
                peers = await response.json()
            async with http.post("/v1/node/ping", json={"peer_id": other_id}) as response:
                assert response.status == 200
                ping = await response.json()
            async with http.get("/v1/openapi.json") as response:
                document = await response.json()
    finally:
        await server.close()
    assert server.url.startswith("http://127.0.0.1:")
    assert identity["peer_id"] == own_id and identity["network"] == "devnet"
    assert identity["listen_addrs"][0].startswith("/ip4/127.0.0.1/tcp/")
    assert [p["peer_id"] for p in peers["peers"]] == [other_id]
    assert ping["peer_id"] == other_id and 0 < ping["rtt_ms"] < 1000
    served = {
        (route.method, route.resource.canonical) for route in app.router.routes() if route.method != "HEAD"
    }
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == documented == {(doc.method, doc.path) for doc, _ in ROUTES}
    assert document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"][
        "enum"
    ] == sorted(ERROR_CODES)


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/v1/nowhere", {}, 404, "not_found"),
        ("GET", "/v1/node/ping", {}, 405, "method_not_allowed"),
        (
            "POST",
            "/v1/node/ping",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "bad_request",
        ),
        (
            "POST",
            "/v1/node/ping",
            {"data": b"peer", "headers": {"Content-Type": "text/plain"}},
            415,
            "unsupported_media_type",
        ),
        ("POST", "/v1/node/ping", {"json": {"peer_id": 5}}, 400, "invalid_argument"),
        ("POST", "/v1/node/ping", {"json": {"peer_id": "not-a-peer"}}, 400, "invalid_argument"),
        ("POST", "/v1/node/ping", {"json": {"peer_id": UNKNOWN_PEER}}, 404, "unknown_peer"),
        ("POST", "/v1/node/ping", {"json": {"peer_id": "x" * 2000}}, 413, "request_too_large"),
        ("GET", "/v1/blobs/0xnothex", {}, 400, "invalid_argument"),
        # A p2p host without a validator behind it: the blob routes and /metrics say so.
        ("GET", "/v1/blobs/" + "ab" * 32, {}, 503, "service_unavailable"),
        ("GET", "/v1/blobs/" + "ab" * 32 + "/data", {}, 503, "service_unavailable"),
        (
            "POST",
            "/v1/blobs",
            {"data": b"blob", "headers": {"Content-Type": "application/octet-stream"}},
            503,
            "service_unavailable",
        ),
        ("GET", "/metrics", {}, 503, "service_unavailable"),
    ],
)
async def test_http_errors_are_json_with_stable_codes(
    bridges: tuple[TrioBridge, TrioBridge],
    method: str,
    path: str,
    kwargs: dict[str, object],
    status: int,
    code: str,
) -> None:
    server = await start_api(build_app(BridgedNode(bridges[0]), ApiConfig(max_request_bytes=1024)))
    try:
        async with (
            aiohttp.ClientSession(server.url) as http,
            http.request(method, path, **kwargs) as response,
        ):  # type: ignore[arg-type]
            body = await response.json()
    finally:
        await server.close()
    assert response.status == status
    assert body["error"]["code"] == code and ERROR_CODES[code] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_a_405_names_the_allowed_methods_and_a_known_silent_peer_is_a_502(
    bridges: tuple[TrioBridge, TrioBridge],
) -> None:
    """RFC 9110 wants `Allow` on a 405; a peer the node has an address for but cannot reach is the
    node's trouble (502), where an unknown peer is the client's mistake (404, above)."""
    service = bridges[0].service

    async def remember_a_dead_address() -> None:
        service.host.get_peerstore().add_addrs(
            parse_peer_name(PeerName(UNKNOWN_PEER)), [Multiaddr("/ip4/127.0.0.1/tcp/1")], 60
        )

    await bridges[0].call(remember_a_dead_address)
    server = await start_api(build_app(BridgedNode(bridges[0])))
    try:
        async with aiohttp.ClientSession(server.url) as http:
            async with http.delete("/v1/node/ping") as response:
                assert response.status == 405 and response.headers["Allow"] == "POST"
                assert (await response.json())["error"]["code"] == "method_not_allowed"
            async with http.post("/v1/node/ping", json={"peer_id": UNKNOWN_PEER}) as response:
                assert response.status == 502
                assert (await response.json())["error"]["code"] == "peer_unreachable"
    finally:
        await server.close()


async def _ping_answer(bridge: TrioBridge, peer: PeerName) -> tuple[int, str]:
    """POST /v1/node/ping for `peer` on a real API over `bridge`: the status and the error code."""
    server = await start_api(build_app(BridgedNode(bridge)))
    try:
        async with (
            aiohttp.ClientSession(server.url) as http,
            http.post("/v1/node/ping", json={"peer_id": peer}) as response,
        ):
            return response.status, (await response.json())["error"]["code"]
    finally:
        await server.close()


async def test_a_banned_peer_is_a_503(bridges: tuple[TrioBridge, TrioBridge]) -> None:
    """The second host announces a 64 MiB sample request, which bans it (network/server.py): a ping
    to it is refused by this node's own ban, not attempted."""
    first, second = bridges
    first_id = first.call_sync(lambda: first.service.peer_id)
    second_id = second.call_sync(lambda: second.service.peer_id)
    code, _ = await second.call(
        raw_request, second.service, first_id, PROTOCOL_SAMPLES, (64 << 20).to_bytes(4, "little"), False
    )
    assert code == ResultCode.INVALID_REQUEST
    assert first.call_sync(lambda: first.service.guard.is_banned(second_id))
    assert await _ping_answer(first, second_id) == (503, "peer_banned")


async def test_a_peer_that_never_answers_the_ping_is_a_504(bridges: tuple[TrioBridge, TrioBridge]) -> None:
    """The second host stays connected and takes the ping stream, but reads it and never writes back:
    the ping gives up after `response_timeout` (2 s in FAST)."""
    first, second = bridges
    second_id = second.call_sync(lambda: second.service.peer_id)

    async def read_and_stall(stream: INetStream) -> None:
        await stream.read(32)
        await trio.sleep_forever()

    second.call_sync(lambda: second.service.host.set_stream_handler(TProtocol(PING_PROTOCOL), read_and_stall))
    assert await _ping_answer(first, second_id) == (504, "peer_timeout")


class _HangingNode(BridgedNode):
    """The real bridged node, whose ping runs a trio task that never finishes and records its cancellation."""

    def __init__(self, bridge: TrioBridge) -> None:
        super().__init__(bridge)
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self._bridge_ = bridge

    async def ping(self, peer: PeerName) -> float:
        async def hang() -> float:
            self.started.set()
            try:
                await trio.sleep_forever()
            finally:
                self.cancelled.set()

        return await self._bridge_.call(hang)


async def test_a_client_that_hangs_up_cancels_the_trio_task_behind_its_request(
    bridges: tuple[TrioBridge, TrioBridge],
) -> None:
    node = _HangingNode(bridges[0])
    server = await start_api(build_app(node))
    try:
        async with aiohttp.ClientSession(server.url) as http:
            with pytest.raises(asyncio.TimeoutError):
                await http.post(
                    "/v1/node/ping", json={"peer_id": UNKNOWN_PEER}, timeout=aiohttp.ClientTimeout(total=0.5)
                )
            assert node.started.is_set()
            assert await asyncio.to_thread(node.cancelled.wait, 5)
            async with http.get("/v1/health") as response:
                assert response.status == 200
    finally:
        await server.close()
