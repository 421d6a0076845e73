"""Fair admission against a real node and its real HTTP API in this process: a greedy client that
posts raw blobs in a loop from 127.0.0.2 (ignoring every Retry-After, on several connections at
once) and an honest sequencer that posts from 127.0.0.1 and honours Retry-After. Every honest post is
accepted (202) within `HONEST_POST_BOUND_S` of its first try; the greedy one is refused with 429 and
a Retry-After. Linux routes all of 127/8 on loopback, so the two clients are two accounts (two
addresses) on one machine."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from da import CkzgBackend, encode_blob
from da.constants import USABLE_BYTES_PER_ROW
from da.pool import EncoderPool
from tests.validator.daemon.live_node import LiveNode, live_node
from validator.daemon.admission import AdmissionPolicy
from validator.daemon.api import ApiConfig, ApiServer, build_app, start_api

pytestmark = pytest.mark.anyio

CAPACITY = 4
"""The node's raw-post queue (`max_queued_blobs`): small, so the flood fills it at once."""
GREEDY_CONNECTIONS = 3
"""Greedy loops posting at once, each on its own connection: a freed place is taken within
milliseconds, so on a first-come queue the honest client (which sleeps its Retry-After) never wins."""
HONEST_POSTS = 4
HONEST_POST_BOUND_S = 20.0
"""Each honest post, from its first try to its 202 (Retry-After waits included). A one-row blob
encodes in about 0.4 s on the encoder worker here; under fair admission an honest post waits for
at most the blob being encoded and its own previous one, plus a Retry-After of whole seconds."""
OCTETS = {"Content-Type": "application/octet-stream"}
BLOB_BYTES = USABLE_BYTES_PER_ROW - 1000


@pytest.fixture
def anyio_backend() -> str:
    """The HTTP side is aiohttp's (asyncio); the node runs in its own trio thread."""
    return "asyncio"


@pytest.fixture
def node(tmp_path: Path, kzg: CkzgBackend) -> Iterator[LiveNode]:
    admission = AdmissionPolicy(max_queued=CAPACITY)
    with (
        EncoderPool(workers=1) as pool,  # as the daemon encodes: off this process's GIL
        live_node(tmp_path, kzg, pool, max_dispersing=1024, admission=admission) as running,
    ):
        yield running


@pytest.fixture
async def server(node: LiveNode) -> AsyncIterator[ApiServer]:
    api = await start_api(build_app(node.api, ApiConfig(max_request_bytes=BLOB_BYTES + 64 * 1024)))
    try:
        yield api
    finally:
        await api.close()


@dataclass
class Greedy:
    """What the flood got: its accepted posts, its refusals and their Retry-After values."""

    accepted: int = 0
    retry_afters: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)


async def _flood(url: str, seed: int, greedy: Greedy, stop: asyncio.Event) -> None:
    """Post new one-row blobs from 127.0.0.2 back to back until `stop`, never waiting."""
    rng = random.Random(seed)
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0), limit=1)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        while not stop.is_set():
            async with http.post("/v1/blobs", data=rng.randbytes(BLOB_BYTES), headers=OCTETS) as answer:
                await answer.read()
                if answer.status == 202:
                    greedy.accepted += 1
                elif answer.status == 429:
                    greedy.retry_afters.append(int(answer.headers["Retry-After"]))
                else:
                    greedy.other.append(answer.status)
            await asyncio.sleep(0.002)


async def _honest_post(http: aiohttp.ClientSession, data: bytes) -> tuple[float, int]:
    """Post `data` until it is accepted, sleeping each Retry-After: (seconds it took, refusals met);
    gives up after `HONEST_POST_BOUND_S` (the seconds returned then exceed it)."""
    started = time.monotonic()
    refusals = 0
    while time.monotonic() - started <= HONEST_POST_BOUND_S:
        async with http.post("/v1/blobs", data=data, headers=OCTETS) as answer:
            await answer.read()
            if answer.status == 202:
                return time.monotonic() - started, refusals
            assert answer.status == 429, answer.status
            refusals += 1
            await asyncio.sleep(int(answer.headers["Retry-After"]))
    return time.monotonic() - started, refusals


