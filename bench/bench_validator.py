"""Validator benchmark: aggregate attestations and verify a certificate for a 64-slot mainnet quorum.

Figures, not pass/fail. Run with `make bench` (or `python bench/bench_validator.py`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time

from da.types import DataRoot
from validator.aggregation import AttestationAggregator
from validator.certificate import bytes_to_certificate, certificate_to_bytes, verify_certificate
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import MAINNET
from validator.quorums import compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, EpochContext, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_ballot

CHAIN_ID = 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20, help="runs of each measurement (default 20)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    keys = [SecretKey.from_seed(hashlib.sha256(b"bench%d" % i).digest()) for i in range(64)]
    seed = Seed(b"\x01" * 32)
    records = tuple(
        ValidatorRecord(
            ValidatorIndex(i), k.pubkey, compute_proof_of_possession(k), MAINNET.STAKE_PER_SLOT, "", ()
        )
        for i, k in enumerate(keys)
    )
    ballots = tuple(
        compute_ballot(k, ValidatorIndex(i), CHAIN_ID, Epoch(0), seed) for i, k in enumerate(keys)
    )
    context = EpochContext(CHAIN_ID, Epoch(0), seed, records, ballots)
    (quorum,) = compute_quorums(context, MAINNET)
    root = DataRoot(b"\x33" * 32)
    message = compute_attestation_signing_root(CHAIN_ID, Epoch(0), quorum.index, root)
    attestations = [
        Attestation(Epoch(0), quorum.index, root, m, keys[m].sign(message)) for m in quorum.members
    ]

    aggregate_runs, verify_runs, decode_verify_runs, quorum_runs = [], [], [], []
    wire = b""
    for _ in range(args.repeats):
        started = time.perf_counter()
        aggregator = AttestationAggregator(context, quorum, root, MAINNET)
        for attestation in attestations:
            aggregator.add(attestation)
        aggregate_runs.append(time.perf_counter() - started)
        certificate = aggregator.certificate
        if certificate is None:
            raise SystemExit("setup error: the aggregator formed no certificate")
        wire = certificate_to_bytes(certificate)
        started = time.perf_counter()
        verdict = verify_certificate(certificate, context, MAINNET)
        verify_runs.append(time.perf_counter() - started)
        if not verdict.valid:
            raise SystemExit(f"setup error: certificate invalid: {verdict.reason}")
        started = time.perf_counter()
        verify_certificate(bytes_to_certificate(wire), context, MAINNET)
        decode_verify_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        compute_quorums(context, MAINNET, verify_ballots=False)
        quorum_runs.append(time.perf_counter() - started)

    figures = {
        "quorum_slots": len(quorum.slots),
        "attestations": len(attestations),
        "aggregate_all_ms": round(1000 * statistics.median(aggregate_runs), 2),
        "aggregate_per_attestation_ms": round(
            1000 * statistics.median(aggregate_runs) / len(attestations), 3
        ),
        "verify_certificate_ms": round(1000 * statistics.median(verify_runs), 2),
        "decode_and_verify_ms": round(1000 * statistics.median(decode_verify_runs), 2),
        "compute_quorums_ms": round(1000 * statistics.median(quorum_runs), 2),
        "certificate_bytes": len(wire),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"Certificate for a {figures['quorum_slots']}-slot mainnet quorum, median of {args.repeats}")
    print(
        f"  aggregate {len(attestations)} attestations (each BLS-verified)  "
        f"{figures['aggregate_all_ms']:8.2f} ms"
        f"  ({figures['aggregate_per_attestation_ms']:.3f} ms each)"
    )
    print(
        f"  verify certificate offline                 {figures['verify_certificate_ms']:8.2f} ms"
        f"  (of which quorum formation {figures['compute_quorums_ms']:.2f} ms)"
    )
    print(f"  decode + verify                            {figures['decode_and_verify_ms']:8.2f} ms")
    print(f"  certificate size                           {figures['certificate_bytes']:8d} bytes")


if __name__ == "__main__":
    main()
