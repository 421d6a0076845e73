"""Reassemble a blob from its custodians: fetch cells over libp2p, verify them, recover missing ones."""

from __future__ import annotations

from collections.abc import Sequence

import trio

from da import recover_blob
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW
from da.errors import NotEnoughCells
from da.types import BlobHeader, Cell, CellCoordinate, DataRoot, RowIndex
from network.errors import NetworkError
from network.messages import SamplesResponse
from network.sample_fetch import fetch_verified_samples
from network.service import NetworkService
from network.types import PeerName
from validator.custody import compute_member_custody
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver
from validator.daemon.peer_book import PeerBook
from validator.daemon.sends import Sends
from validator.types import Epoch, QuorumIndex

MAX_BATCH = 128
FETCH_TIMEOUT_SECONDS = 10.0


class BlobRetrieval:
    """Rebuilds blobs this node holds custody of (or took) from its own cells and its quorum's."""

    def __init__(
        self, context: NodeContext, driver: CoreDriver, peers: PeerBook, service: NetworkService, sends: Sends
    ) -> None:
        self._context = context
        self._driver = driver
        self._peers = peers
        self._service = service
        self._sends = sends

    async def reassemble_blob(
        self, data_root: DataRoot, header: BlobHeader, epoch: Epoch, quorum_index: QuorumIndex
    ) -> bytes:
        """The blob's bytes from this node's custody and its quorum peers'; raises `NotEnoughCells`."""
        context = self._context
        quorum = await self._driver.get_quorum(epoch, quorum_index)
        cells: dict[CellCoordinate, Cell] = {}
        own = await trio.to_thread.run_sync(context.store.custody_coordinates, data_root)
        for sample in await trio.to_thread.run_sync(context.store.get_samples, data_root, own):
            if sample is not None:
                cells[sample.coordinate] = sample.cell
        if quorum is not None and not _complete(cells, header):
            custody = compute_member_custody(quorum, data_root, context.preset)
            async with trio.open_nursery() as nursery:
                for member, columns in custody.items():
                    peer = self._peers.known_peer_of(member)
                    if member == context.me or peer is None:
                        continue
                    wanted = [
                        CellCoordinate(RowIndex(r), c)
                        for c in sorted(columns)
                        for r in range(header.row_count)
                    ]
                    nursery.start_soon(self._fetch_member, peer, data_root, wanted, cells)
        if not _complete(cells, header):
            counts = {row: sum(1 for c in cells if c.row == row) for row in range(header.row_count)}
            raise NotEnoughCells(
                {r: n for r, n in counts.items() if n < CELLS_NEEDED_TO_RECOVER_ROW},
                CELLS_NEEDED_TO_RECOVER_ROW,
            )
        if context.pool is not None:
            return await trio.to_thread.run_sync(context.pool.recover_blob, header, cells)
        return await trio.to_thread.run_sync(recover_blob, header, cells, context.kzg)

    async def _fetch_member(
        self,
        peer: PeerName,
        data_root: DataRoot,
        wanted: list[CellCoordinate],
        cells: dict[CellCoordinate, Cell],
    ) -> None:
        """Fetch one member's custody cells in batches (`network.sample_fetch`, the one path); keep
        those that verify (a bad cell costs only itself, never its batch; the peer that served it is
        charged), skip a failing member."""

        async def request(peer: PeerName, root: DataRoot, batch: Sequence[CellCoordinate]) -> SamplesResponse:
            async with self._sends.outbound_limiter(peer):
                with trio.fail_after(FETCH_TIMEOUT_SECONDS):
                    return await self._service.request_samples(peer, root, batch)

        for start in range(0, len(wanted), MAX_BATCH):
            batch = [c for c in wanted[start : start + MAX_BATCH] if c not in cells]
            if not batch:
                continue
            try:
                fetched = await fetch_verified_samples(
                    request, peer, data_root, batch, self._context.kzg, self._service.guard
                )
            except (NetworkError, trio.TooSlowError):
                return
            for sample in fetched.samples:
                cells[sample.coordinate] = sample.cell


def _complete(cells: dict[CellCoordinate, Cell], header: BlobHeader) -> bool:
    counts = [0] * header.row_count
    for coordinate in cells:
        counts[coordinate.row] += 1
    return all(count >= CELLS_NEEDED_TO_RECOVER_ROW for count in counts)
