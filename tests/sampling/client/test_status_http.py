"""The status API over real HTTP on 127.0.0.1: the status codes and JSON bodies a user sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest
import trio

from da.types import DataRoot
from sampling.client.status_http import SHUTDOWN_SECONDS, Router, serve_status
from sampling.client.status_routes import make_router

pytestmark = pytest.mark.anyio

KNOWN_ROOT = DataRoot(bytes(range(32)))
STATUS = {"followed": 1, "finished": 1, "queued": 0}
BLOB = {"data_root": "0x" + KNOWN_ROOT.hex(), "status": "available", "verified": 8}
WAIT = 10.0


class StubFollower:
    """The two queries the routes make of a `Follower`."""

    async def status(self) -> dict[str, Any]:
        return STATUS

    async def blob_status(self, data_root: DataRoot) -> dict[str, Any] | None:
        return BLOB if data_root == KNOWN_ROOT else None


@asynccontextmanager
async def status_server(router: Router | None = None) -> AsyncIterator[str]:
    """`serve_status` on a free port for the block's duration; yields its base URL, then stops it."""
    async with trio.open_nursery() as nursery:
        with trio.fail_after(WAIT):
            host, port = await nursery.start(
                serve_status, router or make_router(StubFollower()), "127.0.0.1", 0
            )
        try:
            yield f"http://{host}:{port}"
        finally:
            nursery.cancel_scope.cancel()


async def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    with trio.fail_after(WAIT):
        async with httpx.AsyncClient(timeout=5) as client:
            return await client.request(method, url, **kwargs)


def error(response: httpx.Response) -> tuple[int, str]:
    """(status, error code) of a JSON error answer."""
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()["error"]["code"]


async def test_status() -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/v1/status")
        with_query = await request("GET", f"{url}/v1/status?verbose=1")
    assert response.status_code == 200 and response.json() == STATUS
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert with_query.status_code == 200 and with_query.json() == STATUS


async def test_a_known_root() -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/v1/blobs/0x{KNOWN_ROOT.hex()}")
    assert response.status_code == 200 and response.json() == BLOB


async def test_the_document_describes_the_routes_it_is_built_from() -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/v1/status", "/v1/blobs/{data_root}", "/v1/openapi.json"}
    blob = document["paths"]["/v1/blobs/{data_root}"]["get"]
    assert blob["parameters"][0]["name"] == "data_root" and blob["parameters"][0]["in"] == "path"
    assert set(blob["responses"]) == {"200", "400", "404", "431", "500"}


async def test_an_unknown_root_is_404() -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/v1/blobs/0x{'00' * 32}")
    assert error(response) == (404, "not_found")
    assert response.json()["error"]["message"] == f"0x{'00' * 32} was never seen by this client"


@pytest.mark.parametrize("root", ["nothex", "0x1234", "0x" + "ab" * 33])
async def test_a_malformed_root_is_400(root: str) -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/v1/blobs/{root}")
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "invalid_argument", "message": "expected /v1/blobs/0x<64 hex digits>"}
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_a_wrong_method_is_405(method: str) -> None:
    async with status_server() as url:
        response = await request(method, f"{url}/v1/status", content=b"x" * 100_000)
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert response.json() == {"error": {"code": "method_not_allowed", "message": "only GET is served"}}


async def test_an_unknown_path_is_404() -> None:
    async with status_server() as url:
        response = await request("GET", f"{url}/nope")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "no route for /nope"}}


async def test_a_failing_route_is_500() -> None:
    async def failing(path: str) -> tuple[int, dict[str, Any]]:
        raise RuntimeError(path)

    async with status_server(failing) as url:
        response = await request("GET", f"{url}/v1/status")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "RuntimeError"}}


async def test_an_oversized_request_head_is_refused() -> None:
    async with status_server() as url:
        long_path = await request("GET", f"{url}/{'a' * 9000}")
        long_header = await request("GET", f"{url}/v1/status", headers={"x-pad": "b" * 9000})
        huge = await request("GET", f"{url}/v1/status", headers={"x-pad": "b" * 200_000})
        after = await request("GET", f"{url}/v1/status")
    assert error(long_path) == error(long_header) == (431, "request_too_large")
    assert huge.status_code == 431, "refused by the HTTP parser before the app sees it"
    assert after.status_code == 200, "the server keeps serving"


async def test_stopping_answers_the_request_in_flight_then_closes_the_port() -> None:
    entered = trio.Event()

    async def slow(path: str) -> tuple[int, dict[str, Any]]:
        entered.set()
        await trio.sleep(0.2)
        return 200, {"path": path}

    answers: list[httpx.Response] = []
    with trio.fail_after(WAIT):
        async with trio.open_nursery() as clients:
            async with status_server(slow) as url:

                async def ask() -> None:
                    answers.append(await request("GET", f"{url}/v1/status"))

                clients.start_soon(ask)
                await entered.wait()
                stopping_at = trio.current_time()
            stopped_after = trio.current_time() - stopping_at
        with pytest.raises(httpx.ConnectError):
            await request("GET", f"{url}/v1/status")
    assert [(a.status_code, a.json()) for a in answers] == [(200, {"path": "/v1/status"})]
    assert stopped_after < SHUTDOWN_SECONDS + 0.5


async def test_http2_data_after_the_answer_does_not_stop_the_server() -> None:
    """A client sends body data on an HTTP/2 stream already answered: Hypercorn's worker fails (a
    `KeyError`, pgjones/hypercorn#329), `serve_status` restarts it on the same port."""
    async with status_server() as url:
        port = int(url.rsplit(":", 1)[1])
        with trio.fail_after(WAIT):
            stream = await trio.open_tcp_stream("127.0.0.1", port)
            async with stream:
                client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
                client.initiate_connection()
                headers = [(":method", "POST"), (":path", "/v1/status"), (":scheme", "http")]
                client.send_headers(1, [*headers, (":authority", "x")])
                await stream.send_all(client.data_to_send())
                answered = False
                while not answered:
                    events = client.receive_data(await stream.receive_some(65536))
                    answered = any(isinstance(event, h2.events.StreamEnded) for event in events)
                    await stream.send_all(client.data_to_send())
                client.send_data(1, b"late body", end_stream=True)
                await stream.send_all(client.data_to_send())
                while await stream.receive_some(65536):  # the server drops this connection
                    pass
        after = await request("GET", f"{url}/v1/status")
    assert after.status_code == 200 and after.json() == STATUS
