"""Connection churn: light checks per second, sustained, against a real 8-validator devnet.

Figures, not pass/fail. Each check is what `das light check` runs (`sampling.client.check.run_check`):
a fresh client host with a throwaway identity (a new peer id every time), one connection to each
custodian it samples, closed at the end. py-libp2p 0.8.1 kept an inbound slot per connection until
the process stopped, so every validator refused all connections after about 300 checks in its
lifetime (specs/p2p-interface.md, Notes); this bench runs `--checks` of them (default 1,000) one
after another and reports checks/s per block of 100, the failures, and each validator's RSS and
connection manager counters at the end. The checks run in this process with the verifier's setup
loaded once (what is measured is the network side, not Python start-up; `bench_light.py --cold`
times whole processes).

Run with `python bench/bench_churn.py [--checks N] [--kib K]`.
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import structlog
import trio

from da.lean_verifier import load_lean_verifier
from da.types import DataRoot
from network.errors import NetworkError
from sampling.client.check import run_check
from sampling.client.request import CheckRequest
from sampling.errors import SamplingError
from validator.api_client import NodeApiClient
from validator.devnet import Devnet
from validator.errors import ValidatorError

BLOCK = 100


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _network_events(api: str) -> dict[str, float]:
    text = httpx.get(f"{api}/metrics", timeout=10.0).text
    events: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("tessera_network_events_total{"):
            kind = line.split('kind="', 1)[1].split('"', 1)[0]
            events[kind] = float(line.rsplit(" ", 1)[1])
    return events


async def churn(devnet: Devnet, data_root: DataRoot, certificate: bytes, checks: int) -> dict[str, Any]:
    """`checks` light checks one after another; checks/s per block of `BLOCK` and the failures."""
    verifier = load_lean_verifier()
    request = CheckRequest(data_root, devnet.registry_path, certificate=certificate, timeout=5.0)
    rates: list[float] = []
    durations: list[float] = []
    failures: list[str] = []
    block_started = time.perf_counter()
    started = block_started
    for number in range(1, checks + 1):
        check_started = time.perf_counter()
        try:
            report = await run_check(request, verifier)
            if not report.available or report.stats.abandoned:
                failures.append(f"check {number}: available={report.available} {report.stats.abandoned}")
        except (SamplingError, NetworkError, ValidatorError) as error:  # a figure, not a reason to stop
            failures.append(f"check {number}: {type(error).__name__}: {error}")
        durations.append(time.perf_counter() - check_started)
        if number % BLOCK == 0:
            now = time.perf_counter()
            rates.append(BLOCK / (now - block_started))
            block_started = now
    total = time.perf_counter() - started
    return {
        "checks": checks,
        "seconds": total,
        "checks_per_second": checks / total,
        "per_block_checks_per_second": [round(rate, 2) for rate in rates],
        "median_check_s": statistics.median(durations),
        "max_check_s": max(durations),
        "failures": len(failures),
        "first_failures": failures[:5],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=1000, help="light checks run one after another")
    parser.add_argument("--kib", type=int, default=256, help="size of the blob checked, KiB")
    parser.add_argument("--validators", type=int, default=8, help="devnet validators")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="bench-churn-") as tmp:
        devnet = Devnet(Path(tmp))
        devnet.create(args.validators, 3600.0)
        try:
            for index in range(args.validators):
                devnet.start_node(index)
            devnet.wait_until_connected(list(range(args.validators)))
            infos = [devnet.node_info(index) or {} for index in range(args.validators)]
            node = NodeApiClient(str(infos[0]["api_url"]))
            root = node.post_blob(secrets.token_bytes(args.kib * 1024))["data_root"]
            status = node.wait_for_certificate(root, 120.0)
            if status["status"] != "certified":
                raise SystemExit(f"blob not certified: {status}")
            certificate = node.get_certificate(root)
            rss_before = [round(_rss_mib(int(info["pid"])), 1) for info in infos]
            figures = trio.run(churn, devnet, DataRoot(bytes.fromhex(root[2:])), certificate, args.checks)
            figures["rss_mib_before"] = rss_before
            figures["rss_mib_after"] = [round(_rss_mib(int(info["pid"])), 1) for info in infos]
            figures["network_events"] = [_network_events(str(info["api_url"])) for info in infos]
        finally:
            devnet.stop_all()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
