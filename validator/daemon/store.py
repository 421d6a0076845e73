"""The validator daemon's durable store: blobs it accepted, custody cells, attestations, certificates.

One SQLite file in WAL mode with `synchronous=FULL`: a write has reached the disk when its call
returns, so a daemon killed with SIGKILL restarts and serves every custody cell it acknowledged.
Cells and certificates are stored in their wire encodings (the trust boundary re-checks them).

Retention (specs/validator.md, Resources and retention): a posted blob's raw bytes are dropped once
its extension is durable (the extension's systematic half is the blob); once a blob's epoch has left
the availability window, `prune_expired` deletes its custody cells, extension and attestation in
bounded batches and records when it expired; headers, blob records and certificates stay (small), so
a certificate still verifies and a read of the data answers "expired" rather than "unknown". The
file is in `auto_vacuum=INCREMENTAL` mode, so the pages pruning frees go back to the file system.
"""

from __future__ import annotations

import enum
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from da.constants import (
    BYTES_PER_CELL,
    BYTES_PER_PROOF,
    CELLS_NEEDED_TO_RECOVER_ROW,
    CELLS_PER_ROW,
    MAX_ROWS_PER_BLOB,
)
from da.encoding import EncodedBlob, EncodedRow, assemble_encoded_blob
from da.header import bytes_to_header, header_to_bytes
from da.packing import BlobUnpacker
from da.samples import bytes_to_sample, sample_to_bytes
from da.types import (
    BlobHeader,
    Cell,
    CellCoordinate,
    ColumnIndex,
    DataRoot,
    GridSample,
    KZGProof,
    RowBytes,
    RowIndex,
    Sample,
)
from storage.sqlite import connect, ensure_incremental_vacuum, reclaim_free_pages, serialized, transaction
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.custody import compute_extended_custody
from validator.errors import StoreOfAnotherProtocol
from validator.payments.errors import PromiseReplayed
from validator.payments.promise import SignedPromise, decode_payment_header, encode_payment_header
from validator.types import Attestation, Certificate, Epoch, QuorumIndex
from validator.wire import attestation_to_bytes, bytes_to_attestation

log = structlog.get_logger(__name__)

