"""Intake benchmark: sequencers encode, validators verify (issue 28). Figures, not pass/fail.

1. **Node work per MiB taken in** (this process, CPU seconds by `time.process_time`, interleaved,
   medians): a raw post costs the node its header (row commitments) and the FK20 encoding at
   precompute 8; a pre-encoded upload costs decoding and `validate_upload` at precompute 0 (cells
   without proofs, one batch). Ratio pre-encoded / raw; the issue's target is <= 0.15.
2. **On an 8-validator devnet** (unless `--no-devnet`): 1 MiB post -> certificate, median and p95,
   raw vs pre-encoded (the upload made beforehand; the sequencer's encoding time is given apart),
   with the CPU seconds that validator 0 (which takes every post; its encoder pool included) and the
   whole devnet spent per MiB; then sustained certified MiB/s with 1, 2 and 4 sequencer processes,
   each encoding on one core and posting to its own validator, beside this machine's encoding
   bound (cores x the serial FK20 loop). On one shared box the sequencers and the validators share
   the cores: the devnet figure that carries over to separate machines is the node CPU per MiB.

Run: `python bench/bench_intake.py [--posts N] [--sizes 1,2] [--no-devnet] [--json]`.
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from da import DAConfig, bytes_to_upload, compute_blob_header, encode_blob, validate_upload
from da.kzg import PRECOMPUTE_FOR_PROVING, PRECOMPUTE_FOR_VERIFYING, CkzgBackend, load_ckzg_backend
from da.sequencer import EncoderSettings, encode_upload
from da.upload import compute_upload, upload_to_bytes
from validator.api_client import NodeApiClient
from validator.devnet import Devnet

MIB = 1024 * 1024
BUSY_TIMEOUT_S = 600.0
CERTIFICATE_TIMEOUT_S = 180.0


def _cpu(action: Callable[[], object]) -> float:
    started = time.process_time()
    action()
    return time.process_time() - started


def _node_encodes(data: bytes, prover: CkzgBackend) -> None:
    """A raw post's work: the header first (the POST answers with it), then the encoding."""
    encode_blob(data, prover, commitments=compute_blob_header(data, prover).row_commitments)


def _node_verifies(body: bytes, verifier: CkzgBackend, config: DAConfig) -> None:
    """A pre-encoded upload's work: decode, then one batch over every cell."""
    validate_upload(bytes_to_upload(body, config), verifier, config)


def node_work_per_mib(sizes_mib: list[int], repeats: int) -> dict[str, Any]:
    """CPU seconds per MiB of the node's intake work, raw vs pre-encoded, per blob size."""
    prover = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    verifier = load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING)
    config = DAConfig()
    figures: dict[str, Any] = {}
    for size in sizes_mib:
        data = secrets.token_bytes(size * MIB - 64)  # within the 2 MiB limit at 2
        body = upload_to_bytes(compute_upload(data, encode_blob(data, prover)))
        raw_runs, encoded_runs = [], []
        for _ in range(repeats):  # interleaved, so drift on a shared box hits both alike
            raw_runs.append(_cpu(functools.partial(_node_encodes, data, prover)))
            encoded_runs.append(_cpu(functools.partial(_node_verifies, body, verifier, config)))
        raw, encoded = statistics.median(raw_runs) / size, statistics.median(encoded_runs) / size
        figures[f"{size}MiB"] = {
            "raw_cpu_s_per_mib": round(raw, 3),
            "pre_encoded_cpu_s_per_mib": round(encoded, 3),
            "ratio": round(encoded / raw, 3),
            "wire_bytes_ratio": round(len(body) / len(data), 3),
        }
    return figures


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children (a validator and its encoder workers)."""
    try:
        process = psutil.Process(pid)
        total = 0.0
        for member in [process, *process.children(recursive=True)]:
            times = member.cpu_times()
            total += times.user + times.system
        return total
    except psutil.NoSuchProcess:
        return 0.0


def _post_and_wait(api: str, body: bytes, encoded: bool) -> float:
    node = NodeApiClient(api)
    started = time.perf_counter()
    status = node.post_upload(body, BUSY_TIMEOUT_S) if encoded else node.post_blob(body, BUSY_TIMEOUT_S)
    status = node.wait_for_certificate(status["data_root"], CERTIFICATE_TIMEOUT_S)
    if status["status"] != "certified":
        raise SystemExit(f"blob not certified: {status}")
    return time.perf_counter() - started


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _sequencer(api: str, blobs: int, results: Any) -> None:
    """One sequencer process: encode on one core, post, wait for each certificate; MiB certified."""
    node = NodeApiClient(api)
    certified = 0
    for _ in range(blobs):
        body = encode_upload(secrets.token_bytes(MIB - 64), EncoderSettings(workers=1))
        status = node.post_upload(body, BUSY_TIMEOUT_S)
        if node.wait_for_certificate(status["data_root"], CERTIFICATE_TIMEOUT_S)["status"] == "certified":
            certified += 1
    results.put(certified)


def sustained(urls: dict[int, str], sequencers: int, blobs_each: int) -> dict[str, Any]:
    """Certified MiB/s with `sequencers` processes posting `blobs_each` 1 MiB blobs to validators 1..n."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    targets = [urls[1 + k % (len(urls) - 1)] for k in range(sequencers)]
    processes = [context.Process(target=_sequencer, args=(api, blobs_each, results)) for api in targets]
    started = time.perf_counter()
    for process in processes:
        process.start()
    certified = sum(results.get(timeout=BUSY_TIMEOUT_S) for _ in processes)
    for process in processes:
        process.join(60)
    elapsed = time.perf_counter() - started
    return {"certified_mib": certified, "seconds": round(elapsed, 1), "mib_s": round(certified / elapsed, 3)}


