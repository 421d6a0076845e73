"""Devnet benchmark: blob -> certificate latency (128 KiB, 1 MiB, 2 MiB), sustained throughput, memory.

Starts an 8-validator devnet on 127.0.0.1 in a temporary directory, posts blobs to validator 0 over
HTTP and waits for each certificate. Figures, not pass/fail. Run with `make bench` or directly.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from validator.api_client import NodeApiClient
from validator.devnet import Devnet

SIZES = {"128KiB": 128 * 1024, "1MiB": 1024 * 1024, "2MiB": 2 * 1024 * 1024}


def _post_and_wait(api: str, data: bytes) -> float:
    started = time.perf_counter()
    node = NodeApiClient(api)
    status = node.wait_for_certificate(node.post_blob(data)["data_root"], 120.0)
    if status["status"] != "certified":
        raise SystemExit(f"blob not certified: {status}")
    return time.perf_counter() - started


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
    parser.add_argument("--encoder-workers", type=int, default=0, help="encoder processes per validator")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devnet = Devnet(Path(tempfile.mkdtemp(prefix="tessera-bench-")))
    devnet.create(args.validators, 3600.0)
    figures: dict[str, object] = {"validators": args.validators, "posts_per_size": args.posts}
    try:
        started = time.perf_counter()
        for index in range(args.validators):
            devnet.start_node(index, args.encoder_workers)
        urls = devnet.wait_until_connected(list(range(args.validators)))
        figures["devnet_up_s"] = round(time.perf_counter() - started, 1)
        api = urls[0]
        for name, size in SIZES.items():
            runs = [_post_and_wait(api, secrets.token_bytes(size)) for _ in range(args.posts)]
            figures[name] = {
                "median_s": round(statistics.median(runs), 3),
                "p95_s": round(_percentile(runs, 0.95), 3),
            }
        blobs = [secrets.token_bytes(1024 * 1024) for _ in range(args.sustained)]
        started = time.perf_counter()
        node = NodeApiClient(api)
        roots = [node.post_blob(blob)["data_root"] for blob in blobs]
        deadline = started + 240.0
        certified = sum(
            node.wait_for_certificate(root, max(deadline - time.perf_counter(), 1.0))["status"] == "certified"
            for root in roots
        )
        elapsed = time.perf_counter() - started
        figures["sustained_mib_s"] = round(certified / elapsed, 3)
        figures["sustained_certified"] = f"{certified}/{args.sustained}"
        rss = [psutil.Process(pid).memory_info().rss for pid in devnet.load_state()["pids"].values()]
        figures["peak_rss_mib_per_validator"] = round(max(rss) / 2**20, 1)
        figures["median_rss_mib_per_validator"] = round(statistics.median(rss) / 2**20, 1)
    finally:
        devnet.stop_all()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Devnet of {args.validators} validators on 127.0.0.1, up in {figures['devnet_up_s']} s")
    for name in SIZES:
        row = figures[name]
        print(f"  {name:<7} blob -> certificate  median {row['median_s']:.3f} s  p95 {row['p95_s']:.3f} s")  # type: ignore[index]
    print(
        f"  sustained: {figures['sustained_mib_s']} MiB/s certified "
        f"({figures['sustained_certified']} of 1 MiB blobs posted back to back)"
    )
    print(
        f"  memory: peak RSS {figures['peak_rss_mib_per_validator']} MiB per validator "
        f"(median {figures['median_rss_mib_per_validator']} MiB)"
    )


if __name__ == "__main__":
    main()
