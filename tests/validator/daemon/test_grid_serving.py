"""A real node serves its custody over the whole 2D grid on `/tessera/samples/2`: a sequencer posts a
blob to a one-validator network (it encodes, takes custody of its own columns, certifies), then a
libp2p client asks it for every grid row (0..2R-1) of a custody column and of a column it only
encoded, and verifies the cells against the header it fetched over `/tessera/header/2`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import trio

from da import CkzgBackend, EncodedBlob
from da.grid import compute_extended_blob
from da.types import CellCoordinate, ColumnIndex, GridSample, RowIndex
from network.config import NetworkConfig
from network.sample_fetch import fetch_verified_grid_samples
from network.service import NetworkService, open_services
from network.types import VerifiedGridSamples
from tests.validator.daemon.live_node import LiveNode, live_node
from validator.daemon.api import ApiConfig, ApiServer, build_app, start_api
from validator.daemon.store import BlobStatus

pytestmark = pytest.mark.anyio

CERTIFIED_TIMEOUT_S = 60.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def node(tmp_path: Path, kzg: CkzgBackend) -> Iterator[LiveNode]:
    with live_node(tmp_path, kzg) as running:
        yield running


@pytest.fixture
async def server(node: LiveNode) -> AsyncIterator[ApiServer]:
    api = await start_api(build_app(node.api, ApiConfig(max_request_bytes=1 << 20)))
    try:
        yield api
    finally:
        await api.close()


async def test_a_node_serves_every_grid_row_of_its_custody_and_of_what_it_encoded(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    root = encoded.data_root
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.post("/v1/blobs", data=data, headers={"Content-Type": "application/octet-stream"}) as answer,
    ):
        assert answer.status == 202, await answer.text()
    deadline = time.monotonic() + CERTIFIED_TIMEOUT_S
    while (record := node.store.get_blob(root)) is None or record.status is not BlobStatus.CERTIFIED:
        assert time.monotonic() < deadline, f"not certified in {CERTIFIED_TIMEOUT_S} s: {record}"
        await asyncio.sleep(0.1)
    custody = sorted({c.column for c in node.store.custody_coordinates(root)})
    assert custody, "the only validator holds custody"
    other = next(ColumnIndex(c) for c in range(128) if c not in custody)
    # The custody column's extended cells are in the store, derived when it took custody.
    stored = node.store.get_grid_samples(root, [CellCoordinate(RowIndex(r), custody[0]) for r in range(4)])
    assert all(isinstance(s, GridSample) for s in stored)
    wanted = [CellCoordinate(RowIndex(r), column) for column in (custody[0], other) for r in range(4)]
    identity = await node.api.identity()

    async def fetch() -> VerifiedGridSamples:
        client = NetworkService(NetworkConfig())
        async with open_services([client]):
            peer = await client.connect(identity.listen_addrs[0])
            header = await client.request_header(peer, root)
            assert header == encoded.header
            return await fetch_verified_grid_samples(
                client.request_grid_samples, peer, root, header, wanted, kzg, client.guard
            )

    requests = node.metrics.sample_requests._value.get()
    result = await asyncio.to_thread(trio.run, fetch)
    assert result.missing == () and result.invalid == ()
    assert node.metrics.sample_requests._value.get() == requests + 1  # one request, counted once
    assert list(result.samples) == compute_extended_blob(encoded).get_samples(wanted)
