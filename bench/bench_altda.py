"""Alt-DA benchmark: what op-batcher and op-node wait for through `das altda serve`.

Starts an 8-validator devnet on 127.0.0.1 in a temporary directory and `das altda serve` over
validators 0 and 1, then for each payload size: put (payload in -> certified, verified commitment
out), a cold get (bytes from a validator, checked against the data root: header recomputed in the
server's worker process) and a warm get (from the read cache). Medians and p95 over `--rounds`.
Figures, not pass/fail.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx

from validator.devnet import Devnet

SIZES = {"1KiB": 1024, "128KiB": 128 * 1024, "1MiB": 1024 * 1024}
TIMEOUT_S = 180.0


def _start_server(devnet: Devnet, urls: dict[int, str]) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "cli.main", "altda", "serve", "--listen", "127.0.0.1:0",
               "--node", urls[0], "--node", urls[1], "--registry", str(devnet.registry_path),
               "--certify-timeout", "120"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("altda listening "):
            return server, line.split()[-1]
    raise SystemExit("das altda serve did not start")


def _timed(action: Callable[[], httpx.Response]) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = action()
    if response.status_code != httpx.codes.OK:
        raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")
    return time.perf_counter() - started, response.content


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="puts and gets per size (default 5)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    devnet = Devnet(Path(tempfile.mkdtemp(prefix="tessera-bench-altda-")))
    devnet.create(8, 3600.0)
    figures: dict[str, object] = {"rounds": args.rounds}
    server = None
    try:
        for index in range(8):
            devnet.start_node(index)
        urls = devnet.wait_until_connected(list(range(8)))
        server, url = _start_server(devnet, urls)
        with httpx.Client(base_url=url, timeout=TIMEOUT_S) as http:
            for name, size in SIZES.items():
                puts, cold, warm = [], [], []
                for _ in range(args.rounds):
                    payload = secrets.token_bytes(size)
                    put_s, commitment = _timed(partial(http.post, "/put", content=payload))
                    path = f"/get/0x{commitment.hex()}"
                    cold_s, first = _timed(partial(http.get, path))
                    warm_s, second = _timed(partial(http.get, path))
                    if first != payload or second != payload:
                        raise SystemExit(f"{name}: the payload did not come back")
                    puts.append(put_s)
                    cold.append(cold_s)
                    warm.append(warm_s)
                figures[name] = {
                    "put": _summary(puts),
                    "get_cold": _summary(cold),
                    "get_warm": _summary(warm),
                }
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
        devnet.stop_all()
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"das altda serve over an 8-validator devnet, {args.rounds} rounds per size (median / p95, s)")
    for name in SIZES:
        row = figures[name]
        cells = "  ".join(f"{kind} {row[kind]['median_s']:.3f} / {row[kind]['p95_s']:.3f}"  # type: ignore[index]
                          for kind in ("put", "get_cold", "get_warm"))  # fmt: skip
        print(f"  {name:<7} {cells}")


if __name__ == "__main__":
    main()
