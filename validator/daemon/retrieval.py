"""Reassemble a blob from its custodians: fetch cells over libp2p, verify them, recover missing ones;
bounded on every side a reader of `GET /v1/blobs/{root}/data` could push on.

- **Cache.** Recovered blobs are kept in `RecoveredBlobs`, a least-recently-used map bounded in bytes
  (`RetrievalConfig.cache_bytes`), so a blob read again is served from memory.
- **Single flight.** Concurrent reads of one blob share one reconstruction (`Reconstructions`): the
  first starts it as a task of the retrieval's own nursery (a reader that hangs up cancels only its
  wait), the others wait for its result.
- **Cap.** At most `RetrievalConfig.max_reconstructions` run at once; a read of another blob past it
  is refused with `RetrievalBusy` (HTTP 429, Retry-After from the recent reconstruction times).
- **Windows.** A blob is rebuilt `RetrievalConfig.window_rows` rows at a time (`reassemble_in_windows`):
  fetch the window's cells, recover its rows, unpack them onto the bytes so far, drop the cells. A
  reconstruction holds the blob's bytes and one window of cells.
- **Own outbound limit.** Retrieval's requests to a peer pass `RetrievalLimiter`, one at a time per
  peer, apart from `Sends`' limiter: they never queue ahead of custody pushes, attestations or
  sampling, and with `Sends` at half of a peer's inbound limit (4) there is always room left for both.
"""

from __future__ import annotations

import collections
import math
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
import trio

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW
from da.errors import NotEnoughCells
from da.packing import BlobUnpacker
from da.recovery import recover_row_bytes
from da.types import BlobHeader, Cell, CellCoordinate, ColumnIndex, DataRoot, RowBytes, RowIndex
from network.errors import NetworkError, ServiceNotRunning
from network.messages import SamplesResponse
from network.sample_fetch import fetch_verified_samples
from network.service import NetworkService
from network.types import PeerName
from validator.custody import compute_member_custody
from validator.daemon.config import RetrievalConfig
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.errors import RetrievalBusy
from validator.types import Epoch, QuorumIndex

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

MAX_BATCH = 128
FETCH_TIMEOUT_SECONDS = 10.0
REQUESTS_PER_PEER = 1
"""Retrieval's requests in flight to one peer (`Sends` keeps its own, half the peer's inbound limit)."""
DURATIONS_KEPT = 8
MAX_RETRY_AFTER_S = 30


class RecoveredBlobs:
    """Recovered blobs, least recently used first, holding at most `max_bytes` of blob bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._blobs: collections.OrderedDict[DataRoot, bytes] = collections.OrderedDict()
        self.size_bytes = 0

    def __len__(self) -> int:
        return len(self._blobs)

    def get(self, data_root: DataRoot) -> bytes | None:
        """The blob's bytes if held (it becomes the most recently used)."""
        data = self._blobs.get(data_root)
        if data is not None:
            self._blobs.move_to_end(data_root)
        return data

    def put(self, data_root: DataRoot, data: bytes) -> None:
        """Hold `data`, dropping the least recently used blobs until it fits (a blob larger than the
        whole cache is not held)."""
        if len(data) > self.max_bytes or data_root in self._blobs:
            return
        while self.size_bytes + len(data) > self.max_bytes:
            _, dropped = self._blobs.popitem(last=False)
            self.size_bytes -= len(dropped)
        self._blobs[data_root] = data
        self.size_bytes += len(data)


@dataclass(slots=True)
class _Flight:
    done: trio.Event = field(default_factory=trio.Event)
    data: bytes | None = None
    error: Exception | None = None


Rebuild = Callable[[], Awaitable[bytes]]


