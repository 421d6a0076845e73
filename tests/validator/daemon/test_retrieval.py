"""Blob retrieval's bounds, in real trio tasks over real recoveries (ckzg, from half of a blob's cells):
concurrent readers of one blob share one reconstruction, a finished one is served from a cache bounded
in bytes, a new one past the cap is refused with a time to retry, a failure reaches every reader and
is not cached, and retrieval's per-peer limiter holds no entry once its requests are done."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import structlog
import trio
import trio.testing

from da import EncodedBlob, recover_blob
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from da.errors import NotEnoughCells
from da.kzg import CkzgBackend
from da.recovery import recover_row_bytes
from da.types import Cell, CellCoordinate, ColumnIndex, DataRoot, RowBytes, RowIndex
from network.errors import ServiceNotRunning
from network.types import PeerName
from validator.daemon.config import InvalidDaemonConfig, RetrievalConfig
from validator.daemon.metrics import NodeMetrics
from validator.daemon.retrieval import (
    Reconstructions,
    RecoveredBlobs,
    RetrievalLimiter,
    reassemble_in_windows,
)
from validator.daemon.store import NodeStore
from validator.errors import RetrievalBusy
from validator.types import Epoch, QuorumIndex

WAIT_S = 30.0


def _half_the_cells(encoded: EncodedBlob) -> dict[CellCoordinate, Cell]:
    """The odd columns of every row: exactly what recovery needs, none of the original half."""
    return {
        CellCoordinate(RowIndex(r), ColumnIndex(c)): row.cells[c]
        for r, row in enumerate(encoded.rows)
        for c in range(1, 2 * CELLS_NEEDED_TO_RECOVER_ROW, 2)
    }


def _sample(metrics: NodeMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def test_n_concurrent_readers_of_one_blob_share_one_reconstruction_then_the_cache(
    kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    cells = _half_the_cells(encoded)
    metrics = NodeMetrics()
    rebuilds = 0

    async def rebuild() -> bytes:
        nonlocal rebuilds
        rebuilds += 1
        return await trio.to_thread.run_sync(recover_blob, encoded.header, cells, kzg)

    async def main() -> list[bytes]:
        reconstructions = Reconstructions(RetrievalConfig(max_reconstructions=1), metrics)
        got: list[bytes] = []

        async def read() -> None:
            got.append(await reconstructions.get(encoded.data_root, rebuild))

        with trio.fail_after(WAIT_S):
            async with trio.open_nursery() as nursery:
                await nursery.start(reconstructions.run)
                async with trio.open_nursery() as readers:
                    for _ in range(8):  # more readers than the cap: they wait on the one flight
                        readers.start_soon(read)
                await read()  # after it finished: from the cache
                assert reconstructions.running == 0
                nursery.cancel_scope.cancel()
        return got

    got = trio.run(main)
    assert got == [data] * 9
    assert rebuilds == 1
    assert _sample(metrics, "tessera_blob_reconstructions_total") == 1
    assert _sample(metrics, "tessera_retrieval_cache_hits_total") == 1
    assert _sample(metrics, "tessera_retrieval_cache_bytes") == len(data)


def test_past_the_cap_another_blob_is_refused_and_a_failure_reaches_every_reader_uncached(
    kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, encoded = one_row_blob
    metrics = NodeMetrics()
    other = DataRoot(b"\x01" * 32)

    async def main() -> None:
        reconstructions = Reconstructions(RetrievalConfig(max_reconstructions=1), metrics)
        release = trio.Event()
        attempts = 0

        async def short_of_cells() -> bytes:
            nonlocal attempts
            attempts += 1
            await release.wait()
            few = dict(list(_half_the_cells(encoded).items())[:10])
            return await trio.to_thread.run_sync(recover_blob, encoded.header, few, kzg)

        failures: list[BaseException] = []

        async def read() -> None:
            try:
                await reconstructions.get(encoded.data_root, short_of_cells)
            except NotEnoughCells as error:
                failures.append(error)

        with trio.fail_after(WAIT_S):
            async with trio.open_nursery() as nursery:
                await nursery.start(reconstructions.run)
                async with trio.open_nursery() as readers:
                    readers.start_soon(read)
                    readers.start_soon(read)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(RetrievalBusy) as busy:
                        await reconstructions.get(other, short_of_cells)
                    assert busy.value.retry_after >= 1
                    release.set()
                assert len(failures) == 2
                # Not cached: the next read rebuilds again (and may succeed then).
                await read()
                assert attempts == 2
                nursery.cancel_scope.cancel()

    trio.run(main)
    assert _sample(metrics, "tessera_retrieval_refused_total") == 1
    assert _sample(metrics, "tessera_blob_reconstructions_total") == 2


def test_the_cache_holds_at_most_its_bytes_least_recently_used_out_first() -> None:
    cache = RecoveredBlobs(max_bytes=100)
    roots = [DataRoot(bytes([i]) * 32) for i in range(4)]
    cache.put(roots[0], b"a" * 40)
    cache.put(roots[1], b"b" * 40)
    assert cache.get(roots[0]) == b"a" * 40  # now the most recently used
    cache.put(roots[2], b"c" * 40)  # 120 > 100: the least recently used (roots[1]) goes
    assert cache.get(roots[1]) is None
    assert (cache.size_bytes, len(cache)) == (80, 2)
    cache.put(roots[3], b"d" * 101)  # larger than the whole cache: not held, nothing dropped
    assert (cache.size_bytes, len(cache), cache.get(roots[3])) == (80, 2, None)


def test_the_retrieval_limiter_serializes_a_peer_and_forgets_it_when_done() -> None:
    limiter = RetrievalLimiter(per_peer=1)
    peer = PeerName("12D3KooWGvPd4MXDxBgZM2ZCqYDMJ4oETHuNTCUdTbh77cnGPpWu")
    inside = 0
    most = 0

    async def request() -> None:
        nonlocal inside, most
        async with limiter.slot(peer):
            inside += 1
            most = max(most, inside)
            await trio.sleep(0.01)
            inside -= 1

    async def main() -> None:
        with trio.fail_after(WAIT_S):
            async with trio.open_nursery() as nursery:
                for _ in range(5):
                    nursery.start_soon(request)
                await trio.testing.wait_all_tasks_blocked()
                assert len(limiter) == 1

    trio.run(main)
    assert most == 1
    assert len(limiter) == 0


@pytest.mark.parametrize(
    ("config", "field"),
    [
        (RetrievalConfig(cache_bytes=-1), "retrieval_cache_bytes"),
        (RetrievalConfig(max_reconstructions=0), "max_reconstructions"),
    ],
)
def test_a_bad_retrieval_bound_is_named(config: RetrievalConfig, field: str) -> None:
    with pytest.raises(InvalidDaemonConfig) as raised:
        config.validate()
    assert raised.value.field == field


def test_a_reader_waiting_when_retrieval_stops_is_told_the_node_is_stopping() -> None:
    metrics = NodeMetrics()
    root = DataRoot(b"\x02" * 32)

    async def never() -> bytes:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def main() -> None:
        reconstructions = Reconstructions(RetrievalConfig(), metrics)
        outcome: list[BaseException] = []

        async def read() -> None:
            try:
                await reconstructions.get(root, never)
            except ServiceNotRunning as error:
                outcome.append(error)

        with trio.fail_after(WAIT_S):
            async with trio.open_nursery() as readers, trio.open_nursery() as retrieval:
                await retrieval.start(reconstructions.run)
                readers.start_soon(read)
                await trio.testing.wait_all_tasks_blocked()
                assert reconstructions.running == 1
                retrieval.cancel_scope.cancel()
        assert len(outcome) == 1
        assert reconstructions.running == 0

    trio.run(main)


def _custodian(path: Path, encoded: EncodedBlob, columns: range, rows: range) -> NodeStore:
    """A custodian's real store holding `columns` of `rows` (as its custody pushes left them)."""
    store = NodeStore(path)
    coordinates = [CellCoordinate(RowIndex(r), ColumnIndex(c)) for r in rows for c in columns]
    store.put_custody(
        encoded.header, encoded.data_root, Epoch(1), QuorumIndex(0), encoded.get_samples(coordinates)
    )
    return store


