"""The one owner of what the node keeps in memory about the blobs it encoded: which are being
dispersed (for which account: the fair-admission bound `max_dispersing` counts concurrent dispersals,
not bytes), and a cache of headers with their commitment branches, bounded in bytes. No extension is
held: once encoded (or an upload checked) a blob's extension is in the store, one record per row, and
custody pushes and sample requests read just the asked cells from there (`NodeStore.get_extension_cells`,
2,048 + 48 bytes a cell), building each `Sample` with the commitment and branch of its row.

Dispersals are held from encoding until certified or until they fail (the core's `NOT_CERTIFIED`, an
unknown quorum, a failed write); pruned blobs are forgotten. Intake (trio thread), the core's
transport (its worker thread) and the request handlers (trio worker threads) reach them only through
these methods, under one lock; store reads and branch computations run outside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from da.constants import BYTES_PER_COMMITMENT
from da.header import compute_commitment_branches
from da.types import BlobHeader, Bytes32, CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
from validator.daemon.store import NodeStore

MAX_DISPERSING = 32
"""Blobs dispersed at once (their extensions are in the store; this bounds the work, not memory)."""
HEADER_CACHE_BYTES = 4 * 1024 * 1024
"""Bytes of headers with commitment branches kept for serving (48 + 32 x the branch depth bytes a row:
under 250 KiB for a 512-row blob, so at least 16 of the largest blobs)."""
BRANCH_BYTES = 32


@dataclass(frozen=True, slots=True)
class _Branches:
    """A blob's header and the Merkle branch of each row commitment: what a `Sample` adds to a cell."""

    header: BlobHeader
    branches: tuple[tuple[Bytes32, ...], ...]

    @property
    def size_bytes(self) -> int:
        depth = len(self.branches[0]) if self.branches else 0
        return self.header.row_count * (BYTES_PER_COMMITMENT + depth * BRANCH_BYTES)


class Extensions:
    """Dispersals in flight (accounting only) and the samples of blobs this node encoded, read from
    the store by coordinate."""

    def __init__(
        self,
        store: NodeStore,
        max_dispersing: int = MAX_DISPERSING,
        header_cache_bytes: int = HEADER_CACHE_BYTES,
    ) -> None:
        self._store = store
        self.max_dispersing = max_dispersing
        self.header_cache_bytes = header_cache_bytes
        self._lock = threading.Lock()
        self._owners: dict[DataRoot, str] = {}
        """The account each blob dispersing is held for."""
        self._per_account: dict[str, int] = {}
        """Blobs dispersing per account; accounts holding none are absent."""
        self._headers: OrderedDict[DataRoot, _Branches] = OrderedDict()
        """Least recently used first, at most `header_cache_bytes` in all."""
        self._header_bytes = 0

    def hold(self, data_root: DataRoot, account: str) -> None:
        """`data_root`, whose extension is stored, is being dispersed for `account` (a blob held
        already stays its first account's)."""
        with self._lock:
            if data_root not in self._owners:
                self._owners[data_root] = account
                self._per_account[account] = self._per_account.get(account, 0) + 1

    def release(self, data_root: DataRoot) -> None:
        """Dispersal of `data_root` is over (certified, or failed)."""
        with self._lock:
            self._drop_dispersing(data_root)

    def _drop_dispersing(self, data_root: DataRoot) -> None:
        """Under the lock: `data_root` is no longer dispersing, nor counted for its account."""
        account = self._owners.pop(data_root, None)
        if account is None:
            return
        held = self._per_account[account]
        if held == 1:
            del self._per_account[account]
        else:
            self._per_account[account] = held - 1

    def dispersing_per_account(self) -> dict[str, int]:
        """How many blobs each account has dispersing (a snapshot; accounts with none absent)."""
        with self._lock:
            return dict(self._per_account)

    def forget(self, data_roots: Sequence[DataRoot]) -> None:
        """These blobs were pruned: hold nothing of them any more."""
        with self._lock:
            for data_root in data_roots:
                self._drop_dispersing(data_root)
                dropped = self._headers.pop(data_root, None)
                if dropped is not None:
                    self._header_bytes -= dropped.size_bytes

    @property
    def held(self) -> tuple[int, int]:
        """(dispersing, headers cached): how many blobs each map holds."""
        with self._lock:
            return len(self._owners), len(self._headers)

    @property
    def header_bytes(self) -> int:
        """Bytes the header cache holds (at most `header_cache_bytes`)."""
        with self._lock:
            return self._header_bytes

    def is_dispersing(self, data_root: DataRoot) -> bool:
        """Whether this node is dispersing `data_root`."""
        with self._lock:
            return data_root in self._owners

    def column_samples(
        self, data_root: DataRoot, header: BlobHeader, columns: Iterable[ColumnIndex]
    ) -> tuple[Sample, ...] | None:
        """Every row's sample in each of `columns` (a custody push), read from the store; None when
        this node is not dispersing the blob or no longer stores its extension."""
        if not self.is_dispersing(data_root):
            return None
        coordinates = [
            CellCoordinate(RowIndex(row), column) for column in columns for row in range(header.row_count)
        ]
        samples = self._read(data_root, coordinates, header)
        if samples is None or any(sample is None for sample in samples):
            return None
        return tuple(sample for sample in samples if sample is not None)

    def get_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[Sample | None] | None:
        """Every asked cell of a blob this node encoded, read from the store by coordinate (None per
        cell outside its matrix); None if it has no extension of it."""
        return self._read(data_root, coordinates, None)

    def _read(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate], header: BlobHeader | None
    ) -> list[Sample | None] | None:
        cells = self._store.get_extension_cells(data_root, coordinates)  # blocking: outside the lock
        if cells is None:
            return None
        if not any(cell is not None for cell in cells):
            return [None] * len(coordinates)
        branches = self._branches(data_root, header)
        if branches is None:
            return None
        commitments = branches.header.row_commitments
        return [
            None
            if found is None
            else Sample(
                row=c.row,
                column=c.column,
                cell=found[0],
                proof=found[1],
                commitment=commitments[c.row],
                commitment_branch=branches.branches[c.row],
            )
            for c, found in zip(coordinates, cells, strict=True)
        ]

    def _branches(self, data_root: DataRoot, header: BlobHeader | None) -> _Branches | None:
        """The blob's header with its branches, from the cache or computed (outside the lock) and kept,
        least recently used dropped first past `header_cache_bytes`."""
        with self._lock:
            cached = self._headers.get(data_root)
            if cached is not None:
                self._headers.move_to_end(data_root)
                return cached
        if header is None:
            record = self._store.get_blob(data_root)
            if record is None:
                return None
            header = record.header
        computed = _Branches(header, tuple(compute_commitment_branches(header)))
        with self._lock:
            if data_root not in self._headers and computed.size_bytes <= self.header_cache_bytes:
                self._headers[data_root] = computed
                self._header_bytes += computed.size_bytes
                while self._header_bytes > self.header_cache_bytes:
                    _, dropped = self._headers.popitem(last=False)
                    self._header_bytes -= dropped.size_bytes
        return computed
