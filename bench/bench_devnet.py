"""Devnet benchmark: blob -> certificate latency (128 KiB, 1 MiB, 2 MiB), a sequencer's burst, sustained
throughput against this machine's encoding bound, memory.

Starts an 8-validator devnet on 127.0.0.1 in a temporary directory, posts blobs to validator 0 over
HTTP (honouring 429 + Retry-After as `das blob post` does) and waits for each certificate. Validator 0
encodes with one worker process per core (`--aggregator-encoders`); the others encode nothing and run
with a thread. The encoding bound is cores x the bare serial ckzg loop's MiB/s, measured in this run.
Figures, not pass/fail. Run with `make bench` or directly.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from da import encode_blob
from da.kzg import PRECOMPUTE_FOR_PROVING, load_ckzg_backend
from validator.api_client import NodeApiClient
from validator.devnet import Devnet

BUSY_TIMEOUT_S = 600.0

SIZES = {"128KiB": 128 * 1024, "1MiB": 1024 * 1024, "2MiB": 2 * 1024 * 1024}


def _post_and_wait(api: str, data: bytes) -> float:
    started = time.perf_counter()
    node = NodeApiClient(api)
    status = node.wait_for_certificate(node.post_blob(data, BUSY_TIMEOUT_S)["data_root"], 120.0)
    if status["status"] != "certified":
        raise SystemExit(f"blob not certified: {status}")
    return time.perf_counter() - started


def _serial_encode_mib_s(repeats: int = 3) -> float:
    """MiB/s of the bare serial ckzg encoding loop in this process (1 MiB blobs, best of `repeats`)."""
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    data = secrets.token_bytes(1024 * 1024)
    best = min(_timed(lambda: encode_blob(data, kzg)) for _ in range(repeats))
    return 1.0 / best


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _burst(api: str, count: int) -> dict[str, object]:
    """`count` distinct 1 MiB blobs posted back to back; time to the last certificate, refusals."""
    node = NodeApiClient(api)
    blobs = [secrets.token_bytes(1024 * 1024) for _ in range(count)]
    started = time.perf_counter()
    posted = [node.post_blob(blob, BUSY_TIMEOUT_S) for blob in blobs]
    posting_s = time.perf_counter() - started
    deadline = started + BUSY_TIMEOUT_S
    certified = sum(
        node.wait_for_certificate(p["data_root"], max(deadline - time.perf_counter(), 1.0))["status"]
        == "certified"
        for p in posted
    )
    elapsed = time.perf_counter() - started
    return {
        "certified": f"{certified}/{count}",
        "last_certificate_s": round(elapsed, 2),
        "posting_s": round(posting_s, 2),
        "refused_posts": sum(int(p["busy_retries"]) for p in posted),
        "mib_s": round(certified / elapsed, 3),
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--validators", type=int, default=8)
    parser.add_argument("--posts", type=int, default=10, help="posts per size (default 10)")
    parser.add_argument(
        "--sustained", type=int, default=10, help="1 MiB blobs posted back to back (default 10)"
    )
    parser.add_argument(
        "--aggregator-encoders",
        type=int,
        default=os.cpu_count() or 1,
        help="encoder processes of validator 0, which every blob is posted to (default: one per core)",
    )
    parser.add_argument("--burst", type=int, default=12, help="1 MiB blobs in the burst (default 12)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devnet = Devnet(Path(tempfile.mkdtemp(prefix="tessera-bench-")))
    devnet.create(args.validators, 3600.0)
    figures: dict[str, object] = {"validators": args.validators, "posts_per_size": args.posts}
    try:
        started = time.perf_counter()
        for index in range(args.validators):
            devnet.start_node(index, args.aggregator_encoders if index == 0 else 0)
        urls = devnet.wait_until_connected(list(range(args.validators)))
        figures["devnet_up_s"] = round(time.perf_counter() - started, 1)
        api = urls[0]
        for name, size in SIZES.items():
            runs = [_post_and_wait(api, secrets.token_bytes(size)) for _ in range(args.posts)]
            figures[name] = {
                "median_s": round(statistics.median(runs), 3),
                "p95_s": round(_percentile(runs, 0.95), 3),
            }
        figures["burst"] = _burst(api, args.burst)
        sustained = _burst(api, args.sustained)
        figures["sustained_mib_s"] = sustained["mib_s"]
        figures["sustained_certified"] = sustained["certified"]
        rss = [psutil.Process(pid).memory_info().rss for pid in devnet.load_state()["pids"].values()]
        figures["peak_rss_mib_per_validator"] = round(max(rss) / 2**20, 1)
        figures["median_rss_mib_per_validator"] = round(statistics.median(rss) / 2**20, 1)
    finally:
        devnet.stop_all()
    cores = os.cpu_count() or 1
    serial = _serial_encode_mib_s()
    figures["serial_encode_mib_s"] = round(serial, 3)
    figures["encoding_bound_mib_s"] = round(cores * serial, 3)
    figures["sustained_vs_bound"] = round(float(figures["sustained_mib_s"]) / (cores * serial), 2)  # type: ignore[arg-type]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Devnet of {args.validators} validators on 127.0.0.1, up in {figures['devnet_up_s']} s")
    for name in SIZES:
        row = figures[name]
        print(f"  {name:<7} blob -> certificate  median {row['median_s']:.3f} s  p95 {row['p95_s']:.3f} s")  # type: ignore[index]
    burst = figures["burst"]
    print(
        f"  burst: {burst['certified']} x 1 MiB certified, last certificate after "  # type: ignore[index]
        f"{burst['last_certificate_s']} s ({burst['refused_posts']} posts refused with 429 first)"  # type: ignore[index]
    )
    print(
        f"  sustained: {figures['sustained_mib_s']} MiB/s certified "
        f"({figures['sustained_certified']} of 1 MiB blobs posted back to back); encoding bound "
        f"{figures['encoding_bound_mib_s']} MiB/s ({cores} cores x {figures['serial_encode_mib_s']} serial): "
        f"{figures['sustained_vs_bound']} of it"
    )
    print(
        f"  memory: peak RSS {figures['peak_rss_mib_per_validator']} MiB per validator "
        f"(median {figures['median_rss_mib_per_validator']} MiB)"
    )


if __name__ == "__main__":
    main()