SCHEMA_VERSION = 3
"""2: `expired` table, epoch indexes, incremental auto-vacuum (a version-1 file is rebuilt once).
3: `grid_custody`, the extended cells (rows R..2R-1) of custody columns; opening an older file derives
them from the custody cells it holds (`compute_extended_custody`)."""
WHOLE_ROW_READ_COLUMNS = 24
"""From this many columns of one row, `get_extension_cells` reads the row's record in one go (still one
row at a time) instead of seeking to each cell: measured on one 58-row blob, 8 columns in place took a
third of the time of reading the rows whole, and the two meet at about 24 (bench/bench_stream.py)."""
ROWS_PER_LOOKUP = 256
"""Rows looked up per query by `get_extension_cells` (SQLite's bound parameters stay far below 999)."""
HEADER_TREE_KEY = "max_rows_per_blob"
"""The `meta` key recording the header Merkle tree's shape (`MAX_ROWS_PER_BLOB`, the row list's limit)
the file's data roots were computed under: a file with another value, or none, is another protocol's."""
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blobs (
    data_root BLOB PRIMARY KEY,
    content_hash BLOB NOT NULL UNIQUE,
    header BLOB NOT NULL,
    data BLOB,
    status TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    quorum INTEGER NOT NULL,
    signed_slots INTEGER NOT NULL DEFAULT 0,
    threshold INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS headers (
    data_root BLOB PRIMARY KEY, header BLOB NOT NULL, epoch INTEGER NOT NULL, quorum INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS custody (
    data_root BLOB NOT NULL, row INTEGER NOT NULL, col INTEGER NOT NULL, sample BLOB NOT NULL,
    PRIMARY KEY (data_root, row, col)
);
CREATE TABLE IF NOT EXISTS grid_custody (
    data_root BLOB NOT NULL, row INTEGER NOT NULL, col INTEGER NOT NULL, cell BLOB NOT NULL,
    proof BLOB NOT NULL, PRIMARY KEY (data_root, row, col)
);
CREATE TABLE IF NOT EXISTS extension (
    data_root BLOB NOT NULL, row INTEGER NOT NULL, cells BLOB NOT NULL, proofs BLOB NOT NULL,
    PRIMARY KEY (data_root, row)
);
CREATE TABLE IF NOT EXISTS attestations_sent (
    data_root BLOB PRIMARY KEY, attestation BLOB NOT NULL, sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS certificates (
    data_root BLOB PRIMARY KEY, certificate BLOB NOT NULL, stored_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS expired (
    data_root BLOB PRIMARY KEY, epoch INTEGER NOT NULL, expired_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS held_promises (
    account TEXT PRIMARY KEY, cumulative TEXT NOT NULL, promise TEXT NOT NULL, settled TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_by_epoch ON blobs (epoch);
CREATE INDEX IF NOT EXISTS headers_by_epoch ON headers (epoch);
"""


class BlobStatus(enum.Enum):
    """Where a blob posted to this node stands: received -> encoded -> dispersed -> certified | failed."""

    RECEIVED = "received"
    ENCODED = "encoded"
    DISPERSED = "dispersed"
    CERTIFIED = "certified"
    FAILED = "failed"


class BlobFailure(enum.Enum):
    """Why a posted blob is `failed`: only reasons that cannot clear (specs/validator.md, Blob intake)."""

    ENCODING_MISMATCH = "encoding_mismatch"
    """Encoding the stored bytes gave another data root than the accepted header's."""
    NO_SUCH_QUORUM = "no_such_quorum"
    """The blob's epoch is known and has no quorum of the blob's index (epoch contexts are final)."""
    EPOCH_EXPIRED = "epoch_expired"
    """The blob's epoch left the availability window before it was certified."""
    STORE_WRITE_FAILED = "store_write_failed"
    """Writing its data failed (a full disk): the sequencer posts it again once the node has room."""


@dataclass(frozen=True)
class BlobRecord:
    """A blob a sequencer posted to this node, and its progress."""

    data_root: DataRoot
    header: BlobHeader
    status: BlobStatus
    epoch: Epoch
    quorum: QuorumIndex
    signed_slots: int
    threshold: int
    error: str | None
    created_at: float
    updated_at: float
    failure: BlobFailure | None = None
    """Why it failed (with `status` FAILED); `error` says it in words."""


@dataclass(frozen=True, slots=True)
class Expiry:
    """A blob whose data this node pruned: the epoch it belonged to and when (unix seconds)."""

    data_root: DataRoot
    epoch: Epoch
    expired_at: float


@dataclass(frozen=True, slots=True)
class HeldPayment:
    """A checked promise to record with its blob: `signed`, checked against `previous`, the highest
    cumulative this node held from the account when it was checked (the record refuses it if that
    changed meanwhile: another post of the account was recorded first)."""

    signed: SignedPromise
    previous: int


class HeldPromiseChanged(PromiseReplayed):
    """Raised when a promise is recorded after another of its account's: check it again against
    `held` (it is a replay unless its cumulative is above it by the blob's cost)."""

    def __init__(self, held: int) -> None:
        super().__init__(
            f"another promise of the account was recorded first (now held: {held})", held=str(held)
        )
        self.held = held


@dataclass(frozen=True, slots=True)
class HeldPromise:
    """The highest promise this node holds from an account, and what settlement has paid of it."""

    signed: SignedPromise
    settled: int

    @property
    def unsettled(self) -> int:
        """What settling it would add."""
        return self.signed.promise.cumulative - self.settled


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one `prune_expired` batch removed."""

    blobs: int
    custody_cells: int
    extension_rows: int
    free_pages: int
    """Free pages left in the file after reclaiming (0 when every freed page went back)."""
    data_roots: tuple[DataRoot, ...] = ()
    """The blobs pruned."""


def compute_content_hash(data: bytes) -> bytes:
    """SHA-256 of a blob's bytes: how a repeated POST of the same bytes is recognised."""
    return hashlib.sha256(data).digest()


class NodeStore:
    """The daemon's SQLite store (one per validator process)."""

    def __init__(self, path: Path) -> None:
        """Open (or create) the store at `path`; raises `StoreOfAnotherProtocol`, the file unchanged,
        when it was written under another header tree (see `check_store_protocol`)."""
        self.path = path
        self._lock = threading.RLock()
        check_store_protocol(path)
        self._db = connect(path)
        self.rebuilt = ensure_incremental_vacuum(self._db)
        """True if opening rebuilt a file made before incremental vacuum (one `VACUUM`)."""
        had_custody = self._has_table("custody")
        self._db.executescript(_SCHEMA)
        (stored,) = self._db.execute(
            "SELECT COALESCE((SELECT value FROM meta WHERE key = 'schema_version'), '0')"
        ).fetchone()
        self.migrated_grid_cells = 0
        """Extended custody cells derived on opening a file of schema < 3 (0 otherwise)."""
        if had_custody and int(stored) < 3:
            self.migrated_grid_cells = self._derive_grid_custody()
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES (?, ?)", (HEADER_TREE_KEY, str(MAX_ROWS_PER_BLOB))
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(blobs)")}
        if "failure" not in columns:  # files written before blobs carried a typed failure
            self._db.execute("ALTER TABLE blobs ADD COLUMN failure TEXT")

    def _has_table(self, name: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    def _derive_grid_custody(self) -> int:
        """Derive and store the extended cells of every custody column held in whole (a file written
        before custody spanned the 2D grid); returns how many cells were stored."""
        stored = 0
        for data_root, header_bytes in self._db.execute("SELECT data_root, header FROM headers").fetchall():
            header = bytes_to_header(bytes(header_bytes))
            columns = [
                column
                for (column,) in self._db.execute(
                    "SELECT DISTINCT col FROM custody WHERE data_root = ?", (data_root,)
                ).fetchall()
            ]
            with transaction(self._db) as db:
                stored += self._extend_columns(db, header, DataRoot(bytes(data_root)), columns)
        if stored:
            log.info("derived extended custody cells of an older store", cells=stored, path=str(self.path))
        return stored

    @serialized
    def close(self) -> None:
        """Close the file."""
        self._db.close()

    # --- blobs posted to this node ---------------------------------------------------------------

    @serialized
    def find_blob_by_content(self, data: bytes) -> BlobRecord | None:
        """The record of a blob with exactly these bytes, if it was posted before."""
        row = self._db.execute(
            "SELECT data_root FROM blobs WHERE content_hash = ?", (compute_content_hash(data),)
        ).fetchone()
        return None if row is None else self.get_blob(DataRoot(row[0]))

    @serialized
    def forget_failed_blob(self, data_root: DataRoot) -> bool:
        """Forget a posted blob that failed for a reason a new post clears (`STORE_WRITE_FAILED`,
        `EPOCH_EXPIRED`): its record, extension and expiry go, so the same bytes posted again are a
        new blob with a fresh assignment. False (nothing changed) for any other blob."""
        retryable = (BlobFailure.STORE_WRITE_FAILED.value, BlobFailure.EPOCH_EXPIRED.value)
        with transaction(self._db) as db:
            row = db.execute(
                "SELECT 1 FROM blobs WHERE data_root = ? AND status = ? AND failure IN (?, ?)",
                (data_root, BlobStatus.FAILED.value, *retryable),
            ).fetchone()
            if row is None:
                return False
            for table in ("blobs", "extension", "expired"):
                db.execute(f"DELETE FROM {table} WHERE data_root = ?", (data_root,))  # noqa: S608
        return True

    @serialized
    def add_blob(
        self,
        data: bytes,
        header: BlobHeader,
        data_root: DataRoot,
        epoch: Epoch,
        quorum: QuorumIndex,
        threshold: int,
        rows: Sequence[EncodedRow] = (),
        payment: HeldPayment | None = None,
    ) -> BlobRecord:
        """Record an accepted blob (idempotent: the same bytes give the same record); durable when it
        returns. Without `rows` it is `received` (to be encoded; its bytes kept until then); with them
        `encoded` (see `put_extension`), and its bytes are not kept (the extension holds them).
        `payment`, the blob's checked promise, becomes the account's held promise in the same
        transaction (the blob is stored if and only if its promise is); `HeldPromiseChanged` (nothing
        stored) when the account's held promise is no longer the one it was checked against."""
        now = time.time()
        status = BlobStatus.ENCODED if rows else BlobStatus.RECEIVED
        with transaction(self._db) as db:
            if payment is not None:
                held = self._held(db, payment.signed.promise.account)
                current = 0 if held is None else held.signed.promise.cumulative
                if current != payment.previous:
                    raise HeldPromiseChanged(current)
            db.executemany(
                "INSERT OR IGNORE INTO extension VALUES (?, ?, ?, ?)", _extension_rows(data_root, rows)
            )
            cursor = db.execute(
                "INSERT OR IGNORE INTO blobs (data_root, content_hash, header, data, status, epoch, quorum, "
                "threshold, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    data_root,
                    compute_content_hash(data),
                    header_to_bytes(header),
                    None if rows else data,
                    status.value,
                    epoch,
                    quorum,
                    threshold,
                    now,
                    now,
                ),
            )
            if payment is not None and cursor.rowcount == 1:  # a blob held already costs nothing again
                promise = payment.signed.promise
                db.execute(
                    "INSERT INTO held_promises VALUES (?, ?, ?, '0', ?) ON CONFLICT (account) DO UPDATE SET "
                    "cumulative = excluded.cumulative, promise = excluded.promise, "
                    "updated_at = excluded.updated_at",
                    (promise.account, str(promise.cumulative), encode_payment_header(payment.signed), now),
                )
        record = self.get_blob(data_root)
        if record is None:
            raise sqlite3.DatabaseError("blob vanished right after it was written")
        return record

    @serialized
    def put_extension(self, data_root: DataRoot, rows: Sequence[EncodedRow]) -> None:
        """Store a received blob's whole extension, one record per row (cells and proofs concatenated:
        2.4 MiB for a 1 MiB blob), mark it `encoded` and drop its raw bytes (the extension's first 64
        cells of each row are them), in one transaction: the encoding node stays a replica of every
        column after a certificate or a restart."""
        with transaction(self._db) as db:
            db.executemany(
                "INSERT OR IGNORE INTO extension VALUES (?, ?, ?, ?)", _extension_rows(data_root, rows)
            )
            db.execute(
                "UPDATE blobs SET status = ?, updated_at = ? WHERE data_root = ? AND status = ?",
                (BlobStatus.ENCODED.value, time.time(), data_root, BlobStatus.RECEIVED.value),
            )
            db.execute("UPDATE blobs SET data = NULL WHERE data_root = ?", (data_root,))

    @serialized
    def update_blob(
        self,
        data_root: DataRoot,
        status: BlobStatus,
        *,
        signed_slots: int | None = None,
        error: str | None = None,
        failure: BlobFailure | None = None,
    ) -> None:
        """Move a blob to `status` (a certified blob stays certified; signed weight only grows);
        `failure` (with FAILED) says why, in a type."""
        with transaction(self._db) as db:
            db.execute(
                "UPDATE blobs SET status = CASE WHEN status = 'certified' THEN status ELSE ? END, "
                "signed_slots = MAX(signed_slots, COALESCE(?, signed_slots)), "
                "error = COALESCE(?, error), failure = COALESCE(?, failure), updated_at = ? "
                "WHERE data_root = ?",
                (
                    status.value,
                    signed_slots,
                    error,
                    None if failure is None else failure.value,
                    time.time(),
                    data_root,
                ),
            )

    @serialized
    def get_blob(self, data_root: DataRoot) -> BlobRecord | None:
        """A blob posted to this node."""
        row = self._db.execute(
            "SELECT header, status, epoch, quorum, signed_slots, threshold, error, created_at, updated_at, "
            "failure FROM blobs WHERE data_root = ?",
            (data_root,),
        ).fetchone()
        if row is None:
            return None
        return BlobRecord(
            DataRoot(data_root),
            bytes_to_header(row[0]),
            BlobStatus(row[1]),
            Epoch(row[2]),
            QuorumIndex(row[3]),
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            None if row[9] is None else BlobFailure(row[9]),
        )

    @serialized
    def get_blob_data(self, data_root: DataRoot) -> bytes | None:
        """The original bytes of a blob posted to this node: as posted while it waits to be encoded,
        then unpacked from its stored extension (cells 0..63 of each row are the packed row, so no
        KZG work); None once pruned, or for a blob this node did not take."""
        row = self._db.execute("SELECT data, header FROM blobs WHERE data_root = ?", (data_root,)).fetchone()
        if row is None:
            return None
        if row[0] is not None:
            return bytes(row[0])
        header = bytes_to_header(bytes(row[1]))
        (rows,) = self._db.execute(
            "SELECT COUNT(*) FROM extension WHERE data_root = ?", (data_root,)
        ).fetchone()
        if rows != header.row_count:
            return None
        half = CELLS_NEEDED_TO_RECOVER_ROW * BYTES_PER_CELL
        unpacker = BlobUnpacker(header.byte_length)  # a row at a time: the blob's bytes, not its rows too
        cursor = self._db.execute(
            "SELECT substr(cells, 1, ?) FROM extension WHERE data_root = ? ORDER BY row", (half, data_root)
        )
        for (cells,) in cursor:
            unpacker.add([RowBytes(bytes(cells))])
        return unpacker.finish()

    @serialized
    def unfinished_blobs(self) -> list[BlobRecord]:
        """Blobs not yet certified or failed (to resume after a restart)."""
        rows = self._db.execute(
            "SELECT data_root FROM blobs WHERE status NOT IN (?, ?) ORDER BY created_at",
            (BlobStatus.CERTIFIED.value, BlobStatus.FAILED.value),
        ).fetchall()
        return [record for (root,) in rows if (record := self.get_blob(DataRoot(root))) is not None]

    # --- payment promises held (the highest per account) ---------------------------------------------

    @serialized
    def held_promise(self, account: str) -> HeldPromise | None:
        """The highest promise this node holds from `account` (a checksummed address)."""
        return self._held(self._db, account)

    @serialized
    def promises_to_settle(self, limit: int) -> list[HeldPromise]:
        """Up to `limit` held promises above what settlement has paid of them, the largest unpaid
        amounts first."""
        rows = self._db.execute("SELECT promise, settled FROM held_promises WHERE cumulative != settled")
        held = [HeldPromise(decode_payment_header(promise), int(settled)) for promise, settled in rows]
        return sorted((h for h in held if h.unsettled > 0), key=lambda h: -h.unsettled)[:limit]

    @serialized
    def mark_settled(self, account: str, settled: int) -> None:
        """Record that settlement has paid `settled` (cumulative) of `account`'s held promise; it
        only grows."""
        with transaction(self._db) as db:
            held = self._held(db, account)
            if held is not None and settled > held.settled:
                db.execute("UPDATE held_promises SET settled = ? WHERE account = ?", (str(settled), account))

    @staticmethod
    def _held(db: sqlite3.Connection, account: str) -> HeldPromise | None:
        row = db.execute(
            "SELECT promise, settled FROM held_promises WHERE account = ?", (account,)
        ).fetchone()
        return None if row is None else HeldPromise(decode_payment_header(row[0]), int(row[1]))

    # --- headers and custody (as a quorum member) ---------------------------------------------------

    def put_custody(
        self,
        header: BlobHeader,
        data_root: DataRoot,
        epoch: Epoch,
        quorum: QuorumIndex,
        samples: Iterable[Sample],
    ) -> int:
        """Durably store verified custody cells with their header; returns how many were stored.

        Custody spans the 2D grid: before this returns, every column these cells complete (all R
        original cells now held, in this push or earlier ones) gets its R extended cells derived and
        stored (`compute_extended_custody`), so what is acknowledged is served over rows 0..2R-1. The
        derivation (about 0.17 s a column at R = 265) runs outside the store's lock, between two short
        transactions: sample requests are answered meanwhile. A crash in between leaves the original
        cells stored and unacknowledged; the re-push they wait for derives the columns again."""
        samples = list(samples)
        rows = [(data_root, s.row, s.column, sample_to_bytes(s)) for s in samples]
        with self._lock, transaction(self._db) as db:
            db.execute(
                "INSERT OR IGNORE INTO headers VALUES (?, ?, ?, ?)",
                (data_root, header_to_bytes(header), epoch, quorum),
            )
            db.executemany("INSERT OR REPLACE INTO custody VALUES (?, ?, ?, ?)", rows)
        for column in sorted({s.column for s in samples}):
            extended = compute_extended_custody(header, self._custody_column(data_root, column))
            if extended:
                with self._lock, transaction(self._db) as db:
                    db.executemany(
                        "INSERT OR REPLACE INTO grid_custody VALUES (?, ?, ?, ?, ?)",
                        _grid_rows(data_root, extended),
                    )
        return len(rows)

    @serialized
    def _custody_column(self, data_root: DataRoot, column: int) -> list[Sample]:
        """The custody cells held of one column of `data_root`, rows ascending."""
        return _held_column(self._db, data_root, column)

    def _extend_columns(
        self, db: sqlite3.Connection, header: BlobHeader, data_root: DataRoot, columns: Iterable[int]
    ) -> int:
        """Derive and insert the extended cells of those of `columns` whose R original cells are all
        held (inside the caller's transaction); returns how many cells were inserted."""
        inserted = 0
        for column in columns:
            extended = compute_extended_custody(header, _held_column(db, data_root, column))
            db.executemany(
                "INSERT OR REPLACE INTO grid_custody VALUES (?, ?, ?, ?, ?)", _grid_rows(data_root, extended)
            )
            inserted += len(extended)
        return inserted

    @serialized
    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Iterable[CellCoordinate]
    ) -> list[GridSample | None]:
        """The stored cells of the blob's 2D grid at `coordinates` (None where this node holds none):
        original rows from the custody cells, extended rows from `grid_custody`."""
        known = self._db.execute("SELECT header FROM headers WHERE data_root = ?", (data_root,)).fetchone()
        coordinates = list(coordinates)
        if known is None:
            return [None] * len(coordinates)
        row_count = bytes_to_header(bytes(known[0])).row_count
        result: list[GridSample | None] = []
        for coordinate in coordinates:
            if coordinate.row < row_count:
                row = self._db.execute(
                    "SELECT sample FROM custody WHERE data_root = ? AND row = ? AND col = ?",
                    (data_root, coordinate.row, coordinate.column),
                ).fetchone()
                if row is None:
                    result.append(None)
                    continue
                sample = bytes_to_sample(bytes(row[0]))
                result.append(GridSample(sample.row, sample.column, sample.cell, sample.proof))
                continue
            row = self._db.execute(
                "SELECT cell, proof FROM grid_custody WHERE data_root = ? AND row = ? AND col = ?",
                (data_root, coordinate.row, coordinate.column),
            ).fetchone()
            result.append(
                None
                if row is None
                else GridSample(
                    coordinate.row, coordinate.column, Cell(bytes(row[0])), KZGProof(bytes(row[1]))
                )
            )
        return result

    @serialized
    def unattested_custody_epochs(self) -> set[Epoch]:
        """The epochs of blobs this node holds custody of and has neither attested nor seen
        certified: duties a previous run may have left unfinished."""
        rows = self._db.execute(
            "SELECT DISTINCT epoch FROM headers WHERE data_root NOT IN (SELECT data_root FROM "
            "attestations_sent) AND data_root NOT IN (SELECT data_root FROM certificates)"
        ).fetchall()
        return {Epoch(epoch) for (epoch,) in rows}

    @serialized
    def get_header(self, data_root: DataRoot) -> tuple[BlobHeader, Epoch, QuorumIndex] | None:
        """A known header with the epoch and quorum it was dispersed to."""
        row = self._db.execute(
            "SELECT header, epoch, quorum FROM headers WHERE data_root = ?", (data_root,)
        ).fetchone()
        if row is None:
            record = self.get_blob(data_root)
            return None if record is None else (record.header, record.epoch, record.quorum)
        return bytes_to_header(row[0]), Epoch(row[1]), QuorumIndex(row[2])

    @serialized
    def get_samples(self, data_root: DataRoot, coordinates: Iterable[CellCoordinate]) -> list[Sample | None]:
        """The stored custody cells at `coordinates` (None where this node holds none)."""
        result: list[Sample | None] = []
        for coordinate in coordinates:
            row = self._db.execute(
                "SELECT sample FROM custody WHERE data_root = ? AND row = ? AND col = ?",
                (data_root, coordinate.row, coordinate.column),
            ).fetchone()
            result.append(None if row is None else bytes_to_sample(bytes(row[0])))
        return result

    @serialized
    def has_extension(self, data_root: DataRoot) -> bool:
        """Whether this node stored the whole extension of `data_root` (one record per row)."""
        record = self.get_blob(data_root)
        if record is None:
            return False
        (rows,) = self._db.execute(
            "SELECT COUNT(*) FROM extension WHERE data_root = ?", (data_root,)
        ).fetchone()
        return int(rows) == record.header.row_count

    @serialized
    def get_extension_cells(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[tuple[Cell, KZGProof] | None] | None:
        """The cells and proofs at `coordinates` of a blob this node encoded, read in place: incremental
        blob I/O (`blobopen`) on each asked row's `cells` and `proofs` reads the 2,048 + 48 bytes of
        each asked cell, never the row's 262 KiB. None per coordinate outside the stored matrix; None
        if this node holds no extension of the blob."""
        asked_rows = sorted({c.row for c in coordinates if 0 <= c.row < 2**63})
        rowids: dict[int, int] = {}
        for start in range(0, len(asked_rows), ROWS_PER_LOOKUP):
            chunk = asked_rows[start : start + ROWS_PER_LOOKUP]
            marks = ", ".join("?" * len(chunk))
            rowids.update(
                self._db.execute(
                    f"SELECT row, rowid FROM extension WHERE data_root = ? AND row IN ({marks})",  # noqa: S608
                    (data_root, *chunk),
                ).fetchall()
            )
        if (
            not rowids
            and not self._db.execute(
                "SELECT 1 FROM extension WHERE data_root = ? LIMIT 1", (data_root,)
            ).fetchone()
        ):
            return None
        by_row: dict[int, list[int]] = {}
        for coordinate in coordinates:
            if coordinate.row in rowids and 0 <= coordinate.column < CELLS_PER_ROW:
                by_row.setdefault(coordinate.row, []).append(coordinate.column)
        found: dict[tuple[int, int], tuple[Cell, KZGProof]] = {}
        for row, columns in by_row.items():
            for column, cell, proof in _read_cells(self._db, rowids[row], sorted(set(columns))):
                found[(row, column)] = (cell, proof)
        return [found.get((c.row, c.column)) for c in coordinates]

    @serialized
    def get_extension(self, data_root: DataRoot) -> EncodedBlob | None:
        """The whole extension of a blob this node encoded (None for any other blob), rebuilt from its
        stored rows and the blob's header; raises `sqlite3.DatabaseError` if they disagree. It holds
        2.4 MiB per MiB of blob at once: for tests and tools only; the node's paths read cells in
        place (`get_extension_cells`)."""
        record = self.get_blob(data_root)
        stored = self._db.execute(
            "SELECT cells, proofs FROM extension WHERE data_root = ? ORDER BY row", (data_root,)
        ).fetchall()
        if record is None or not stored:
            return None
        if len(stored) != record.header.row_count:
            raise sqlite3.DatabaseError(f"{len(stored)} extension rows stored for {record.header.row_count}")
        rows = [
            EncodedRow(
                commitment,
                tuple(
                    Cell(bytes(cells[i : i + BYTES_PER_CELL])) for i in range(0, len(cells), BYTES_PER_CELL)
                ),
                tuple(
                    KZGProof(bytes(proofs[i : i + BYTES_PER_PROOF]))
                    for i in range(0, len(proofs), BYTES_PER_PROOF)
                ),
            )
            for commitment, (cells, proofs) in zip(record.header.row_commitments, stored, strict=True)
        ]
        encoded = assemble_encoded_blob(record.header.byte_length, rows)
        if encoded.data_root != data_root:
            raise sqlite3.DatabaseError(f"stored extension of 0x{data_root.hex()} does not match its root")
        return encoded

    @serialized
    def custody_coordinates(self, data_root: DataRoot) -> list[CellCoordinate]:
        """Every coordinate this node holds for `data_root`."""
        rows = self._db.execute(
            "SELECT row, col FROM custody WHERE data_root = ? ORDER BY row, col", (data_root,)
        ).fetchall()
        return [CellCoordinate(RowIndex(r), ColumnIndex(c)) for r, c in rows]

    @serialized
    def count_custody_cells(self) -> int:
        """Custody cells held in all."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM custody").fetchone()
        return int(count)

    # --- attestations and certificates ---------------------------------------------------------------

    @serialized
    def put_attestation_sent(self, attestation: Attestation) -> None:
        """Record that this node attested (before the attestation leaves the process)."""
        with transaction(self._db) as db:
            db.execute(
                "INSERT OR IGNORE INTO attestations_sent VALUES (?, ?, ?)",
                (attestation.data_root, attestation_to_bytes(attestation), time.time()),
            )

    @serialized
    def attestations_sent(self) -> list[Attestation]:
        """Every attestation this node sent (restored into the core after a restart)."""
        rows = self._db.execute("SELECT attestation FROM attestations_sent ORDER BY sent_at").fetchall()
        return [bytes_to_attestation(bytes(row[0])) for row in rows]

    @serialized
    def put_certificate(self, certificate: Certificate) -> bool:
        """Store a certificate; False if one was already stored for its data root."""
        with transaction(self._db) as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO certificates VALUES (?, ?, ?)",
                (certificate.data_root, certificate_to_bytes(certificate), time.time()),
            )
        return cursor.rowcount == 1

    @serialized
    def get_certificate(self, data_root: DataRoot) -> Certificate | None:
        """The certificate of `data_root`, if this node has it."""
        row = self._db.execute(
            "SELECT certificate FROM certificates WHERE data_root = ?", (data_root,)
        ).fetchone()
        return None if row is None else bytes_to_certificate(bytes(row[0]))

    # --- retention ---------------------------------------------------------------------------------------

    @serialized
    def prune_expired(self, before: Epoch, limit: int, now: float, reclaim_pages: int) -> PruneResult:
        """Prune up to `limit` blobs of epochs before `before` not pruned yet (one transaction): their
        custody cells, extension, attestation sent and raw bytes are deleted, a blob still unfinished
        is marked failed, and each is recorded in `expired` with `now`; headers, blob records and
        certificates stay. Then up to `reclaim_pages` freed pages go back to the file system."""
        roots = self._db.execute(
            "SELECT data_root, epoch FROM headers WHERE epoch < ?1 "
            "AND data_root NOT IN (SELECT data_root FROM expired) "
            "UNION SELECT data_root, epoch FROM blobs WHERE epoch < ?1 "
            "AND data_root NOT IN (SELECT data_root FROM expired) LIMIT ?2",
            (before, limit),
        ).fetchall()
        cells = rows = 0
        with transaction(self._db) as db:
            for data_root, epoch in roots:
                cells += db.execute("DELETE FROM custody WHERE data_root = ?", (data_root,)).rowcount
                db.execute("DELETE FROM grid_custody WHERE data_root = ?", (data_root,))
                rows += db.execute("DELETE FROM extension WHERE data_root = ?", (data_root,)).rowcount
                db.execute("DELETE FROM attestations_sent WHERE data_root = ?", (data_root,))
                db.execute(
                    "UPDATE blobs SET data = NULL, updated_at = ?, "
                    "error = CASE WHEN status IN ('certified', 'failed') THEN error "
                    "ELSE 'expired before it was certified' END, "
                    "failure = CASE WHEN status IN ('certified', 'failed') THEN failure ELSE ? END, "
                    "status = CASE WHEN status = 'certified' THEN status ELSE 'failed' END "
                    "WHERE data_root = ?",
                    (now, BlobFailure.EPOCH_EXPIRED.value, data_root),
                )
                db.execute("INSERT OR IGNORE INTO expired VALUES (?, ?, ?)", (data_root, epoch, now))
        free = reclaim_free_pages(self._db, reclaim_pages)
        if roots:  # the WAL keeps its size until a truncating checkpoint: give that space back too
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return PruneResult(len(roots), cells, rows, free, tuple(DataRoot(bytes(r)) for r, _ in roots))

    @serialized
    def get_expiry(self, data_root: DataRoot) -> Expiry | None:
        """When this node pruned `data_root`'s data (None if it did not)."""
        row = self._db.execute(
            "SELECT epoch, expired_at FROM expired WHERE data_root = ?", (data_root,)
        ).fetchone()
        return None if row is None else Expiry(data_root, Epoch(row[0]), float(row[1]))

    @serialized
    def file_bytes(self) -> int:
        """Bytes the store's pages take (page count x page size; the WAL not included)."""
        (pages,) = self._db.execute("PRAGMA page_count").fetchone()
        (size,) = self._db.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(size)


def _held_column(db: sqlite3.Connection, data_root: DataRoot, column: int) -> list[Sample]:
    """The custody cells held of one column of `data_root`, rows ascending (the caller holds the lock)."""
    return [
        bytes_to_sample(bytes(sample))
        for (sample,) in db.execute(
            "SELECT sample FROM custody WHERE data_root = ? AND col = ? ORDER BY row", (data_root, column)
        )
    ]


def _grid_rows(
    data_root: DataRoot, samples: Iterable[GridSample]
) -> list[tuple[bytes, int, int, bytes, bytes]]:
    return [(data_root, s.row, s.column, s.cell, s.proof) for s in samples]


def _extension_rows(
    data_root: DataRoot, rows: Sequence[EncodedRow]
) -> Iterator[tuple[bytes, int, bytes, bytes]]:
    """One record per row, joined as `executemany` takes it (one row's 262 KiB at a time, never the
    whole extension a second time)."""
    for index, row in enumerate(rows):
        yield data_root, index, b"".join(row.cells), b"".join(row.proofs)


def check_store_protocol(path: Path) -> None:
    """Raise `StoreOfAnotherProtocol` when the file at `path` holds a store whose `meta` does not record
    this build's header tree (`HEADER_TREE_KEY` = `MAX_ROWS_PER_BLOB`): one written by an older build
    records none, and its data roots were computed under another tree. Read-only: the file is never
    changed. A missing or empty file (a new store) passes."""
    if not path.exists() or path.stat().st_size == 0:
        return
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            return
        found = None
        if "meta" in tables:
            found = db.execute("SELECT value FROM meta WHERE key = ?", (HEADER_TREE_KEY,)).fetchone()
    finally:
        db.close()
    stored = None if found is None else str(found[0])
    if stored != str(MAX_ROWS_PER_BLOB):
        raise StoreOfAnotherProtocol(str(path), stored, MAX_ROWS_PER_BLOB)


def _read_cells(
    db: sqlite3.Connection, rowid: int, columns: Sequence[int]
) -> Iterator[tuple[int, Cell, KZGProof]]:
    """Columns' cells and proofs of one extension record, by offset in its BLOBs (`blobopen`); raises
    `sqlite3.DatabaseError` if a BLOB is shorter than a whole row's."""
    with (
        db.blobopen("extension", "cells", rowid, readonly=True) as cells,
        db.blobopen("extension", "proofs", rowid, readonly=True) as proofs,
    ):
        if len(cells) != CELLS_PER_ROW * BYTES_PER_CELL or len(proofs) != CELLS_PER_ROW * BYTES_PER_PROOF:
            raise sqlite3.DatabaseError(f"extension record {rowid} is not a whole row")
        if len(columns) >= WHOLE_ROW_READ_COLUMNS:  # one read of the row beats this many seeks
            row_cells, row_proofs = cells.read(), proofs.read()
            for column in columns:
                yield (
                    column,
                    Cell(row_cells[column * BYTES_PER_CELL : (column + 1) * BYTES_PER_CELL]),
                    KZGProof(row_proofs[column * BYTES_PER_PROOF : (column + 1) * BYTES_PER_PROOF]),
                )
            return
        for column in columns:
            cells.seek(column * BYTES_PER_CELL)
            proofs.seek(column * BYTES_PER_PROOF)
            yield column, Cell(cells.read(BYTES_PER_CELL)), KZGProof(proofs.read(BYTES_PER_PROOF))