def _reassemble(encoded: EncodedBlob, stores: list[NodeStore], kzg: CkzgBackend, asked: list[range]) -> bytes:
    """`reassemble_in_windows` over the custodians' stores (the odd columns only: every row needs a
    recovery) with a window of one row; `asked` records the rows of each gather and its cell count."""
    header, root = encoded.header, encoded.data_root

    async def gather(rows: range) -> dict[CellCoordinate, Cell]:
        wanted = [CellCoordinate(RowIndex(r), ColumnIndex(c)) for r in rows for c in range(CELLS_PER_ROW)]
        cells: dict[CellCoordinate, Cell] = {}
        for store in stores:
            for sample in await trio.to_thread.run_sync(store.get_samples, root, wanted):
                if sample is not None:
                    cells[sample.coordinate] = sample.cell
        asked.append(rows)
        return cells

    async def recover(rows: Sequence[tuple[RowIndex, dict[ColumnIndex, Cell]]]) -> list[RowBytes]:
        return [recover_row_bytes(kzg, row, cells) for row, cells in rows]

    async def main() -> bytes:
        with trio.fail_after(WAIT_S):
            return await reassemble_in_windows(header, 1, gather, recover, root)

    return trio.run(main)


def test_a_blob_spread_over_custodians_is_rebuilt_one_row_window_at_a_time(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    both = range(2)
    stores = [
        _custodian(tmp_path / "a.sqlite", encoded, range(1, 64, 2), both),
        _custodian(tmp_path / "b.sqlite", encoded, range(65, 128, 2), both),
    ]
    asked: list[range] = []
    with structlog.testing.capture_logs() as logs:
        assert _reassemble(encoded, stores, kzg, asked) == data
    assert asked == [range(0, 1), range(1, 2)], "one row window at a time, in order"
    windows = [
        (e["first_row"], e["rows"], e["cells"]) for e in logs if e["event"] == "retrieval window recovered"
    ]
    assert windows == [(0, 1, 64), (1, 1, 64)], "each window held its own row's cells only"
    for store in stores:
        store.close()


def test_a_window_that_cannot_be_rebuilt_names_its_rows(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, encoded = two_row_blob
    stores = [
        _custodian(tmp_path / "a.sqlite", encoded, range(1, 64, 2), range(2)),
        _custodian(tmp_path / "b.sqlite", encoded, range(65, 128, 2), range(1)),  # row 1: 32 cells only
    ]
    asked: list[range] = []
    with pytest.raises(NotEnoughCells) as short:
        _reassemble(encoded, stores, kzg, asked)
    assert short.value.received == {1: 32}
    assert asked == [range(0, 1), range(1, 2)]
    for store in stores:
        store.close()
