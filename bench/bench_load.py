"""Load benchmark: what a validator holds after sequencers and readers have used it.

Starts a devnet on 127.0.0.1 in a temporary directory and measures:

- RSS and store bytes (node.sqlite with its WAL) per validator at start and after `--mib` x 1 MiB
  blobs posted to validator 0 and certified (scale `--mib` to the machine: 16 on 2 cores);
- reconstruction latency of `GET /v1/blobs/{root}/data` on a quorum member that was not posted to:
  cold (rebuilt from custodians) and cached (the node's recovered-blob cache), and how many
  reconstructions the node counted for `--readers` concurrent reads of one fresh blob;
- HTTP connection churn: connections/s opened, served (`GET /v1/health`, `Connection: close`) and
  closed back to back, with the node's open file descriptors before and after;
- an idle flood: `--idle` idle connections held open against validator 0 (past its connection cap),
  the health latency of a fresh client meanwhile, and the node's open descriptors under the flood;
- a post flood (fair admission): a greedy client posting raw blobs in a loop from 127.0.0.2 on
  `GREEDY_THREADS` connections, never waiting, while an honest one posts `--flood-posts` blobs from
  127.0.0.1 honouring Retry-After: the honest post-to-202 latency, unloaded and under the flood, and
  what the greedy one got (`--flood-only` measures this alone).

Figures, not pass/fail. Run with `make bench` or directly.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import socket
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from da.types import DataRoot
from validator.api_client import NodeApiClient
from validator.custody import compute_member_custody
from validator.devnet import Devnet
from validator.quorums import compute_quorums
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch, QuorumIndex, ValidatorIndex

MIB = 1024 * 1024
BUSY_TIMEOUT_S = 600.0
CERTIFY_TIMEOUT_S = 300.0
SETTLE_S = 5.0
FLOOD_BLOB_BYTES = 256 * 1024
"""The honest client's blobs in the post flood."""
GREEDY_BLOB_BYTES = MIB
"""The greedy client's: each costs the node seconds of encoding, so its posts outrun the encoder."""
GREEDY_THREADS = 4
HONEST_TIMEOUT_S = 60.0
"""How long the honest client tries one post before it gives up on it (and counts it)."""


def _store_bytes(devnet: Devnet, index: int) -> int:
    return sum(path.stat().st_size for path in (devnet.directory / f"node-{index}").glob("node.sqlite*"))


def _resources(devnet: Devnet, validators: int) -> dict[str, float]:
    """Median and largest RSS and store size over the validators, in MiB."""
    pids = devnet.load_state()["pids"]
    rss = [psutil.Process(int(pid)).memory_info().rss / MIB for pid in pids.values()]
    store = [_store_bytes(devnet, index) / MIB for index in range(validators)]
    return {
        "rss_median_mib": round(statistics.median(rss), 1),
        "rss_max_mib": round(max(rss), 1),
        "store_median_mib": round(statistics.median(store), 1),
        "store_max_mib": round(max(store), 1),
    }


def _member_not_posted_to(devnet: Devnet, status: dict[str, Any]) -> int:
    """A member of the blob's quorum other than validator 0 (it holds custody, not the bytes)."""
    root = bytes.fromhex(status["data_root"][2:])
    with SqliteRegistry(devnet.registry_path) as registry:
        context = registry.get_epoch_context(Epoch(status["epoch"]))
        quorum = compute_quorums(context, registry.preset)[QuorumIndex(status["quorum"])]
        members = compute_member_custody(quorum, DataRoot(root), registry.preset)
    return next(int(member) for member in sorted(members) if member != ValidatorIndex(0))


def _metric(url: str, name: str) -> float:
    text = NodeApiClient(url).request("GET", "/metrics").decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise SystemExit(f"{url} exports no {name}")


def _timed_get(client: NodeApiClient, root: str) -> float:
    started = time.perf_counter()
    client.get_data(root, timeout=120.0)
    return time.perf_counter() - started


