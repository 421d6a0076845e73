"""`/tessera/samples/2` between real hosts on 127.0.0.1: cells of the 2D grid (rows 0..2R-1) served
from a real extended blob, verified by the requester against the header it fetched over
`/tessera/header/2`; version 3 (original rows with their branches) answers on the same host."""

from __future__ import annotations

import random

import pytest

from da import CkzgBackend, EncodedBlob
from da.grid import ExtendedBlob, compute_extended_blob
from da.types import BlobHeader, CellCoordinate, ColumnIndex, RowIndex
from network.constants import PROTOCOL_GRID_SAMPLES, PROTOCOL_HEADER, PROTOCOL_SAMPLES
from network.sample_fetch import fetch_verified_grid_samples, fetch_verified_samples
from network.server import ServerPorts
from network.service import NetworkService, open_services
from tests.network.conftest import FAST, DictGridStore, wait_for_identify

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def grid(two_row_blob: tuple[bytes, EncodedBlob]) -> ExtendedBlob:
    return compute_extended_blob(two_row_blob[1])


def _grid_picks(seed: int, rows: int, count: int) -> list[CellCoordinate]:
    picks = random.Random(seed).sample(range(rows * 128), count)
    return [CellCoordinate(RowIndex(i // 128), ColumnIndex(i % 128)) for i in picks]


async def test_grid_cells_of_every_row_verify_against_the_fetched_header(
    kzg: CkzgBackend, grid: ExtendedBlob
) -> None:
    store = DictGridStore(grid)
    server = NetworkService(FAST, ServerPorts(samples=store, grid_samples=store, headers=store))
    client = NetworkService(FAST)
    # Rows 0..3 are the grid (R = 2); rows 4 and 5 are past it and not held.
    coordinates = _grid_picks(2, 6, 100)
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        offered = set(await wait_for_identify(client, peer))
        assert {PROTOCOL_SAMPLES, PROTOCOL_GRID_SAMPLES, PROTOCOL_HEADER} <= offered
        # The 64-row protocols' ids are gone: a node from before the 512-row tree cannot negotiate
        # them and misread these bytes (specs/p2p-interface.md, Notes).
        assert not {"/tessera/samples/1", "/tessera/header/1", "/tessera/custody/1"} & offered
        header = await client.request_header(peer, grid.blob.data_root)
        assert isinstance(header, BlobHeader)
        result = await fetch_verified_grid_samples(
            client.request_grid_samples, peer, grid.blob.data_root, header, coordinates, kzg, client.guard
        )
        # Branch samples (version 3) of the original rows from the same host.
        old = await fetch_verified_samples(
            client.request_samples, peer, grid.blob.data_root, coordinates[:10], kzg, client.guard
        )
    in_grid = [x for x in coordinates if x.row < 4]
    assert any(x.row >= 2 for x in in_grid), "the draw reaches the extended rows"
    assert [s.coordinate for s in result.samples] == in_grid
    assert result.samples == tuple(grid.get_samples(in_grid))
    assert list(result.missing) == [x for x in coordinates if x.row >= 4]
    assert result.invalid == ()
    assert store.grid_calls == 1, "one stream, one store call"
    assert [s.coordinate for s in old.samples] == [x for x in coordinates[:10] if x.row < 2]
    assert client.guard.score(peer) > 0


async def test_a_bad_extended_cell_is_invalid_alone_and_bans_its_server(
    kzg: CkzgBackend, grid: ExtendedBlob
) -> None:
    coordinates = _grid_picks(3, 4, 40)
    bad = next(x for x in coordinates if x.row >= 2)
    store = DictGridStore(grid, tamper=frozenset({bad}))
    server = NetworkService(FAST, ServerPorts(grid_samples=store, headers=store))
    client = NetworkService(FAST)
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        header = await client.request_header(peer, grid.blob.data_root)
        assert header is not None
        result = await fetch_verified_grid_samples(
            client.request_grid_samples, peer, grid.blob.data_root, header, coordinates, kzg, client.guard
        )
        banned = client.guard.is_banned(peer)
    assert result.invalid == (bad,)
    assert len(result.samples) == len(coordinates) - 1
    assert banned
