"""Payments benchmark (issue 31), sequencer side: what paying adds to a `das blob post`. Figures, not
pass/fail (medians and p95).

1. **The promise** (`Payer.promise`): the node's counter advanced and committed to disk (SQLite WAL,
   `synchronous=FULL`: the fsync that makes a crash safe) and the EIP-712 promise signed.
2. **The node's terms** (`GET /v1/payments?account=`), read before each paid post and once after it
   (to see whether the node took the promise), against a one-validator devnet with payments on
   (`--no-devnet` skips this part).

Added latency per post = (1) + 2 x (2); the raw path also computes the data root here (row
commitments, about a sixth of encoding), which an upload has already.

Run: `python bench/bench_payer.py [--promises N] [--no-devnet] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account

from validator.api_client import NodeApiClient
from validator.payments.counters import PromiseCounters
from validator.payments.payer import NodePaymentTerms, Payer, read_node_terms
from validator.payments.promise import PaymentDomain, PriceTerms


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered) * 1e3, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1e3, 3),
    }


def bench_promise(count: int, directory: Path) -> dict[str, float]:
    """Counter advance (durable) + signature, per promise."""
    terms = NodePaymentTerms(
        True, Account.create().address, PaymentDomain(31337, Account.create().address), PriceTerms(1000, 4096)
    )
    samples = []
    with PromiseCounters(directory / "counters.sqlite") as counters:
        payer = Payer(secrets.token_bytes(32), counters)
        for _ in range(count):
            started = time.perf_counter()
            payer.promise(terms, secrets.token_bytes(32), 128 * 1024, floor=0)
            samples.append(time.perf_counter() - started)
    return _summary(samples)


def bench_terms(count: int, directory: Path) -> dict[str, float]:
    """`GET /v1/payments?account=` against a real validator with payments on."""
    from validator.devnet import Devnet  # noqa: PLC0415 - only with a devnet

    devnet = Devnet(directory / "devnet")
    devnet.create(1, 3600.0, payments=True)
    try:
        devnet.start_node(0)
        url = devnet.wait_until_connected([0])[0]
        client, account = NodeApiClient(url), Account.create().address
        read_node_terms(client, account)  # warm the connection path
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            read_node_terms(client, account)
            samples.append(time.perf_counter() - started)
    finally:
        devnet.stop_all()
    return _summary(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--promises", type=int, default=200, help="promises (and terms reads) timed")
    parser.add_argument("--no-devnet", action="store_true", help="time the promise only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results: dict[str, Any] = {"promise": bench_promise(args.promises, Path(folder))}
        if not args.no_devnet:
            results["terms"] = bench_terms(args.promises, Path(folder))
            added = results["promise"]["median_ms"] + 2 * results["terms"]["median_ms"]
            results["added_per_post_median_ms"] = round(added, 3)
    if args.json:
        print(json.dumps(results))
        return
    print(f"promise (counter fsync + EIP-712 signature): {results['promise']}")
    if "terms" in results:
        print(f"GET /v1/payments?account=:                   {results['terms']}")
        print(f"added per paid post (median, promise + 2 reads): {results['added_per_post_median_ms']} ms")


if __name__ == "__main__":
    main()