def _reconstruction(devnet: Devnet, urls: dict[int, str], blobs: int, readers: int) -> dict[str, Any]:
    """Cold and cached read latency on a member not posted to; reconstructions for concurrent reads."""
    poster = NodeApiClient(urls[0])
    cold: list[float] = []
    cached: list[float] = []
    for _ in range(blobs):
        status = poster.post_blob(secrets.token_bytes(MIB), BUSY_TIMEOUT_S)
        status = poster.wait_for_certificate(status["data_root"], CERTIFY_TIMEOUT_S)
        reader = NodeApiClient(urls[_member_not_posted_to(devnet, status)])
        cold.append(_timed_get(reader, status["data_root"]))
        cached.append(_timed_get(reader, status["data_root"]))
    status = poster.post_blob(secrets.token_bytes(MIB), BUSY_TIMEOUT_S)
    status = poster.wait_for_certificate(status["data_root"], CERTIFY_TIMEOUT_S)
    url = urls[_member_not_posted_to(devnet, status)]
    before = _metric(url, "tessera_blob_reconstructions_total")
    started = time.perf_counter()
    with ThreadPoolExecutor(readers) as pool:
        list(
            pool.map(
                lambda _: NodeApiClient(url).get_data(status["data_root"], timeout=120.0), range(readers)
            )
        )
    return {
        "cold_median_s": round(statistics.median(cold), 3),
        "cached_median_s": round(statistics.median(cached), 4),
        "concurrent_readers": readers,
        "concurrent_all_answered_s": round(time.perf_counter() - started, 3),
        "reconstructions_for_concurrent_readers": int(
            _metric(url, "tessera_blob_reconstructions_total") - before
        ),
    }


def _churn(url: str, pid: int, seconds: float, workers: int) -> dict[str, Any]:
    """Connections opened, served and closed back to back by `workers` threads for `seconds`."""
    host, port = url.removeprefix("http://").split(":")
    fds_before = psutil.Process(pid).num_fds()
    deadline = time.monotonic() + seconds

    def loop() -> int:
        done = 0
        while time.monotonic() < deadline:
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.request("GET", "/v1/health", headers={"Connection": "close"})
            if connection.getresponse().status != 200:
                raise SystemExit("health did not answer 200")
            connection.close()
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        total = sum(pool.map(lambda _: loop(), range(workers)))
    elapsed = time.perf_counter() - started
    time.sleep(1.0)
    return {
        "connections_per_s": round(total / elapsed, 1),
        "connections": total,
        "fds_before": fds_before,
        "fds_after": psutil.Process(pid).num_fds(),
    }


def _idle_flood(url: str, pid: int, count: int) -> dict[str, Any]:
    """`count` idle connections held open; a fresh client's health latency meanwhile."""
    host, port = url.removeprefix("http://").split(":")
    fds_before = psutil.Process(pid).num_fds()
    displaced = _metric(url, "tessera_api_connections_displaced_total")
    sockets = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection((host, int(port)), timeout=10))
        time.sleep(1.0)
        fds_flooded = psutil.Process(pid).num_fds()
        latencies = []
        for _ in range(5):
            started = time.perf_counter()
            connection = http.client.HTTPConnection(host, int(port), timeout=10)
            connection.request("GET", "/v1/health")
            status = connection.getresponse().status
            connection.close()
            if status != 200:
                raise SystemExit(f"health answered {status} under the flood")
            latencies.append(time.perf_counter() - started)
    finally:
        for sock in sockets:
            sock.close()
    return {
        "displaced": int(_metric(url, "tessera_api_connections_displaced_total") - displaced),
        "idle_connections": count,
        "fds_before": fds_before,
        "fds_flooded": fds_flooded,
        "health_median_ms": round(statistics.median(latencies) * 1000, 1),
        "health_max_ms": round(max(latencies) * 1000, 1),
    }