class Reconstructions:
    """Owns the reconstructions in flight (at most `max_reconstructions`, one per blob, each a task of
    its own nursery) and the cache of their results."""

    def __init__(self, config: RetrievalConfig, metrics: NodeMetrics) -> None:
        self._config = config
        self._metrics = metrics
        self.cache = RecoveredBlobs(config.cache_bytes)
        self._flights: dict[DataRoot, _Flight] = {}
        self._durations: collections.deque[float] = collections.deque(maxlen=DURATIONS_KEPT)
        self._nursery: trio.Nursery | None = None

    @property
    def running(self) -> int:
        """Reconstructions in flight."""
        return len(self._flights)

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the reconstructions' tasks until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def get(self, data_root: DataRoot, rebuild: Rebuild) -> bytes:
        """The blob from the cache, else from the reconstruction of it in flight, else from a new one
        (`rebuild`); `RetrievalBusy` when a new one would pass the cap."""
        cached = self.cache.get(data_root)
        if cached is not None:
            self._metrics.retrieval_cache_hits.inc()
            return cached
        flight = self._flights.get(data_root)
        if flight is None:
            flight = self._start(data_root, rebuild)
        await flight.done.wait()
        if flight.error is not None:
            raise flight.error
        if flight.data is None:
            raise ServiceNotRunning("the reconstruction ended without a result")
        return flight.data

    def _start(self, data_root: DataRoot, rebuild: Rebuild) -> _Flight:
        if self._nursery is None:
            raise RuntimeError("retrieval is not running")
        if len(self._flights) >= self._config.max_reconstructions:
            mean = statistics.fmean(self._durations) if self._durations else 1.0
            retry_after = max(1, min(MAX_RETRY_AFTER_S, math.ceil(mean)))
            self._metrics.retrieval_refused.inc()
            log.info("blob read refused: reconstructions at the cap", running=len(self._flights))
            raise RetrievalBusy(len(self._flights), retry_after)
        flight = self._flights[data_root] = _Flight()
        self._nursery.start_soon(self._reconstruct, data_root, rebuild, flight)
        return flight

    async def _reconstruct(self, data_root: DataRoot, rebuild: Rebuild, flight: _Flight) -> None:
        started = time.perf_counter()
        self._metrics.reconstructions.inc()
        try:
            flight.data = await rebuild()
            self.cache.put(data_root, flight.data)
            self._metrics.retrieval_cache_bytes.set(self.cache.size_bytes)
        except Exception as error:  # noqa: BLE001 - handed to every reader waiting on this flight
            flight.error = error
            log.info("blob not rebuilt", data_root=data_root.hex(), error=str(error) or type(error).__name__)
        except trio.Cancelled:
            flight.error = ServiceNotRunning("the node is stopping: the blob was not rebuilt")
            raise
        finally:
            seconds = time.perf_counter() - started
            self._durations.append(seconds)
            self._metrics.reconstruction_seconds.observe(seconds)
            del self._flights[data_root]
            flight.done.set()


@dataclass(slots=True)
class _PeerSlot:
    limiter: trio.CapacityLimiter
    users: int = 0


class RetrievalLimiter:
    """Retrieval's own outbound limit: `per_peer` requests at a time to one peer. An entry exists only
    while a request to its peer is waiting or in flight, so the map never outgrows the fetches."""

    def __init__(self, per_peer: int = REQUESTS_PER_PEER) -> None:
        self._per_peer = per_peer
        self._slots: dict[PeerName, _PeerSlot] = {}

    def __len__(self) -> int:
        return len(self._slots)

    @asynccontextmanager
    async def slot(self, peer: PeerName) -> AsyncIterator[None]:
        """Hold one of `peer`'s slots for the block."""
        entry = self._slots.get(peer)
        if entry is None:
            entry = self._slots[peer] = _PeerSlot(trio.CapacityLimiter(self._per_peer))
        entry.users += 1
        try:
            async with entry.limiter:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._slots[peer]


