"""Streaming benchmark: what a node holds while it disperses large blobs, and what a cell read costs.

1. **Memory.** In a fresh process per mode, `--blobs` blobs of `--blob-mib` MiB (their extensions:
   random cells and proofs of the right sizes, no KZG work; the store and `Extensions` do not check
   them) are taken as the intake takes them, then every custody push of `--columns-per-push` columns
   is answered. `held`: as before issue 30, every `EncodedBlob` stays in memory while dispersing and
   pushes slice it; `stored`: the extension goes to the store, the blob is dropped, pushes read their
   columns in place (`Extensions.column_samples`). Reported: RSS after taking them, and the peak.
2. **Reads.** On one stored blob: one cell, one custody column (every row), 8 columns, by incremental
   BLOB I/O (`NodeStore.get_extension_cells`) against reading each asked row whole (`SELECT cells,
   proofs` and slicing, the cost of a row-record read without `blobopen`) and against rebuilding the
   whole blob (`NodeStore.get_extension`, what the recent-blob LRU did on a miss).

Figures, not pass/fail. Run: `python -m bench.bench_stream --blob-mib 7 --blobs 4`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from da.constants import BYTES_PER_CELL, BYTES_PER_PROOF, CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.encoding import EncodedBlob, EncodedRow, assemble_encoded_blob
from da.row_count import compute_row_count
from da.types import Cell, CellCoordinate, ColumnIndex, KZGCommitment, KZGProof, RowIndex
from validator.daemon.extensions import Extensions
from validator.daemon.store import NodeStore
from validator.types import Epoch, QuorumIndex

MIB = 1024 * 1024
PUSHES = 8
"""Custody pushes answered per blob (a quorum of 8 members)."""


def _synthetic_blob(byte_length: int, seed: int) -> EncodedBlob:
    """An extension of the right shape and sizes: cells and proofs are random bytes."""
    rows = compute_row_count(byte_length)
    if rows > MAX_ROWS_PER_BLOB:
        raise SystemExit(f"{rows} rows: this build's header takes at most {MAX_ROWS_PER_BLOB}")
    stream = os.urandom(32) + seed.to_bytes(4, "little")
    encoded_rows = [
        EncodedRow(
            KZGCommitment(bytes([0xC0]) + stream[:32] + row.to_bytes(4, "little") + bytes(11)),
            tuple(Cell(os.urandom(BYTES_PER_CELL)) for _ in range(CELLS_PER_ROW)),
            tuple(KZGProof(os.urandom(BYTES_PER_PROOF)) for _ in range(CELLS_PER_ROW)),
        )
        for row in range(rows)
    ]
    return assemble_encoded_blob(byte_length, encoded_rows)


def _rss_mib() -> float:
    return float(psutil.Process().memory_info().rss) / MIB


def _push_columns(push: int, columns_per_push: int) -> list[ColumnIndex]:
    return [ColumnIndex((push * columns_per_push + c) % CELLS_PER_ROW) for c in range(columns_per_push)]


def _memory_run(mode: str, blob_mib: int, blobs: int, columns_per_push: int) -> dict[str, float]:
    """One mode in this process (called in a child process by `main`)."""
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as folder:
        store = NodeStore(Path(folder) / "node.sqlite")
        extensions = Extensions(store)
        held: list[EncodedBlob] = []
        headers = []
        start = _rss_mib()
        for index in range(blobs):
            encoded = _synthetic_blob(blob_mib * MIB - 64, index)
            tag = index.to_bytes(8, "little")  # distinct bytes: the store keys posts by their content
            store.add_blob(tag, encoded.header, encoded.data_root, Epoch(0), QuorumIndex(0), 6, encoded.rows)
            headers.append((encoded.data_root, encoded.header))
            if mode == "held":
                held.append(encoded)  # what Extensions did before: the blob stays while dispersing
            else:
                extensions.hold(encoded.data_root, "bench")
            del encoded
        taken = _rss_mib()
        started = time.perf_counter()
        cells = 0
        for index, (root, header) in enumerate(headers):
            for push in range(PUSHES):
                columns = _push_columns(push, columns_per_push)
                if mode == "held":
                    cells += sum(len(held[index].get_column(c)) for c in columns)
                else:
                    pushed = extensions.column_samples(root, header, columns)
                    cells += 0 if pushed is None else len(pushed)
        pushes_s = time.perf_counter() - started
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rss_start_mib": round(start, 1),
        "rss_after_taking_mib": round(taken, 1),
        "rss_peak_mib": round(peak, 1),
        "push_cells": cells,
        "pushes_s": round(pushes_s, 3),
    }


def _median_s(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _read_costs(blob_mib: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as folder:
        store = NodeStore(Path(folder) / "node.sqlite")
        encoded = _synthetic_blob(blob_mib * MIB - 64, 0)
        root = encoded.data_root
        store.add_blob(b"reads", encoded.header, root, Epoch(0), QuorumIndex(0), 6, encoded.rows)
        rows = len(encoded.rows)
        del encoded

        def row_reads(coordinates: list[CellCoordinate]) -> None:
            """Each asked row's record read whole, then sliced (a row read without blobopen)."""
            wanted = sorted({c.row for c in coordinates})
            for row in wanted:
                cells, proofs = store._db.execute(
                    "SELECT cells, proofs FROM extension WHERE data_root = ? AND row = ?", (root, row)
                ).fetchone()
                for c in coordinates:
                    if c.row == row:
                        _ = cells[c.column * BYTES_PER_CELL : (c.column + 1) * BYTES_PER_CELL]
                        _ = proofs[c.column * BYTES_PER_PROOF : (c.column + 1) * BYTES_PER_PROOF]

        cases = {
            "one_cell": [CellCoordinate(RowIndex(rows // 2), ColumnIndex(77))],
            "one_column": [CellCoordinate(RowIndex(r), ColumnIndex(5)) for r in range(rows)],
            "thirty_two_columns": [
                CellCoordinate(RowIndex(r), ColumnIndex(c)) for c in range(0, 128, 4) for r in range(rows)
            ],
            "eight_columns": [
                CellCoordinate(RowIndex(r), ColumnIndex(c)) for c in range(0, 128, 16) for r in range(rows)
            ],
        }
        figures: dict[str, float] = {"rows": rows}
        for name, coordinates in cases.items():
            figures[f"{name}_partial_ms"] = round(
                1000 * _median_s(lambda asked=coordinates: store.get_extension_cells(root, asked), repeat), 3
            )
            figures[f"{name}_row_read_ms"] = round(
                1000 * _median_s(lambda asked=coordinates: row_reads(asked), repeat), 3
            )
        figures["whole_blob_rebuild_ms"] = round(
            1000 * _median_s(lambda: store.get_extension(root), max(3, repeat // 10)), 1
        )
        store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blob-mib", type=int, default=7, help="blob size in MiB (default 7: 57 rows)")
    parser.add_argument("--blobs", type=int, default=4, help="blobs dispersed at once (default 4)")
    parser.add_argument(
        "--columns-per-push", type=int, default=32, help="columns a member holds (default 32)"
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--mode", choices=["held", "stored"], help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.mode is not None:  # a child: one memory run
        print(json.dumps(_memory_run(args.mode, args.blob_mib, args.blobs, args.columns_per_push)))
        return
    memory = {}
    for mode in ("held", "stored"):
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_stream", "--mode", mode, "--blob-mib", str(args.blob_mib),
             "--blobs", str(args.blobs), "--columns-per-push", str(args.columns_per_push)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        memory[mode] = json.loads(child.stdout.strip().splitlines()[-1])
    reads = _read_costs(args.blob_mib, args.repeat)
    figures = {"blob_mib": args.blob_mib, "blobs": args.blobs, "memory": memory, "reads": reads}
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.blobs} blobs of {args.blob_mib} MiB ({reads['rows']} rows), {PUSHES} pushes of "
          f"{args.columns_per_push} columns each")  # fmt: skip
    for mode, run in memory.items():
        grown = run["rss_after_taking_mib"] - run["rss_start_mib"]
        print(f"  {mode:6}: RSS +{grown:.1f} MiB after taking them (peak {run['rss_peak_mib']} MiB), "
              f"pushes {run['pushes_s']} s for {run['push_cells']} cells")  # fmt: skip
    for name in ("one_cell", "one_column", "eight_columns", "thirty_two_columns"):
        print(f"  read {name:18}: in place {reads[f'{name}_partial_ms']} ms, row records read whole "
              f"{reads[f'{name}_row_read_ms']} ms")  # fmt: skip
    print(f"  whole blob rebuilt from the store: {reads['whole_blob_rebuild_ms']} ms")


if __name__ == "__main__":
    main()