def _post_from(url: str, source: str, body: bytes) -> tuple[int, int | None]:
    """POST raw `body` from the local address `source`: (status, Retry-After); status 0 when the
    node closed the connection before the answer (a refused body cut off after lingering)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    try:
        connection.request(
            "POST", "/v1/blobs", body=body, headers={"Content-Type": "application/octet-stream"}
        )
        response = connection.getresponse()
        response.read()
    except ConnectionError:
        return 0, None
    finally:
        connection.close()
    retry_after = response.getheader("Retry-After")
    return response.status, None if retry_after is None else int(retry_after)


def _honest_posts(url: str, posts: int) -> tuple[list[float], int, int]:
    """Seconds from each honest post's first try to its 202 (or to giving up after
    `HONEST_TIMEOUT_S`), sleeping each Retry-After; the refusals (429) met; the posts given up."""
    latencies, refusals, given_up = [], 0, 0
    for _ in range(posts):
        body = secrets.token_bytes(FLOOD_BLOB_BYTES)
        started = time.perf_counter()
        while True:
            status, retry_after = _post_from(url, "127.0.0.1", body)
            if status == 202:
                break
            refusals += 1
            if time.perf_counter() - started > HONEST_TIMEOUT_S:
                given_up += 1
                break
            time.sleep(retry_after or 1)
        latencies.append(time.perf_counter() - started)
    return latencies, refusals, given_up


def _post_flood(url: str, posts: int) -> dict[str, Any]:
    """Honest post latency unloaded, then under a greedy flood from another address."""
    unloaded, _, _ = _honest_posts(url, posts)
    stop = time.monotonic() + 3600.0
    counts = {"accepted": 0, "refused": 0, "cut": 0}
    retry_afters: list[int] = []

    def greedy() -> None:
        while time.monotonic() < stop:
            status, retry_after = _post_from(url, "127.0.0.2", secrets.token_bytes(GREEDY_BLOB_BYTES))
            if status == 202:
                counts["accepted"] += 1
            elif status == 429:
                counts["refused"] += 1
                retry_afters.append(retry_after or 0)
            else:
                counts["cut"] += 1

    with ThreadPoolExecutor(GREEDY_THREADS) as pool:
        for _ in range(GREEDY_THREADS):
            pool.submit(greedy)
        time.sleep(SETTLE_S)  # the flood fills the queue first
        try:
            flooded, honest_refusals, given_up = _honest_posts(url, posts)
        finally:
            stop = time.monotonic()
    return {
        "honest_posts": posts,
        "blob_bytes": FLOOD_BLOB_BYTES,
        "greedy_blob_bytes": GREEDY_BLOB_BYTES,
        "unloaded_median_s": round(statistics.median(unloaded), 2),
        "unloaded_max_s": round(max(unloaded), 2),
        "flooded_median_s": round(statistics.median(flooded), 2),
        "flooded_max_s": round(max(flooded), 2),
        "honest_refusals_flooded": honest_refusals,
        "honest_given_up_flooded": given_up,
        "greedy": counts,
        "greedy_retry_after_median_s": statistics.median(retry_afters) if retry_afters else None,
        "refused_by_reason": {
            reason: int(_metric_labelled(url, "tessera_admission_refused_total", "reason", reason))
            for reason in ("account_share", "queue_full", "memory_share", "memory_full")
        },
    }


def _metric_labelled(url: str, name: str, label: str, value: str) -> float:
    """One labelled sample of the node's /metrics (0 when absent)."""
    text = NodeApiClient(url).request("GET", "/metrics").decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get(label) == value:
                return float(sample.value)
    return 0.0


