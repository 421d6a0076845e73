"""The sequencer's HTTP client: errors a user sees when the node is wrong, gone or misaddressed."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from validator.api_client import NodeApiClient
from validator.errors import ApiFailure


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(ApiFailure, match="is not an http") as caught:
        NodeApiClient("ftp://127.0.0.1:1")
    assert caught.value.code == "invalid_argument"


def test_a_node_that_is_not_there_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nobody listens on (bound, then closed)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ApiFailure, match="cannot reach") as caught:
        NodeApiClient(f"http://127.0.0.1:{port}", timeout=5.0).get_status("0x" + "00" * 32)
    assert caught.value.code == "unreachable"


class _BusyNode(http.server.BaseHTTPRequestHandler):
    """Answers POST /v1/blobs with 429 + Retry-After `retry_after` `busy` times, then 200."""

    busy = 0
    retry_after = "0"
    posts: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append(body)
        if len(type(self).posts) <= type(self).busy:
            payload = json.dumps({"error": {"code": "too_many_requests", "message": "queue full"}}).encode()
            self.send_response(429)
            self.send_header("Retry-After", type(self).retry_after)
        else:
            payload = json.dumps({"data_root": "0x" + "11" * 32, "status": "received"}).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def busy_node() -> Iterator[tuple[str, type[_BusyNode]]]:
    handler = type("Handler", (_BusyNode,), {"posts": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


def test_a_busy_node_is_posted_to_again_after_its_retry_after(busy_node) -> None:
    url, handler = busy_node
    handler.busy, handler.retry_after = 2, "0"
    waits: list[tuple[str, float]] = []
    status = NodeApiClient(url).post_blob(
        b"blob", busy_timeout=30, on_busy=lambda e, s: waits.append((e.code, s))
    )
    assert status["status"] == "received" and status["busy_retries"] == 2
    assert waits == [("too_many_requests", 0.0), ("too_many_requests", 0.0)]
    assert handler.posts == [b"blob"] * 3  # the same bytes each time


def test_a_busy_node_past_the_busy_timeout_raises_without_waiting(busy_node) -> None:
    url, handler = busy_node
    handler.busy, handler.retry_after = 5, "30"
    with pytest.raises(ApiFailure) as caught:
        NodeApiClient(url).post_blob(b"blob", busy_timeout=10)
    assert caught.value.code == "too_many_requests" and caught.value.retry_after == 30.0
    assert len(handler.posts) == 1  # a 30 s wait would pass the 10 s budget: no sleep, no second post
