"""Network benchmark: samples/s over one libp2p connection, and the HTTP -> bridge -> libp2p round trip.

Figures, not pass/fail. Both hosts run in this process on 127.0.0.1 (one trio loop, so both ends share
one core and the GIL), over one Noise + Yamux connection. For batches of 1, 16 and 128 samples it
reports the median over several rounds of: the raw transfer (request, answer, decode) and the same
with the requester's batched KZG check (`fetch_verified_samples`). Then it starts two hosts behind
trio bridges and an aiohttp API on the first, and times `POST /v1/node/ping` (HTTP -> asyncio ->
bridge -> libp2p ping to the second host -> back): median and p95, beside the bare bridge call and
the bare libp2p ping. Run with `python bench/bench_network.py` (`--help` for options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence

import aiohttp
import structlog
import trio

from da import CellCoordinate, ColumnIndex, RowIndex, encode_blob
from da.constants import USABLE_BYTES_PER_ROW
from da.kzg import PRECOMPUTE_FOR_PROVING, load_ckzg_backend
from da.types import DataRoot, Sample
from network.bridge import TrioBridge
from network.sample_fetch import fetch_verified_samples
from network.server import ServerPorts
from network.service import NetworkService, open_services
from network.types import PeerName
from validator.daemon.api import BridgedNode, build_app, start_api

BATCHES = (1, 16, 128)


class BlobStore:
    """`SampleStore` over one encoded blob."""

    def __init__(self, blob: object) -> None:
        self.blob = blob

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        return [self.blob.get_sample(c) for c in coordinates]  # type: ignore[attr-defined]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _rate(request: Callable[[], Awaitable[object]], batch: int, requests: int, rounds: int) -> float:
    """Median samples/s over `rounds` rounds of `requests` sequential requests of `batch` samples."""
    await request()  # warm-up: identify, caches
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(requests):
            await request()
        rates.append(batch * requests / (time.perf_counter() - started))
    return statistics.median(rates)


async def bench_samples(rounds: int, requests: int) -> dict[str, dict[int, float]]:
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    blob = encode_blob(random.Random(1).randbytes(USABLE_BYTES_PER_ROW * 2), kzg)
    coordinates = [
        CellCoordinate(RowIndex(r), ColumnIndex(c)) for c in range(128) for r in range(len(blob.rows))
    ]
    random.Random(2).shuffle(coordinates)
    server = NetworkService(ports=ServerPorts(samples=BlobStore(blob)))
    client = NetworkService()
    figures: dict[str, dict[int, float]] = {"transfer": {}, "verified": {}}
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        for batch in BATCHES:
            picks = coordinates[:batch]

            async def transfer(picks: list[CellCoordinate] = picks) -> object:
                return await client.request_samples(peer, blob.data_root, picks)

            async def verified(picks: list[CellCoordinate] = picks) -> object:
                return await fetch_verified_samples(
                    client.request_samples, peer, blob.data_root, picks, kzg, client.guard
                )

            figures["transfer"][batch] = await _rate(transfer, batch, requests, rounds)
            figures["verified"][batch] = await _rate(verified, batch, requests, rounds)
    return figures


async def bench_http(pings: int) -> dict[str, float]:
    first, second = TrioBridge(NetworkService()), TrioBridge(NetworkService())
    await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))
    server = None
    try:
        other = second.call_sync(lambda: second.service.peer_id)
        await first.call(first.service.connect, second.call_sync(lambda: second.service.listen_addrs[0]))
        server = await start_api(build_app(BridgedNode(first)))

        async def nothing() -> None:
            return None

        async def bare_ping(peer: PeerName = other) -> float:
            return await first.service.ping(peer)

        bridge_calls, libp2p_pings, http_round_trips = [], [], []
        for _ in range(pings):
            started = time.perf_counter()
            await first.call(nothing)
            bridge_calls.append(time.perf_counter() - started)
            libp2p_pings.append(await first.call(bare_ping))
        async with aiohttp.ClientSession(server.url) as http:
            for _ in range(pings + 5):
                started = time.perf_counter()
                async with http.post("/v1/node/ping", json={"peer_id": other}) as response:
                    response.raise_for_status()
                    await response.json()
                http_round_trips.append(time.perf_counter() - started)
        http_round_trips = http_round_trips[5:]  # warm-up: connection pool, first ping stream
    finally:
        if server is not None:
            await server.close()
        await asyncio.gather(asyncio.to_thread(first.stop), asyncio.to_thread(second.stop))
    ms = 1000.0
    return {
        "http_bridge_libp2p_median_ms": statistics.median(http_round_trips) * ms,
        "http_bridge_libp2p_p95_ms": _percentile(http_round_trips, 0.95) * ms,
        "bridge_call_median_ms": statistics.median(bridge_calls) * ms,
        "libp2p_ping_median_ms": statistics.median(libp2p_pings) * ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds per batch size; the median is reported")
    parser.add_argument("--requests", type=int, default=20, help="sequential requests per round")
    parser.add_argument("--pings", type=int, default=200, help="HTTP round trips timed")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    samples = trio.run(bench_samples, args.rounds, args.requests)
    http = asyncio.run(bench_http(args.pings))
    if args.json:
        print(json.dumps({"samples_per_second": samples, "http": http}, indent=2))
        return
    print(f"samples/s over one connection (median of {args.rounds} rounds x {args.requests} requests)")
    print(f"{'batch':>6} {'transfer':>12} {'verified':>12}")
    for batch in BATCHES:
        print(f"{batch:>6} {samples['transfer'][batch]:>12,.0f} {samples['verified'][batch]:>12,.0f}")
    median, p95 = http["http_bridge_libp2p_median_ms"], http["http_bridge_libp2p_p95_ms"]
    print(f"HTTP -> bridge -> libp2p ping round trip ({args.pings} requests)")
    print(f"  median {median:.2f} ms, p95 {p95:.2f} ms")
    bridge, ping = http["bridge_call_median_ms"], http["libp2p_ping_median_ms"]
    print(f"  of which: bridge call {bridge:.3f} ms, libp2p ping {ping:.2f} ms (medians)")


if __name__ == "__main__":
    main()