def _print_flood(flood: dict[str, Any]) -> None:
    print(
        f"  post flood (greedy 127.0.0.2 x {GREEDY_THREADS} vs honest 127.0.0.1, "
        f"raw blobs of {flood['greedy_blob_bytes'] // 1024} / {flood['blob_bytes'] // 1024} KiB): honest "
        f"post-to-202 median "
        f"{flood['unloaded_median_s']} s (max {flood['unloaded_max_s']}) unloaded, "
        f"{flood['flooded_median_s']} s (max {flood['flooded_max_s']}, "
        f"{flood['honest_refusals_flooded']} refusals, {flood['honest_given_up_flooded']} given up "
        f"after {HONEST_TIMEOUT_S:g} s) under the flood; greedy "
        f"{flood['greedy']}, its median Retry-After {flood['greedy_retry_after_median_s']} s; "
        f"refusals by reason {flood['refused_by_reason']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--validators", type=int, default=8)
    parser.add_argument("--mib", type=int, default=16, help="1 MiB blobs posted and certified (default 16)")
    parser.add_argument("--blobs", type=int, default=3, help="blobs read cold then cached (default 3)")
    parser.add_argument("--readers", type=int, default=6, help="concurrent reads of one blob (default 6)")
    parser.add_argument("--churn-s", type=float, default=5.0, help="seconds of connection churn (default 5)")
    parser.add_argument("--idle", type=int, default=1000, help="idle connections in the flood (default 1000)")
    parser.add_argument(
        "--flood-posts", type=int, default=6, help="honest posts in the post flood (default 6)"
    )
    parser.add_argument("--flood-only", action="store_true", help="measure the post flood alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devnet = Devnet(Path(tempfile.mkdtemp(prefix="tessera-bench-load-")))
    devnet.create(args.validators, 3600.0)
    figures: dict[str, Any] = {"validators": args.validators, "posted_mib": args.mib}
    try:
        for index in range(args.validators):
            devnet.start_node(index)
        urls = devnet.wait_until_connected(list(range(args.validators)))
        time.sleep(SETTLE_S)
        if args.flood_only:
            figures["post_flood"] = _post_flood(urls[0], args.flood_posts)
            return _report_flood(figures, args.json)
        figures["at_start"] = _resources(devnet, args.validators)
        poster = NodeApiClient(urls[0])
        started = time.perf_counter()
        roots = [
            poster.post_blob(secrets.token_bytes(MIB), BUSY_TIMEOUT_S)["data_root"] for _ in range(args.mib)
        ]
        statuses = [poster.wait_for_certificate(root, CERTIFY_TIMEOUT_S)["status"] for root in roots]
        figures["certified"] = statuses.count("certified")
        figures["post_and_certify_s"] = round(time.perf_counter() - started, 1)
        time.sleep(SETTLE_S)
        figures["after_posts"] = _resources(devnet, args.validators)
        figures["reconstruction"] = _reconstruction(devnet, urls, args.blobs, args.readers)
        pid = int(devnet.load_state()["pids"]["0"])
        figures["churn"] = _churn(urls[0], pid, args.churn_s, 4)
        figures["idle_flood"] = _idle_flood(urls[0], pid, args.idle)
        figures["post_flood"] = _post_flood(urls[0], args.flood_posts)
    finally:
        devnet.stop_all()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    start, after = figures["at_start"], figures["after_posts"]
    rebuild, churn, flood = figures["reconstruction"], figures["churn"], figures["idle_flood"]
    print(f"Devnet of {args.validators} validators on 127.0.0.1")
    print(
        f"  at start: RSS median {start['rss_median_mib']} MiB (max {start['rss_max_mib']}), "
        f"store median {start['store_median_mib']} MiB (max {start['store_max_mib']})"
    )
    print(
        f"  after {args.mib} x 1 MiB certified ({figures['certified']} of {args.mib}, "
        f"{figures['post_and_certify_s']} s): RSS median {after['rss_median_mib']} MiB "
        f"(max {after['rss_max_mib']}), store median {after['store_median_mib']} MiB "
        f"(max {after['store_max_mib']})"
    )
    print(
        f"  GET .../data on a member not posted to (1 MiB): cold {rebuild['cold_median_s']} s, "
        f"cached {rebuild['cached_median_s']} s; {rebuild['concurrent_readers']} concurrent readers: "
        f"{rebuild['reconstructions_for_concurrent_readers']} reconstruction(s), all answered in "
        f"{rebuild['concurrent_all_answered_s']} s"
    )
    print(
        f"  connection churn: {churn['connections_per_s']} connections/s ({churn['connections']}), "
        f"node fds {churn['fds_before']} -> {churn['fds_after']}"
    )
    print(
        f"  idle flood of {flood['idle_connections']}: node fds {flood['fds_before']} -> "
        f"{flood['fds_flooded']} ({flood['displaced']} idle connections displaced at the cap), "
        f"health median {flood['health_median_ms']} ms (max {flood['health_max_ms']} ms)"
    )
    _print_flood(figures["post_flood"])


def _report_flood(figures: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Devnet of {figures['validators']} validators on 127.0.0.1")
    _print_flood(figures["post_flood"])


if __name__ == "__main__":
    main()
