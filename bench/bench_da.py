"""DA-layer benchmark: encode throughput (serial, pooled, bare ckzg), batched sample verification, and
the 2D extension (encode 2D / 1D at R = 9 and 67 rows, 1 and 8 MiB, and 265 rows, 32 MiB, on
request; the extension on the encoder pool; recovery from a minimum recoverable set; the minimum
unrecoverable pattern refused; verification of grid samples against a header).

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

from da import (
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    DAConfig,
    EncoderPool,
    NotEnoughCells,
    RowIndex,
    encode_blob,
    extend_rows,
    recover_grid_rows,
    verify_grid_samples,
    verify_samples,
)
from da.constants import CELLS_PER_ROW, FIELD_ELEMENTS_PER_ROW, LENGTH_PREFIX_BYTES, USABLE_BYTES_PER_ROW
from da.encoding import EncodedRow, assemble_encoded_blob, encode_row
from da.grid import ExtendedBlob
from da.kzg import PRECOMPUTE_FOR_PROVING, default_trusted_setup_path, load_ckzg_backend
from da.packing import pack_blob
from da.types import RowBytes
from validator.custody import compute_extended_custody

MIB = 1024 * 1024


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_grid(kzg: CkzgBackend, row_count: int, repeats: int, pool: EncoderPool | None) -> dict[str, float]:
    """The 2D extension at `row_count` rows of random packed data, measured on rows directly (9 rows
    is 1 MiB, 67 rows 8 MiB, 265 rows 32 MiB): encode 1D (commit + cells + proofs per row, serially)
    and the extension after it (serially, in this process), in the same run, `repeats` times; the
    extension on `pool`'s workers (columns spread over them) once; then recovery from a minimum
    recoverable set with no shortcut (rows R..2R-1 in columns 64..127: 64 column decodes, then R row
    decodes), the refusal of the minimum unrecoverable pattern ((R+1) x 65 cells withheld:
    `NotEnoughCells`), the verification of 30 grid samples against the header, and a custodian's
    extension of one column it holds (median of 3 columns)."""
    rng = random.Random(row_count)
    rows = [
        RowBytes(b"".join(b"\x00" + rng.randbytes(31) for _ in range(FIELD_ELEMENTS_PER_ROW)))
        for _ in range(row_count)
    ]
    ratios, one_d, extension = [], [], []
    encoded: list[EncodedRow] = []
    extended: tuple[EncodedRow, ...] = ()
    for _ in range(repeats):
        started = time.perf_counter()
        encoded = [encode_row(kzg, row) for row in rows]
        middle = time.perf_counter()
        extended = extend_rows(encoded)
        ended = time.perf_counter()
        one_d.append(middle - started)
        extension.append(ended - middle)
        ratios.append((ended - started) / (middle - started))
    pooled = None
    if pool is not None:
        started = time.perf_counter()
        if pool.extend_rows(encoded) != extended:
            raise RuntimeError("the pooled extension differs from the serial one")
        pooled = time.perf_counter() - started
    grid = ExtendedBlob(
        assemble_encoded_blob(row_count * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES, encoded), extended
    )
    minimum = {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): grid.get_row(RowIndex(row)).cells[column]
        for row in range(row_count, 2 * row_count)
        for column in range(CELLS_PER_ROW // 2, CELLS_PER_ROW)
    }
    recovered: list[RowBytes] = []
    recovery = _seconds(lambda: recovered.extend(recover_grid_rows(row_count, minimum, kzg)))
    if recovered != rows:
        raise RuntimeError("recovery from the minimum set did not give the original rows")
    withheld = {
        CellCoordinate(RowIndex(row), ColumnIndex(column))
        for row in range(row_count + 1)
        for column in range(CELLS_PER_ROW // 2 + 1)
    }
    unrecoverable = {
        CellCoordinate(RowIndex(row), ColumnIndex(column)): grid.get_row(RowIndex(row)).cells[column]
        for row in range(2 * row_count)
        for column in range(CELLS_PER_ROW)
        if CellCoordinate(RowIndex(row), ColumnIndex(column)) not in withheld
    }
    refused = time.perf_counter()
    try:
        recover_grid_rows(row_count, unrecoverable, kzg)
    except NotEnoughCells:
        refusal = time.perf_counter() - refused
    else:
        raise RuntimeError("the minimum unrecoverable pattern was recovered")
    picks = [
        CellCoordinate(RowIndex(rng.randrange(2 * row_count)), ColumnIndex(rng.randrange(CELLS_PER_ROW)))
        for _ in range(30)
    ]
    samples = grid.get_samples(picks)
    header, root = grid.blob.header, grid.blob.data_root

    def verify_grid() -> bool:
        return verify_grid_samples(root, header, samples, kzg)

    verify = statistics.median(_seconds(verify_grid) for _ in range(5))
    # A custodian's side: the extended cells and proofs of one column it holds (store.put_custody).
    custody = [
        grid.blob.get_samples(
            [CellCoordinate(RowIndex(row), ColumnIndex(column)) for row in range(row_count)]
        )
        for column in range(3)
    ]
    header_only = grid.blob.header
    custody_column = statistics.median(
        _seconds(lambda held=held: compute_extended_custody(header_only, held)) for held in custody
    )
    figures: dict[str, float] = {
        "rows": row_count,
        "blob_mib": round((row_count * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES) / MIB, 2),
        "repeats": repeats,
        "encode_1d_s": round(statistics.median(one_d), 3),
        "extension_s": round(statistics.median(extension), 3),
        "encode_2d_over_1d": round(statistics.median(ratios), 4),
        "extension_ms_per_column": round(1000 * statistics.median(extension) / CELLS_PER_ROW, 3),
        "recovery_from_minimum_s": round(recovery, 3),
        "minimum_recoverable_cells": len(minimum),
        "minimum_unrecoverable_withheld_cells": len(withheld),
        "unrecoverable_refused_ms": round(1000 * refusal, 1),
        "verify_30_grid_samples_ms": round(1000 * verify, 2),
        "custody_column_extension_ms": round(1000 * custody_column, 2),
    }
    if pool is not None and pooled is not None:
        figures["extension_pooled_s"] = round(pooled, 3)
        figures["pool_workers"] = pool.workers
    return figures


def _run_grid_only(grid_rows: list[int], repeats: int, workers: int, as_json: bool) -> None:
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    with _grid_pool(workers) as pool:
        grid_figures = [bench_grid(kzg, rows, repeats, pool) for rows in grid_rows]
    if as_json:
        print(json.dumps({"grid": grid_figures}, indent=2))
    else:
        _print_grid(grid_figures)


def _grid_pool(workers: int) -> EncoderPool:
    """The pool the extension is also measured on (no proving tables: the workers only extend),
    once its workers are up, so their start is not timed."""
    pool = EncoderPool(workers=workers, precompute=0)
    deadline = time.monotonic() + 120
    while not pool.ready:
        if time.monotonic() > deadline:
            pool.close()
            raise RuntimeError("the encoder pool's workers did not start in 120 s")
        time.sleep(0.05)
    return pool


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=float, default=1.0, help="blob size in MiB (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each variant (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="encoder pool processes (default 2)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--grid-rows",
        default="9,67",
        help=(
            "row counts of the 2D extension's figures, comma-separated (default 9,67: 1 MiB, 8 MiB; "
            "265 is 32 MiB, several minutes: its 1D encoding alone is ~1 min per repeat)"
        ),
    )
    parser.add_argument(
        "--grid-repeats", type=int, default=3, help="2D encode runs per row count (default 3)"
    )
    parser.add_argument("--only-grid", action="store_true", help="measure the 2D extension only")
    return parser.parse_args()


def main() -> None:
    args = _parse_args()
    grid_rows = [int(value) for value in args.grid_rows.split(",") if value]
    if args.only_grid:
        _run_grid_only(grid_rows, args.grid_repeats, args.workers, args.json)
        return
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
    with _grid_pool(args.workers) as grid_pool:
        grid_figures = [bench_grid(kzg, rows, args.grid_repeats, grid_pool) for rows in grid_rows]
    figures: dict[str, object] = {
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
        "grid": grid_figures,
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
    _print_grid(grid_figures)


def _print_grid(figures: list[dict[str, float]]) -> None:
    print("2D extension (rows of random packed data; 1D encode and extension in the same run, medians)")
    for f in figures:
        print(
            f"  R={f['rows']:<3} ({f['blob_mib']:g} MiB) 1D {f['encode_1d_s']:7.3f} s  "
            f"extension {f['extension_s']:6.3f} s ({f['extension_ms_per_column']:.2f} ms/column)  "
            f"2D/1D {f['encode_2d_over_1d']:.3f} (target <= 1.2)"
        )
        if "extension_pooled_s" in f:
            print(
                f"        extension on the encoder pool (x{f['pool_workers']}) "
                f"{f['extension_pooled_s']:.3f} s"
            )
        print(
            f"        recovery from the minimum set ({f['minimum_recoverable_cells']} cells) "
            f"{f['recovery_from_minimum_s']:.3f} s; minimum unrecoverable pattern "
            f"({f['minimum_unrecoverable_withheld_cells']} cells withheld) refused in "
            f"{f['unrecoverable_refused_ms']:.1f} ms; "
            f"30 grid samples verified in {f['verify_30_grid_samples_ms']:.1f} ms"
        )
        print(
            f"        a custodian's extension of one held column (compute_extended_custody) "
            f"{f['custody_column_extension_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