async def _post_from(
    url: str, address: str, data: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST `data` as raw bytes from the local `address` (with `headers` besides the media type):
    (status, headers, JSON answer)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with (
        aiohttp.ClientSession(url, connector=connector) as http,
        http.post("/v1/blobs", data=data, headers={**OCTETS, **(headers or {})}) as answer,
    ):
        return answer.status, dict(answer.headers), await answer.json()


async def _metric(server: ApiServer, name: str, labels: dict[str, str]) -> float:
    async with aiohttp.ClientSession(server.url) as http, http.get("/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def test_a_flooding_account_delays_only_itself(node: LiveNode, server: ApiServer) -> None:
    greedy, stop = Greedy(), asyncio.Event()
    floods = [
        asyncio.create_task(_flood(server.url, 100 + index, greedy, stop))
        for index in range(GREEDY_CONNECTIONS)
    ]
    try:
        deadline = time.monotonic() + 30
        while not greedy.retry_afters:  # the flood holds the queue: it is being refused
            assert time.monotonic() < deadline and not greedy.other, greedy
            assert all(not flood.done() for flood in floods), [f.exception() for f in floods if f.done()]
            await asyncio.sleep(0.05)
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.1", 0))
        rng = random.Random(31)
        waits: list[tuple[float, int]] = []
        async with aiohttp.ClientSession(server.url, connector=connector) as honest:
            for _ in range(HONEST_POSTS):
                waits.append(await _honest_post(honest, rng.randbytes(BLOB_BYTES)))
                if waits[-1][0] > HONEST_POST_BOUND_S:
                    break  # starved: no need to starve the next ones too
    finally:
        stop.set()
        await asyncio.gather(*floods)
    seen = f"honest (seconds, refusals) per post: {waits}; greedy: {greedy.accepted} accepted, "
    seen += f"{len(greedy.retry_afters)} refused"
    assert len(waits) == HONEST_POSTS and all(seconds <= HONEST_POST_BOUND_S for seconds, _ in waits), seen
    assert greedy.other == []
    assert greedy.retry_afters and min(greedy.retry_afters) >= 1
    assert greedy.accepted >= 1  # delayed, not shut out
    assert await _metric(server, "tessera_admission_refused_total", {"reason": "account_share"}) >= 1


async def test_an_account_holding_its_share_of_the_blobs_dispersing_is_refused_and_only_it(
    tmp_path: Path, kzg: CkzgBackend
) -> None:
    """Encoded blobs held while dispersing (`max_dispersing_blobs`) are shared too: an account whose
    blobs are slow to certify fills its share, and then only its own posts are refused."""
    rng = random.Random(77)
    with live_node(tmp_path, kzg, max_dispersing=4) as bounded:
        api = await start_api(build_app(bounded.api, ApiConfig(max_request_bytes=BLOB_BYTES + 64 * 1024)))
        try:
            for _ in range(3):  # three blobs of 127.0.0.2 still dispersing: a lone account's share of 4
                bounded.extensions.hold(encode_blob(rng.randbytes(1000), kzg).data_root, "ip:127.0.0.2")
            status, headers, answer = await _post_from(api.url, "127.0.0.2", rng.randbytes(BLOB_BYTES))
            assert status == 429 and int(headers["Retry-After"]) >= 1, answer
            assert "fair share" in answer["error"]["message"]
            # A forwarding header is the client's own words: it names no other account.
            forged = {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
            status, _, answer = await _post_from(api.url, "127.0.0.2", rng.randbytes(BLOB_BYTES), forged)
            assert status == 429, answer
            status, _, answer = await _post_from(api.url, "127.0.0.1", rng.randbytes(BLOB_BYTES))
            assert status == 202, answer
            assert await _metric(api, "tessera_admission_refused_total", {"reason": "memory_share"}) == 2
        finally:
            await api.close()
