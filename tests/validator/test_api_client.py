"""The sequencer's HTTP client: errors a user sees when the node is wrong, gone or misaddressed."""

from __future__ import annotations

import socket

import pytest

from tests.busy_node import serve_busy_node
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


def test_a_busy_node_is_posted_to_again_after_its_retry_after() -> None:
    waits: list[tuple[str, float]] = []
    with serve_busy_node(busy=2, retry_after="0") as (url, handler):
        status = NodeApiClient(url).post_blob(
            b"blob", busy_timeout=30, on_busy=lambda e, s: waits.append((e.code, s))
        )
    assert status["status"] == "received" and status["busy_retries"] == 2
    assert waits == [("too_many_requests", 0.0), ("too_many_requests", 0.0)]
    assert handler.posts == [b"blob"] * 3  # the same bytes each time


def test_a_busy_node_past_the_busy_timeout_raises_without_waiting() -> None:
    with serve_busy_node(busy=5, retry_after="30") as (url, handler), pytest.raises(ApiFailure) as caught:
        NodeApiClient(url).post_blob(b"blob", busy_timeout=10)
    assert caught.value.code == "too_many_requests" and caught.value.retry_after == 30.0
    assert len(handler.posts) == 1  # a 30 s wait would pass the 10 s budget: no sleep, no second post
