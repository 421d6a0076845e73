"""Retention benchmark: RSS and store bytes per validator after N MiB posted, and after the window.

Starts a devnet on 127.0.0.1 in a temporary directory with short epochs and a one-epoch window
(pruning every second), posts N x 1 MiB to validator 0 over HTTP (honouring 429 + Retry-After) and
waits for each certificate, then reads every validator's RSS and store bytes (the SQLite file and its
WAL); waits until every posted blob's window has ended and been pruned, and reads them again.
Figures, not pass/fail. Run: `python -m bench.bench_retention --mib 16`.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from pathlib import Path

import psutil

from validator.api_client import NodeApiClient
from validator.devnet import Devnet
from validator.registry.sqlite import SqliteRegistry

BUSY_TIMEOUT_S = 600.0


def _store_bytes(devnet: Devnet, index: int) -> int:
    folder = devnet.directory / f"node-{index}"
    return sum(p.stat().st_size for p in folder.glob("node.sqlite*"))


def _snapshot(devnet: Devnet, validators: int) -> list[tuple[float, float]]:
    """(RSS MiB, store MiB) per validator."""
    rows = []
    for index in range(validators):
        pid = devnet.pid_of(index)
        rss = psutil.Process(pid).memory_info().rss if pid is not None else 0
        rows.append((rss / 2**20, _store_bytes(devnet, index) / 2**20))
    return rows


def _wait_for_ballots(devnet: Devnet, validators: int, epoch_seconds: float) -> None:
    deadline = time.monotonic() + 6 * epoch_seconds
    with SqliteRegistry(devnet.registry_path) as registry:
        while time.monotonic() < deadline:
            if len(registry.get_epoch_context(registry.current_epoch()).ballots) == validators:
                return
            time.sleep(0.5)
    raise SystemExit("the validators never all cast their ballots")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--validators", type=int, default=4)
    parser.add_argument("--mib", type=int, default=16, help="1 MiB blobs posted to validator 0")
    parser.add_argument("--epoch-seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-retention-") as folder:
        devnet = Devnet(Path(folder))
        devnet.create(args.validators, args.epoch_seconds)
        for index in range(args.validators):
            config = devnet.directory / f"node-{index}.toml"
            config.write_text(config.read_text() + "retention_epochs = 1\nprune_interval_s = 1.0\n")
        try:
            for index in range(args.validators):
                devnet.start_node(index)
            urls = devnet.wait_until_connected(list(range(args.validators)))
            _wait_for_ballots(devnet, args.validators, args.epoch_seconds)
            start = _snapshot(devnet, args.validators)
            node = NodeApiClient(urls[0])
            certified = 0
            last_epoch = 0
            for _ in range(args.mib):
                status = node.wait_for_certificate(
                    node.post_blob(secrets.token_bytes(1024 * 1024), BUSY_TIMEOUT_S)["data_root"], 120.0
                )
                certified += status["status"] == "certified"
                last_epoch = max(last_epoch, int(status["epoch"]))
            posted = _snapshot(devnet, args.validators)
            with SqliteRegistry(devnet.registry_path) as registry:
                while registry.current_epoch() <= last_epoch + 1:
                    time.sleep(1.0)
            time.sleep(5.0)  # a few pruning rounds
            after = _snapshot(devnet, args.validators)
        finally:
            devnet.stop_all()
    print(f"{args.mib} x 1 MiB posted to validator 0 of {args.validators}, {certified} certified")
    print("validator  RSS start/posted/after-window MiB   store start/posted/after-window MiB")
    for index in range(args.validators):
        (r0, s0), (r1, s1), (r2, s2) = start[index], posted[index], after[index]
        print(f"{index:9d}  {r0:6.0f} {r1:6.0f} {r2:6.0f}               {s0:6.1f} {s1:6.1f} {s2:6.1f}")


if __name__ == "__main__":
    main()