class BlobRetrieval:
    """Rebuilds blobs this node holds custody of (or took) from its own cells and its quorum's,
    through the cache, the single flight and the cap of `Reconstructions`."""

    def __init__(
        self,
        context: NodeContext,
        driver: CoreDriver,
        peers: PeerBook,
        service: NetworkService,
        config: RetrievalConfig | None = None,
    ) -> None:
        self._context = context
        self._driver = driver
        self._peers = peers
        self._service = service
        config = (config or RetrievalConfig()).validate()
        self.reconstructions = Reconstructions(config, context.metrics)
        self._window_rows = config.window_rows
        self.limiter = RetrievalLimiter()

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Host the reconstructions until cancelled (a task of the node)."""
        await self.reconstructions.run(task_status=task_status)

    async def get_blob(
        self, data_root: DataRoot, header: BlobHeader, epoch: Epoch, quorum_index: QuorumIndex
    ) -> bytes:
        """The blob's bytes, cached or rebuilt once however many ask at once; raises `NotEnoughCells`
        when the quorum cannot serve enough cells, `RetrievalBusy` past the cap."""

        async def rebuild() -> bytes:
            return await self.reassemble_blob(data_root, header, epoch, quorum_index)

        return await self.reconstructions.get(data_root, rebuild)

    async def reassemble_blob(
        self, data_root: DataRoot, header: BlobHeader, epoch: Epoch, quorum_index: QuorumIndex
    ) -> bytes:
        """The blob's bytes from this node's custody and its quorum peers', a window of
        `window_rows` rows at a time (`reassemble_in_windows`); raises `NotEnoughCells`."""
        context = self._context
        quorum = await self._driver.get_quorum(epoch, quorum_index)
        own = await trio.to_thread.run_sync(context.store.custody_coordinates, data_root)
        members: list[tuple[PeerName, list[ColumnIndex]]] = []
        if quorum is not None:
            for member, columns in compute_member_custody(quorum, data_root, context.preset).items():
                peer = self._peers.known_peer_of(member)
                if member != context.me and peer is not None:
                    members.append((peer, sorted(columns)))

        async def gather(rows: range) -> dict[CellCoordinate, Cell]:
            cells: dict[CellCoordinate, Cell] = {}
            mine = [c for c in own if c.row in rows]
            for sample in await trio.to_thread.run_sync(context.store.get_samples, data_root, mine):
                if sample is not None:
                    cells[sample.coordinate] = sample.cell
            if members and not _complete(cells, rows):
                async with trio.open_nursery() as nursery:
                    for peer, columns in members:
                        wanted = [CellCoordinate(RowIndex(r), c) for c in columns for r in rows]
                        nursery.start_soon(self._fetch_member, peer, data_root, wanted, cells)
            return cells

        async def recover(rows: Sequence[tuple[RowIndex, dict[ColumnIndex, Cell]]]) -> list[RowBytes]:
            context.metrics.retrieval_windows.inc()
            if context.pool is not None:
                return await trio.to_thread.run_sync(context.pool.recover_rows, rows)
            return await trio.to_thread.run_sync(
                lambda: [recover_row_bytes(context.kzg, row, cells) for row, cells in rows]
            )

        return await reassemble_in_windows(header, self._window_rows, gather, recover, data_root)

    async def _fetch_member(
        self,
        peer: PeerName,
        data_root: DataRoot,
        wanted: list[CellCoordinate],
        cells: dict[CellCoordinate, Cell],
    ) -> None:
        """Fetch one member's custody cells in batches (`network.sample_fetch`, the one path), each
        request inside retrieval's own limit; keep those that verify (a bad cell costs only itself,
        never its batch; the peer that served it is charged), skip a failing member."""

        async def request(peer: PeerName, root: DataRoot, batch: Sequence[CellCoordinate]) -> SamplesResponse:
            async with self.limiter.slot(peer):
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


Gather = Callable[[range], Awaitable[dict[CellCoordinate, Cell]]]
"""Verified cells of the given rows (from custody and the quorum)."""
Recover = Callable[[Sequence[tuple[RowIndex, dict[ColumnIndex, Cell]]]], Awaitable[list[RowBytes]]]
"""Each row's packed bytes from at least 64 of its cells."""


async def reassemble_in_windows(
    header: BlobHeader, window_rows: int, gather: Gather, recover: Recover, data_root: DataRoot
) -> bytes:
    """The blob's bytes, `window_rows` rows at a time: gather the window's cells, recover its rows,
    unpack them onto the bytes so far (`BlobUnpacker`) and drop the cells before the next window, so
    a reconstruction holds the blob's bytes and one window of cells, never every cell. Raises
    `NotEnoughCells` naming the rows of the first window that cannot be rebuilt."""
    unpacker = BlobUnpacker(header.byte_length)
    for first in range(0, header.row_count, window_rows):
        rows = range(first, min(first + window_rows, header.row_count))
        cells = await gather(rows)
        by_row: dict[int, dict[ColumnIndex, Cell]] = {row: {} for row in rows}
        for coordinate, cell in cells.items():
            if coordinate.row in by_row:
                by_row[coordinate.row][coordinate.column] = cell
        held = len(cells)
        del cells
        short = {
            row: len(row_cells)
            for row, row_cells in by_row.items()
            if len(row_cells) < CELLS_NEEDED_TO_RECOVER_ROW
        }
        if short:
            raise NotEnoughCells(short, CELLS_NEEDED_TO_RECOVER_ROW)
        unpacker.add(await recover([(RowIndex(row), row_cells) for row, row_cells in by_row.items()]))
        log.debug(
            "retrieval window recovered",
            data_root=data_root.hex(),
            first_row=first,
            rows=len(rows),
            cells=held,
            row_count=header.row_count,
        )
    return unpacker.finish()


def _complete(cells: dict[CellCoordinate, Cell], rows: range) -> bool:
    counts = dict.fromkeys(rows, 0)
    for coordinate in cells:
        if coordinate.row in counts:
            counts[coordinate.row] += 1
    return all(count >= CELLS_NEEDED_TO_RECOVER_ROW for count in counts.values())
