"""DA-layer benchmark: encode throughput (serial, pooled, bare ckzg) and batched sample verification.

Figures, not pass/fail: the machines are shared and noisy, so the runs of each variant are
interleaved and the ratios are taken between medians measured in the same run.
Run with `make bench` (or `python bench/bench_da.py --help`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable

import ckzg

from da import CellCoordinate, ColumnIndex, DAConfig, EncoderPool, RowIndex, encode_blob, verify_samples
from da.kzg import PRECOMPUTE_FOR_PROVING, default_trusted_setup_path, load_ckzg_backend
from da.packing import pack_blob

MIB = 1024 * 1024


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=float, default=1.0, help="blob size in MiB (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="encoder pool processes (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    data = random.Random(1).randbytes(int(args.mib * MIB))
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    settings = ckzg.load_trusted_setup(str(default_trusted_setup_path()), PRECOMPUTE_FOR_PROVING)
    rows = pack_blob(data, DAConfig())

    def bare_ckzg() -> None:
        for row in rows:
            ckzg.blob_to_kzg_commitment(row, settings)
            ckzg.compute_cells_and_kzg_proofs(row, settings)

    def da_serial() -> None:
        encode_blob(data, kzg)

    bare_runs: list[float] = []
    serial_runs: list[float] = []
    for _ in range(args.repeats):  # interleaved so both variants see the same machine noise
        bare_runs.append(_seconds(bare_ckzg))
        serial_runs.append(_seconds(da_serial))

    with EncoderPool(workers=args.workers) as pool:
        pool.encode_blob(data)  # warm-up: workers spawn and load the trusted setup
        pooled_runs = [_seconds(lambda: pool.encode_blob(data)) for _ in range(args.repeats)]

    encoded = encode_blob(data, kzg)
    chooser = random.Random(3)
    verify: dict[str, float] = {}
    for count in (1, 16, 128):
        runs = []
        for _ in range(20):
            picks = [
                CellCoordinate(RowIndex(chooser.randrange(len(rows))), ColumnIndex(chooser.randrange(128)))
                for _ in range(count)
            ]
            samples = encoded.get_samples(picks)
            runs.append(_seconds(lambda samples=samples: verify_samples(encoded.data_root, samples, kzg)))
        verify[str(count)] = statistics.median(runs) * 1000

    bare = statistics.median(bare_runs)
    serial = statistics.median(serial_runs)
    pooled = statistics.median(pooled_runs)
    mib = len(data) / MIB
    figures = {
        "blob_mib": round(mib, 3),
        "rows": len(rows),
        "repeats": args.repeats,
        "bare_ckzg_s": round(bare, 3),
        "da_serial_s": round(serial, 3),
        "da_pooled_s": round(pooled, 3),
        "pool_workers": args.workers,
        "bare_ckzg_mib_s": round(mib / bare, 3),
        "da_serial_mib_s": round(mib / serial, 3),
        "da_pooled_mib_s": round(mib / pooled, 3),
        "serial_over_bare": round(serial / bare, 4),
        "pooled_speedup_over_serial": round(serial / pooled, 3),
        "ms_per_row_serial": round(1000 * serial / len(rows), 1),
        "verify_ms_median": {k: round(v, 2) for k, v in verify.items()},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"DA encode, {mib:.2f} MiB blob = {len(rows)} rows, median of {args.repeats} (interleaved)")
    print(f"  bare ckzg loop   {bare:6.3f} s  {mib / bare:6.3f} MiB/s")
    print(
        f"  da/ serial       {serial:6.3f} s  {mib / serial:6.3f} MiB/s  "
        f"ratio to bare {serial / bare:.3f} (target <= 1.10)"
    )
    print(
        f"  da/ pool x{args.workers}      {pooled:6.3f} s  {mib / pooled:6.3f} MiB/s  "
        f"speed-up over serial {serial / pooled:.2f}x"
    )
    print("Batched sample verification (branches + one ckzg call), median of 20")
    for count, ms in verify.items():
        print(f"  {count:>3} samples     {ms:7.2f} ms")


if __name__ == "__main__":
    main()
