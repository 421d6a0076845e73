"""The status server: JSON answers, and bounded handling of requests that are not plain GETs."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio

from sampling.client.status_http import encode_response, parse_request_line, serve_status

pytestmark = pytest.mark.anyio


async def route(path: str) -> tuple[int, dict[str, Any]]:
    if path == "/v1/status":
        return 200, {"ok": True}
    if path == "/boom":
        raise RuntimeError("route failed")
    return 404, {"error": {"code": "not_found", "message": path}}


async def exchange(port: int, request: bytes) -> tuple[int, dict[str, Any]]:
    with trio.fail_after(10):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(request)
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert "Content-Type: application/json" in lines and f"Content-Length: {len(body)}" in lines
    return int(lines[0].split()[1]), json.loads(body)


async def test_routes_errors_and_limits() -> None:
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(serve_status, route, "127.0.0.1", 0)
        assert await exchange(port, b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n") == (200, {"ok": True})
        assert (await exchange(port, b"GET /v1/status?x=1 HTTP/1.0\r\n\r\n"))[0] == 200
        status, body = await exchange(port, b"GET /nope HTTP/1.1\r\n\r\n")
        assert status == 404 and body["error"]["code"] == "not_found"
        status, body = await exchange(port, b"POST /v1/status HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        assert status == 405 and body["error"]["code"] == "method_not_allowed"
        assert (await exchange(port, b"hello there\r\n\r\n"))[0] == 400
        status, body = await exchange(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
        assert status == 431 and body["error"]["code"] == "request_too_large"
        status, body = await exchange(port, b"GET /boom HTTP/1.1\r\n\r\n")
        assert status == 500 and body == {"error": {"code": "internal_error", "message": "RuntimeError"}}
        nursery.cancel_scope.cancel()


def test_request_line_parsing() -> None:
    assert parse_request_line(b"GET /a?b HTTP/1.1\r\nHost: x") == ("GET", "/a")
    assert parse_request_line(b"GET a HTTP/1.1") is None
    assert parse_request_line(b"GET /a SPDY/3") is None
    assert encode_response(200, {}).startswith(b"HTTP/1.1 200 OK\r\n")
