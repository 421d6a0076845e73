"""`das demo`: encode a blob, sample and verify cells, reject a tampered one, recover from half.

Everything runs in this process (or its encoder pool) on the real ckzg backend; nothing is simulated.
"""

from __future__ import annotations

import argparse
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from cli.common import non_negative_int, positive_int
from cli.progress import Progress
from da import (
    CellCoordinate,
    ColumnIndex,
    DAConfig,
    EncodedBlob,
    EncoderPool,
    RowIndex,
    encode_blob,
    recover_blob,
    verify_samples,
)
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW, DEFAULT_MAX_BLOB_BYTES
from da.kzg import PRECOMPUTE_FOR_PROVING, load_ckzg_backend
from da.packing import validate_blob_size
from da.types import Cell

T = TypeVar("T")


@dataclass(frozen=True)
class DemoReport:
    """What the demo measured; printed as text or JSON."""

    blob_bytes: int
    rows: int
    data_root: str
    setup_load_s: float
    encode_s: float
    samples: int
    verify_s: float
    samples_valid: bool
    tampered_rejected: bool
    cells_kept: int
    recover_s: float
    recovered_identical: bool

    @property
    def ok(self) -> bool:
        """True when every check of the demo came out as it must."""
        return self.samples_valid and self.tampered_rejected and self.recovered_identical


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das demo`."""
    parser = subparsers.add_parser(
        "demo",
        help="encode a demo blob, sample and verify cells, recover it from half its cells",
        description=(
            "Encode a random blob into KZG cells (EIP-7594 layout), verify randomly drawn samples "
            "against its data root, show that a tampered sample is rejected, then drop half of "
            "every row's cells and recover the blob byte for byte."
        ),
    )
    parser.add_argument(
        "--bytes",
        type=non_negative_int,
        default=1024 * 1024,
        dest="size",
        help=f"blob size in bytes (default: 1 MiB; at most {DEFAULT_MAX_BLOB_BYTES // 2**20} MiB)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=16,
        help="cells to sample and verify in one batch (default: 16)",
    )
    parser.add_argument(
        "--workers",
        type=non_negative_int,
        default=0,
        help="encoder processes; 0 encodes in this process (default: 0)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(run=run)


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def _draw_coordinates(rows: int, count: int) -> list[CellCoordinate]:
    chooser = secrets.SystemRandom()
    picks = chooser.sample(range(rows * CELLS_PER_ROW), min(count, rows * CELLS_PER_ROW))
    return [
        CellCoordinate(RowIndex(index // CELLS_PER_ROW), ColumnIndex(index % CELLS_PER_ROW))
        for index in picks
    ]


def _half_of_every_row(encoded: EncodedBlob) -> dict[CellCoordinate, Cell]:
    chooser = secrets.SystemRandom()
    kept: dict[CellCoordinate, Cell] = {}
    for row, encoded_row in enumerate(encoded.rows):
        for column in chooser.sample(range(CELLS_PER_ROW), CELLS_NEEDED_TO_RECOVER_ROW):
            kept[CellCoordinate(RowIndex(row), ColumnIndex(column))] = encoded_row.cells[column]
    return kept


def run_demo(size: int, sample_count: int, workers: int) -> DemoReport:
    """Run the demo and return what it measured; raises `DAError` for an invalid size."""
    config = DAConfig().validate()
    validate_blob_size(size, config)
    data = secrets.token_bytes(size)
    kzg, setup_s = _timed(lambda: load_ckzg_backend(PRECOMPUTE_FOR_PROVING))
    progress = Progress("encoding rows")
    if workers > 0:
        with EncoderPool(workers, config) as pool:
            encoded, encode_s = _timed(lambda: pool.encode_blob(data, progress))
    else:
        encoded, encode_s = _timed(lambda: encode_blob(data, kzg, config, progress))

    samples = encoded.get_samples(_draw_coordinates(len(encoded.rows), sample_count))
    valid, verify_s = _timed(lambda: verify_samples(encoded.data_root, samples, kzg))
    first = samples[0]
    flipped = bytes([first.cell[0] ^ 0x01]) + first.cell[1:]
    tampered = [
        type(first)(
            first.row, first.column, Cell(flipped), first.proof, first.commitment, first.commitment_branch
        ),
        *samples[1:],
    ]
    tampered_rejected = not verify_samples(encoded.data_root, tampered, kzg)

    kept = _half_of_every_row(encoded)
    recovered, recover_s = _timed(lambda: recover_blob(encoded.header, kept, kzg))
    return DemoReport(
        blob_bytes=size,
        rows=encoded.header.row_count,
        data_root=encoded.data_root.hex(),
        setup_load_s=setup_s,
        encode_s=encode_s,
        samples=len(samples),
        verify_s=verify_s,
        samples_valid=valid,
        tampered_rejected=tampered_rejected,
        cells_kept=len(kept),
        recover_s=recover_s,
        recovered_identical=recovered == data,
    )


def _format(report: DemoReport) -> str:
    total_cells = report.rows * CELLS_PER_ROW
    mib = report.blob_bytes / (1024 * 1024)
    verdict = "OK" if report.ok else "FAILED"
    return "\n".join(
        [
            f"Tessera DA demo: {verdict}",
            f"  blob            {report.blob_bytes} bytes ({mib:.2f} MiB) -> {report.rows} rows x "
            f"{CELLS_PER_ROW} cells",
            f"  data root       0x{report.data_root}",
            f"  trusted setup   loaded in {report.setup_load_s:.2f} s",
            f"  encode          {report.encode_s:.2f} s ({mib / report.encode_s:.2f} MiB/s, "
            f"{1000 * report.encode_s / report.rows:.0f} ms/row)",
            f"  sample          {report.samples} random cells verified in one batch in "
            f"{1000 * report.verify_s:.1f} ms: {'valid' if report.samples_valid else 'INVALID'}",
            f"  tamper          one flipped bit -> "
            f"{'rejected' if report.tampered_rejected else 'ACCEPTED (bug)'}",
            f"  recover         from {report.cells_kept}/{total_cells} cells (half of every row) in "
            f"{report.recover_s:.2f} s: "
            f"{'identical bytes' if report.recovered_identical else 'MISMATCH'}",
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of `das demo`; exit 0 when every check held."""
    report = run_demo(args.size, args.samples, args.workers)
    if args.json:
        print(json.dumps({**report.__dict__, "ok": report.ok}, indent=2))
    else:
        print(_format(report))
    return 0 if report.ok else 1
