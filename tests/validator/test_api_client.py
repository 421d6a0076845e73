"""The node API client, both faces: errors a user sees when the node is wrong, gone or misaddressed."""

from __future__ import annotations

import socket

import pytest

from da.header import compute_data_root, header_to_bytes
from da.types import BlobHeader, DataRoot, KZGCommitment
from tests.busy_node import serve_busy_node
from tests.node_api import node_api
from validator.api_client import MAX_SMALL_ANSWER_BYTES, AsyncNodeApiClient, NodeApiClient
from validator.errors import ApiFailure


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(ApiFailure, match="is not an http") as caught:
        NodeApiClient("ftp://127.0.0.1:1")
    assert caught.value.code == "invalid_argument"


def _free_port() -> int:
    with socket.socket() as probe:  # a port nobody listens on (bound, then closed)
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_node_that_is_not_there_is_unreachable() -> None:
    with pytest.raises(ApiFailure, match="cannot reach") as caught:
        NodeApiClient(f"http://127.0.0.1:{_free_port()}", timeout=5.0).get_status("0x" + "00" * 32)
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


@pytest.fixture
def anyio_backend() -> str:
    return "trio"  # the light client's loop


HEADER = BlobHeader(1000, 1, (KZGCommitment(bytes(48)),))
ROOT = compute_data_root(HEADER)
BASE = f"/v1/blobs/0x{ROOT.hex()}"


@pytest.mark.anyio
async def test_the_async_face_reads_a_header_and_a_certificate_and_none_for_a_404() -> None:
    with node_api({f"{BASE}/header": header_to_bytes(HEADER), f"{BASE}/certificate": b"cert"}) as url:
        async with AsyncNodeApiClient(url, timeout=5.0) as node:
            assert await node.get_header(ROOT) == HEADER
            assert await node.get_certificate(ROOT) == b"cert"
            assert await node.get_header(DataRoot(bytes(32))) is None


@pytest.mark.anyio
async def test_the_async_face_refuses_a_wrong_or_oversize_answer() -> None:
    other = header_to_bytes(BlobHeader(999, 1, HEADER.row_commitments))
    routes = {f"{BASE}/header": other, f"{BASE}/certificate": bytes(MAX_SMALL_ANSWER_BYTES + 1)}
    with node_api(routes) as url:
        async with AsyncNodeApiClient(url, timeout=5.0) as node:
            with pytest.raises(ApiFailure, match="does not hash to the data root") as wrong:
                await node.get_header(ROOT)
            with pytest.raises(ApiFailure, match="more than") as oversize:
                await node.get_certificate(ROOT)
    assert wrong.value.code == oversize.value.code == "invalid_answer"


@pytest.mark.anyio
async def test_the_async_face_says_unreachable_like_the_blocking_one() -> None:
    async with AsyncNodeApiClient(f"http://127.0.0.1:{_free_port()}", timeout=5.0) as node:
        with pytest.raises(ApiFailure, match="cannot reach") as caught:
            await node.get_certificate(ROOT)
    assert caught.value.code == "unreachable"
