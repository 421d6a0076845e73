"""The process-pool path: encode and recover rows in parallel worker processes.

ckzg holds the GIL for 60-400 ms per call, so threads do not help; each worker process loads the
trusted setup once (in its initializer) and then serves rows. Results are identical to the serial
functions in `da.encoding` and `da.recovery`, which do the same per-row work.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from da.config import DAConfig
from da.constants import CELLS_PER_ROW
from da.encoding import (
    EncodedBlob,
    EncodedRow,
    ProgressCallback,
    assemble_encoded_blob,
    check_row_commitments,
    encode_row,
)
from da.errors import EncoderPoolBroken
from da.extension import compute_extended_commitments
from da.grid import (
    ExtendedBlob,
    ExtendedColumn,
    assemble_extended_rows,
    check_extendable_rows,
    column_of,
    extend_column,
)
from da.kzg import PRECOMPUTE_FOR_PROVING, default_trusted_setup_path, load_ckzg_backend
from da.packing import pack_blob, unpack_rows
from da.recovery import group_cells_by_row, recover_row_bytes
from da.types import (
    BlobHeader,
    Cell,
    CellCoordinate,
    ColumnIndex,
    KZGCommitment,
    KZGProof,
    RowBytes,
    RowIndex,
)
from da.upload import bytes_to_upload, validate_upload

T = TypeVar("T")


def _load_worker_backend(trusted_setup: str, precompute: int) -> None:
    load_ckzg_backend(precompute, Path(trusted_setup))


def _ready() -> None:
    """A no-op task: submitting one per worker starts the workers (and their setup load) at once."""


def _encode_row_task(
    trusted_setup: str, precompute: int, row: RowBytes, commitment: KZGCommitment | None
) -> EncodedRow:
    return encode_row(load_ckzg_backend(precompute, Path(trusted_setup)), row, commitment)


def _commit_row_task(trusted_setup: str, precompute: int, row: RowBytes) -> KZGCommitment:
    return load_ckzg_backend(precompute, Path(trusted_setup)).compute_row_commitment(row)


def _recover_row_task(
    trusted_setup: str, precompute: int, row: RowIndex, cells: dict[ColumnIndex, Cell]
) -> RowBytes:
    return recover_row_bytes(load_ckzg_backend(precompute, Path(trusted_setup)), row, cells)


def _extend_task(
    commitments: list[KZGCommitment], columns: list[tuple[list[Cell], list[KZGProof]]]
) -> tuple[list[KZGCommitment], list[ExtendedColumn]]:
    """Extended columns and, if any original commitments are given, the extended commitments."""
    extended = compute_extended_commitments(commitments, verified=True) if commitments else []
    return extended, [extend_column(cells, proofs) for cells, proofs in columns]


def _verify_upload_task(trusted_setup: str, precompute: int, body: bytes, config: DAConfig) -> EncodedBlob:
    backend = load_ckzg_backend(precompute, Path(trusted_setup))
    return validate_upload(bytes_to_upload(body, config), backend, config)


class EncoderPool:
    """A pool of worker processes that encode and recover rows; use as a context manager."""

    def __init__(
        self,
        workers: int | None = None,
        config: DAConfig | None = None,
        trusted_setup: Path | None = None,
        precompute: int = PRECOMPUTE_FOR_PROVING,
    ) -> None:
        self.workers = workers if workers is not None else max(1, os.cpu_count() or 1)
        self.config = (config or DAConfig()).validate()
        self._setup = str(trusted_setup or default_trusted_setup_path())
        self._precompute = precompute
        # spawn, not fork: the daemon runs a trio thread and fork would copy it half-alive.
        self._executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_load_worker_backend,
            initargs=(self._setup, self._precompute),
        )
        # Workers start on demand; start them now, so the first blob does not pay their spawn and
        # trusted-setup load (seconds with the proving tables) on top of its own encoding.
        self._started = [self._executor.submit(_ready) for _ in range(self.workers)]

    def __enter__(self) -> EncoderPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def ready(self) -> bool:
        """True once the start-up task submitted per worker has run, i.e. the workers have loaded the
        trusted setup (until then a blob waits for that: seconds with the proving tables)."""
        return all(future.done() for future in self._started)

    def close(self) -> None:
        """Stop the workers, cancelling queued rows."""
        self._executor.shutdown(wait=True, cancel_futures=True)

    def encode_blob(
        self,
        data: bytes,
        progress: ProgressCallback | None = None,
        commitments: Sequence[KZGCommitment] | None = None,
    ) -> EncodedBlob:
        """Encode a blob with its rows spread over the workers; same result as `encode_blob` (and, like
        it, reusing `commitments` when they are already known)."""
        rows = pack_blob(data, self.config)
        known = check_row_commitments(len(rows), commitments)
        encoded = self._run(
            [
                (_encode_row_task, (self._setup, self._precompute, row, commitment))
                for row, commitment in zip(rows, known, strict=True)
            ],
            progress,
        )
        return assemble_encoded_blob(len(data), encoded)

    def extend_rows(self, rows: Sequence[EncodedRow]) -> tuple[EncodedRow, ...]:
        """The R extended rows of this process's own encoded rows with the 128 columns spread over
        the workers (columns are independent; at R = 265 a column costs ~0.15 s); same result as
        `da.grid.extend_rows`, and the same `InvalidKZGInput` for bad rows (checked here first)."""
        check_extendable_rows(rows)
        columns = [column_of(rows, ColumnIndex(column)) for column in range(CELLS_PER_ROW)]
        # A few chunks per worker: fewer pickles than one task per column, still balanced.
        chunks = max(1, min(CELLS_PER_ROW, 4 * self.workers))
        size = -(-CELLS_PER_ROW // chunks)
        originals = [row.commitment for row in rows]
        parts = self._run(
            [
                (_extend_task, (originals if start == 0 else [], columns[start : start + size]))
                for start in range(0, CELLS_PER_ROW, size)
            ],
            None,
        )
        commitments = parts[0][0]
        return assemble_extended_rows(commitments, [column for _, part in parts for column in part])

    def compute_extended_blob(self, blob: EncodedBlob) -> ExtendedBlob:
        """The 2D grid of this process's own encoded blob, extended on the workers; same result as
        `da.grid.compute_extended_blob`."""
        return ExtendedBlob(blob=blob, extended_rows=self.extend_rows(blob.rows))

    def verify_upload(self, body: bytes) -> EncodedBlob:
        """Decode and check a pre-encoded upload on one worker (one batch of every cell: see
        `da.upload.validate_upload`); its extension, or the upload's typed refusal."""
        (encoded,) = self._run(
            [(_verify_upload_task, (self._setup, self._precompute, body, self.config))], None
        )
        return encoded

    def compute_blob_header(self, data: bytes) -> BlobHeader:
        """The header a blob will have once encoded (its row commitments), rows spread over the
        workers; same result as `compute_blob_header`."""
        rows = pack_blob(data, self.config)
        commitments = self._run(
            [(_commit_row_task, (self._setup, self._precompute, row)) for row in rows], None
        )
        return BlobHeader(byte_length=len(data), row_count=len(rows), row_commitments=tuple(commitments))

    def recover_blob(self, header: BlobHeader, cells: Mapping[CellCoordinate, Cell]) -> bytes:
        """The original blob from cells with at least 64 per row; same result as `recover_blob`."""
        rows = group_cells_by_row(header, cells)
        packed = self.recover_rows([(RowIndex(index), row_cells) for index, row_cells in enumerate(rows)])
        return unpack_rows(packed, header.byte_length)

    def recover_rows(self, rows: Sequence[tuple[RowIndex, Mapping[ColumnIndex, Cell]]]) -> list[RowBytes]:
        """Each row's packed bytes from at least 64 of its cells (`recover_row_bytes`), the rows spread
        over the workers: a window of rows of a blob read back."""
        return self._run(
            [
                (_recover_row_task, (self._setup, self._precompute, index, dict(cells)))
                for index, cells in rows
            ],
            None,
        )

    def _run(
        self, tasks: list[tuple[Callable[..., T], tuple[object, ...]]], progress: ProgressCallback | None
    ) -> list[T]:
        """Run tasks on the workers and return their results in order; a dead worker is typed."""
        try:
            futures = [self._executor.submit(task, *args) for task, args in tasks]
            results: list[T] = []
            for future in futures:
                results.append(future.result())
                if progress is not None:
                    progress(len(results), len(futures))
        except BrokenProcessPool as error:
            raise EncoderPoolBroken(str(error)) from error
        return results