def devnet_figures(posts: int, sequencer_counts: list[int], blobs_each: int) -> dict[str, Any]:
    """Latency, node CPU per MiB and sustained throughput on an 8-validator devnet."""
    prover = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    blobs = [secrets.token_bytes(MIB - 64) for _ in range(2 * posts)]
    encode_started = time.process_time()
    uploads = [upload_to_bytes(compute_upload(b, encode_blob(b, prover))) for b in blobs[posts:]]
    sequencer_encode = (time.process_time() - encode_started) / posts
    devnet = Devnet(Path(tempfile.mkdtemp(prefix="tessera-bench-intake-")))
    devnet.create(8, 3600.0)
    figures: dict[str, Any] = {"sequencer_encode_cpu_s_per_mib": round(sequencer_encode, 3)}
    try:
        for index in range(8):
            devnet.start_node(index, (os.cpu_count() or 1) if index == 0 else 0)
        urls = devnet.wait_until_connected(list(range(8)))
        pids = {int(i): int(p) for i, p in devnet.load_state()["pids"].items()}
        _post_and_wait(urls[0], secrets.token_bytes(4096), encoded=False)  # warm: pool loaded, epochs known
        for mode, bodies in (("raw", blobs[:posts]), ("pre_encoded", uploads)):
            node_before = _tree_cpu(pids[0])
            all_before = sum(_tree_cpu(pid) for pid in pids.values())
            runs = [_post_and_wait(urls[0], body, mode == "pre_encoded") for body in bodies]
            figures[mode] = {
                "median_s": round(statistics.median(runs), 3),
                "p95_s": round(_percentile(runs, 0.95), 3),
                "aggregator_cpu_s_per_mib": round((_tree_cpu(pids[0]) - node_before) / posts, 3),
                "devnet_cpu_s_per_mib": round(
                    (sum(_tree_cpu(pid) for pid in pids.values()) - all_before) / posts, 3
                ),
            }
        figures["aggregator_cpu_ratio"] = round(
            figures["pre_encoded"]["aggregator_cpu_s_per_mib"] / figures["raw"]["aggregator_cpu_s_per_mib"], 3
        )
        for count in sequencer_counts:
            figures[f"sustained_{count}_sequencers"] = sustained(urls, count, blobs_each)
    finally:
        devnet.stop_all()
    serial = min(_cpu(lambda: encode_blob(blobs[0], prover)) for _ in range(2))
    figures["encoding_bound_mib_s"] = round((os.cpu_count() or 1) / serial, 3)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="1,2", help="blob sizes in MiB for the node-work figures (default 1,2)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per size and variant (default 3)")
    parser.add_argument("--posts", type=int, default=5, help="1 MiB posts per mode on the devnet (default 5)")
    parser.add_argument("--sequencers", default="1,2,4", help="sequencer process counts (default 1,2,4)")
    parser.add_argument("--blobs-each", type=int, default=3, help="1 MiB blobs per sequencer (default 3)")
    parser.add_argument("--no-devnet", action="store_true", help="only the node-work figures")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures: dict[str, Any] = {"cores": os.cpu_count()}
    figures["node_work"] = node_work_per_mib([int(s) for s in args.sizes.split(",")], args.repeats)
    if not args.no_devnet:
        counts = [int(s) for s in args.sequencers.split(",") if s]
        figures["devnet"] = devnet_figures(args.posts, counts, args.blobs_each)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    _print(figures)


def _print(figures: dict[str, Any]) -> None:
    print(f"Node intake work, CPU seconds per MiB ({figures['cores']} cores):")
    for size, row in figures["node_work"].items():
        raw, encoded = row["raw_cpu_s_per_mib"], row["pre_encoded_cpu_s_per_mib"]
        print(f"  {size:<5} raw {raw:.3f}  pre-encoded {encoded:.3f}  ratio {row['ratio']:.3f}", end="")
        print(f"  (upload = {row['wire_bytes_ratio']} x the blob)")
    if "devnet" not in figures:
        return
    devnet = figures["devnet"]
    print(f"8-validator devnet (sequencer encodes at {devnet['sequencer_encode_cpu_s_per_mib']} CPU s/MiB):")
    for mode in ("raw", "pre_encoded"):
        row = devnet[mode]
        print(f"  {mode:<11} 1 MiB post -> certificate median {row['median_s']:.3f} s", end="")
        print(f"  p95 {row['p95_s']:.3f} s;  validator 0 {row['aggregator_cpu_s_per_mib']} CPU s/MiB", end="")
        print(f", devnet {row['devnet_cpu_s_per_mib']}")
    print(f"  validator 0 CPU per MiB, pre-encoded / raw: {devnet['aggregator_cpu_ratio']}")
    for key, row in devnet.items():
        if key.startswith("sustained_"):
            print(f"  {key}: {row['mib_s']} MiB/s certified", end="")
            print(f" ({row['certified_mib']} MiB in {row['seconds']} s)")
    print(f"  encoding bound of this machine: {devnet['encoding_bound_mib_s']} MiB/s")


if __name__ == "__main__":
    main()
