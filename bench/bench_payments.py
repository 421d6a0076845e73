"""Payments benchmark (issue 31), node side: what checking a payment promise costs a node, and what
paid dispersal adds to each post. Figures, not pass/fail (medians; the variants are interleaved).

1. **The pure check** (`check_promise`, no I/O): the header decoded and the promise checked, of which
   the signature's recovery (EIP-712 digest + secp256k1) is most.
2. **The node's check** (`PaymentGate.check`, as the intake runs it): the held promise read from the
   node's store and the escrow read from the registry file (real SQLite, WAL, `synchronous=FULL`).
3. **Added latency per post**: a paid post runs the node's check twice (before its body is read, and
   with its root) and records its promise in the blob's own transaction; an unpaid post records the
   blob alone. Added = 2 x (2) + (paid record - unpaid record), against the unpaid record.

Run: `python bench/bench_payments.py [--promises N] [--json]`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account

from da.types import BlobHeader, DataRoot, KZGCommitment
from validator.daemon.payments import PaymentGate
from validator.daemon.store import HeldPayment, NodeStore
from validator.payments.promise import (
    PaymentPromise,
    check_promise,
    decode_payment_header,
    encode_payment_header,
    recover_signer,
    sign_promise,
)
from validator.payments.sqlite_escrow import SqliteEscrow
from validator.registry.genesis import GenesisSpec, create_genesis
from validator.types import Epoch, QuorumIndex

BLOB_BYTES = 100_000
"""One row's blob: the store's cost grows with the bytes, the promise's does not."""
EXPIRY = 2**40


def _micros(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1e6


def _record(
    store: NodeStore, data: bytes, header: BlobHeader, root: DataRoot, paid: HeldPayment | None
) -> float:
    """Microseconds to record a blob (with its promise when `paid`)."""
    return _micros(lambda: store.add_blob(data, header, root, Epoch(0), QuorumIndex(0), 1, payment=paid))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--promises", type=int, default=300, help="promises checked per variant (default 300)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        spec = GenesisSpec(validators=1, password="bench", kdf_params={"n": 2**14, "r": 8, "p": 1})  # noqa: S106
        registry = create_genesis(directory, spec)
        escrow = SqliteEscrow(registry)
        store = NodeStore(directory / "node.sqlite")
        payee = str(Account.create().address)
        gate = PaymentGate(escrow, payee, store)
        sequencer = Account.create()
        key = bytes(sequencer.key)
        escrow.account(sequencer.address).deposit(10**30)
        terms = escrow.price_terms()
        cost = terms.cost(BLOB_BYTES)
        header = BlobHeader(BLOB_BYTES, 1, (KZGCommitment(bytes(48)),))

        figures: dict[str, list[float]] = {
            k: [] for k in ("recover", "pure", "gate", "paid_record", "unpaid_record")
        }
        for number in range(args.promises):
            held = number * cost
            root = DataRoot(secrets.token_bytes(32))
            unsigned = PaymentPromise(str(sequencer.address), payee, root, BLOB_BYTES, held + cost, EXPIRY)
            signed = sign_promise(gate.domain, unsigned, key)
            text = encode_payment_header(signed)
            figures["recover"].append(_micros(lambda: recover_signer(gate.domain, signed)))  # noqa: B023
            figures["pure"].append(
                _micros(
                    lambda: check_promise(
                        decode_payment_header(text),  # noqa: B023
                        domain=gate.domain,
                        node=payee,
                        terms=terms,
                        byte_length=BLOB_BYTES,
                        data_root=root,  # noqa: B023
                        held=held,  # noqa: B023
                        settled=0,
                        covered=10**30,
                        now=int(time.time()),
                    )
                )
            )
            started = time.perf_counter()
            checked = gate.check(signed, BLOB_BYTES, root)
            figures["gate"].append((time.perf_counter() - started) * 1e6)
            data = number.to_bytes(8, "big") + secrets.token_bytes(BLOB_BYTES - 8)
            unpaid = secrets.token_bytes(BLOB_BYTES)
            unpaid_root = DataRoot(secrets.token_bytes(32))
            if number % 2:  # interleaved: each goes first half the time
                figures["paid_record"].append(_record(store, data, header, root, checked))
                figures["unpaid_record"].append(_record(store, unpaid, header, unpaid_root, None))
            else:
                figures["unpaid_record"].append(_record(store, unpaid, header, unpaid_root, None))
                figures["paid_record"].append(_record(store, data, header, root, checked))
        store.close()
        escrow.close()

    median = {name: statistics.median(values) for name, values in figures.items()}
    added = 2 * median["gate"] + (median["paid_record"] - median["unpaid_record"])
    result: dict[str, Any] = {
        "promises": args.promises,
        "blob_bytes": BLOB_BYTES,
        "recover_us": round(median["recover"], 1),
        "check_promise_us": round(median["pure"], 1),
        "gate_check_us": round(median["gate"], 1),
        "record_paid_us": round(median["paid_record"], 1),
        "record_unpaid_us": round(median["unpaid_record"], 1),
        "added_per_post_us": round(added, 1),
        "added_per_post_vs_unpaid_record": round(added / median["unpaid_record"], 3),
    }
    if args.json:
        print(json.dumps(result))
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    print(f"signature recovery      {result['recover_us']:>9} us  (EIP-712 digest + secp256k1 recover)")
    print(f"check_promise (pure)    {result['check_promise_us']:>9} us  (header decoded and checked)")
    print(f"node check (gate)       {result['gate_check_us']:>9} us  (held + escrow read from SQLite)")
    print(f"record blob, paid       {result['record_paid_us']:>9} us  ({BLOB_BYTES} B blob + its promise)")
    print(f"record blob, unpaid     {result['record_unpaid_us']:>9} us")
    print(f"added per post          {result['added_per_post_us']:>9} us  (2 checks + the promise's row)")


if __name__ == "__main__":
    main()
