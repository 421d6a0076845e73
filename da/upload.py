"""The pre-encoded upload: a blob with its row commitments and cell proofs, made by the sequencer.

The sequencer encodes (FK20, ~0.2 s per row) and uploads the blob with its R row commitments and
128 cell proofs per row, about 1.05 x the blob's bytes (the layout of EIP-7594's blob wrapper,
version 1). The node only verifies: it packs the blob, computes the cells (no proofs: ~3 ms per
row), checks the claimed data root against the commitments and verifies every cell in one batch
(`validate_upload`), about 15 x less work than encoding. Verifying all 128 cells of a row also proves
that the row's commitment is the row's (specs/das-core.md, "Pre-encoded uploads").

Layout (integers little-endian):

| bytes | field |
| - | - |
| 0 .. 4 | `UPLOAD_MAGIC` |
| 4 .. 8 | version, uint32 (`UPLOAD_VERSION`) |
| 8 .. 16 | byte_length, uint64 |
| 16 .. 24 | row_count, uint64 |
| 24 .. 56 | the data root the sequencer computed |
| 56 .. 56 + 48 R | row commitments |
| ... + 6144 R | cell proofs, row by row, column 0..127 in each |
| ... + byte_length | the blob |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from da.config import DAConfig
from da.constants import (
    BYTES_PER_COMMITMENT,
    BYTES_PER_PROOF,
    BYTES_PER_ROOT,
    CELLS_PER_ROW,
)
from da.encoding import EncodedBlob, EncodedRow, assemble_encoded_blob
from da.errors import (
    CommitmentMismatch,
    DataRootMismatch,
    InvalidCellProof,
    InvalidKZGInput,
    InvalidUpload,
    MalformedUpload,
    RowCountMismatch,
    UploadTruncated,
)
from da.header import compute_data_root
from da.kzg import CellVerifier
from da.packing import pack_blob, validate_blob_size
from da.row_count import compute_row_count
from da.types import BlobHeader, Cell, ColumnIndex, DataRoot, KZGCommitment, KZGProof, RowBytes

"""The Content-Type of a pre-encoded upload on `POST /v1/blobs`."""
UPLOAD_MAGIC = b"TSEB"
UPLOAD_VERSION = 1
UPLOAD_PREFIX_BYTES = 4 + 4 + 8 + 8 + BYTES_PER_ROOT
"""Magic, version, byte length, row count and the claimed data root."""
PROOF_BYTES_PER_ROW = CELLS_PER_ROW * BYTES_PER_PROOF


class UploadVerifier(CellVerifier, Protocol):
    """What checking an upload needs: the cells of a row (no proofs), its commitment (only to name a
    bad commitment on the refusal path), and the batched cell check."""

    def compute_cells(self, row: RowBytes) -> list[Cell]:
        """The row's 128 extended cells."""

    def compute_row_commitment(self, row: RowBytes) -> KZGCommitment:
        """The KZG commitment to a row."""


@dataclass(frozen=True, slots=True)
class EncodedUpload:
    """A blob as a sequencer uploads it: the bytes, the data root it claims, one commitment per row
    and the 128 cell proofs of each row (`proofs[row][column]`)."""

    data: bytes
    data_root: DataRoot
    row_commitments: tuple[KZGCommitment, ...]
    proofs: tuple[tuple[KZGProof, ...], ...]

    @property
    def header(self) -> BlobHeader:
        """The header the upload's lengths and commitments make."""
        return BlobHeader(len(self.data), len(self.row_commitments), self.row_commitments)


def compute_upload_bytes(byte_length: int) -> int:
    """The size of the upload of a blob of `byte_length` bytes."""
    rows = compute_row_count(byte_length)
    return UPLOAD_PREFIX_BYTES + rows * (BYTES_PER_COMMITMENT + PROOF_BYTES_PER_ROW) + byte_length


def compute_max_upload_bytes(max_blob_bytes: int) -> int:
    """The largest upload of a blob of at most `max_blob_bytes` bytes (an HTTP body limit)."""
    return compute_upload_bytes(max_blob_bytes)


def compute_upload(data: bytes, encoded: EncodedBlob) -> EncodedUpload:
    """The upload of `data` from its encoding (what the sequencer sends)."""
    return EncodedUpload(
        data=data,
        data_root=encoded.data_root,
        row_commitments=tuple(row.commitment for row in encoded.rows),
        proofs=tuple(tuple(row.proofs) for row in encoded.rows),
    )


def upload_to_bytes(upload: EncodedUpload) -> bytes:
    """The wire form of an upload (the module docstring's layout)."""
    rows = len(upload.row_commitments)
    return b"".join(
        (
            UPLOAD_MAGIC,
            UPLOAD_VERSION.to_bytes(4, "little"),
            len(upload.data).to_bytes(8, "little"),
            rows.to_bytes(8, "little"),
            upload.data_root,
            *upload.row_commitments,
            *(proof for row in upload.proofs for proof in row),
            upload.data,
        )
    )


def bytes_to_upload(body: bytes, config: DAConfig) -> EncodedUpload:
    """Decode an upload from untrusted bytes, checking its lengths before reading anything they
    locate. Raises `MalformedUpload` (magic, version, bytes after the blob), `UploadTruncated`,
    `EmptyBlob` / `BlobTooLarge` (the byte length against `config`) or `RowCountMismatch`."""
    if len(body) < UPLOAD_PREFIX_BYTES:
        raise UploadTruncated(len(body), UPLOAD_PREFIX_BYTES)
    if body[0:4] != UPLOAD_MAGIC:
        raise MalformedUpload(f"upload starts with {body[0:4]!r}, not {UPLOAD_MAGIC!r}")
    version = int.from_bytes(body[4:8], "little")
    if version != UPLOAD_VERSION:
        raise MalformedUpload(f"upload version {version} is not supported (only {UPLOAD_VERSION})")
    byte_length = int.from_bytes(body[8:16], "little")
    row_count = int.from_bytes(body[16:24], "little")
    validate_blob_size(byte_length, config.validate())
    expected_rows = compute_row_count(byte_length)
    if row_count != expected_rows:
        raise RowCountMismatch(row_count, expected_rows, byte_length)
    expected = compute_upload_bytes(byte_length)
    if len(body) < expected:
        raise UploadTruncated(len(body), expected)
    if len(body) > expected:
        raise MalformedUpload(f"upload is {len(body)} bytes: {len(body) - expected} after the blob")
    commitments_end = UPLOAD_PREFIX_BYTES + row_count * BYTES_PER_COMMITMENT
    proofs_end = commitments_end + row_count * PROOF_BYTES_PER_ROW
    commitments = tuple(
        KZGCommitment(body[i : i + BYTES_PER_COMMITMENT])
        for i in range(UPLOAD_PREFIX_BYTES, commitments_end, BYTES_PER_COMMITMENT)
    )
    proofs = tuple(
        tuple(
            KZGProof(body[i : i + BYTES_PER_PROOF])
            for i in range(start, start + PROOF_BYTES_PER_ROW, BYTES_PER_PROOF)
        )
        for start in range(commitments_end, proofs_end, PROOF_BYTES_PER_ROW)
    )
    return EncodedUpload(
        data=body[proofs_end:],
        data_root=DataRoot(body[24:UPLOAD_PREFIX_BYTES]),
        row_commitments=commitments,
        proofs=proofs,
    )


def validate_upload(upload: EncodedUpload, verifier: UploadVerifier, config: DAConfig) -> EncodedBlob:
    """The blob's extension if the upload is consistent, else the typed refusal naming the first bad
    row or cell: `DataRootMismatch`, `CommitmentMismatch(row)` or `InvalidCellProof(row, column)`.

    Every cell of every row is checked in one batch (row by row costs ~45% more); only when the batch
    fails are rows checked one by one to name the first bad one."""
    validate_blob_size(len(upload.data), config.validate())
    rows = pack_blob(upload.data, config)
    if len(upload.row_commitments) != len(rows) or len(upload.proofs) != len(rows):
        raise RowCountMismatch(len(upload.row_commitments), len(rows), len(upload.data))
    if any(len(row_proofs) != CELLS_PER_ROW for row_proofs in upload.proofs):
        raise MalformedUpload(f"every row needs {CELLS_PER_ROW} proofs")
    header = upload.header
    computed = compute_data_root(header)
    if computed != upload.data_root:
        raise DataRootMismatch(upload.data_root, computed)
    cells = [verifier.compute_cells(row) for row in rows]
    columns = [ColumnIndex(column) for column in range(CELLS_PER_ROW)]
    if not _verify(
        verifier,
        [c for c in upload.row_commitments for _ in range(CELLS_PER_ROW)],
        columns * len(rows),
        [cell for row_cells in cells for cell in row_cells],
        [proof for row_proofs in upload.proofs for proof in row_proofs],
    ):
        _raise_first_bad(upload, verifier, rows, cells)
    encoded_rows = [
        EncodedRow(commitment, tuple(row_cells), row_proofs)
        for commitment, row_cells, row_proofs in zip(
            upload.row_commitments, cells, upload.proofs, strict=True
        )
    ]
    return assemble_encoded_blob(len(upload.data), encoded_rows)


def _verify(
    verifier: CellVerifier,
    commitments: Sequence[KZGCommitment],
    columns: Sequence[ColumnIndex],
    cells: Sequence[Cell],
    proofs: Sequence[KZGProof],
) -> bool:
    """The batched check; bytes that are not points (a proof or a commitment) do not verify."""
    try:
        return verifier.verify_cell_proof_batch(commitments, columns, cells, proofs)
    except InvalidKZGInput:
        return False


def _verify_row_cells(
    verifier: CellVerifier,
    commitment: KZGCommitment,
    cells: Sequence[Cell],
    proofs: Sequence[KZGProof],
    start: int,
    end: int,
) -> bool:
    """The batched check of one row's cells `start .. end - 1`."""
    return _verify(
        verifier,
        [commitment] * (end - start),
        [ColumnIndex(column) for column in range(start, end)],
        cells[start:end],
        proofs[start:end],
    )


def _raise_first_bad(
    upload: EncodedUpload, verifier: UploadVerifier, rows: Sequence[RowBytes], cells: Sequence[list[Cell]]
) -> None:
    """After a failed batch: the refusal naming the first row that fails alone, and in it the bad
    commitment or the first bad cell (found by halving: 7 batches for 128 cells)."""
    for index, (row, row_cells) in enumerate(zip(rows, cells, strict=True)):
        commitment, proofs = upload.row_commitments[index], upload.proofs[index]
        if _verify_row_cells(verifier, commitment, row_cells, proofs, 0, CELLS_PER_ROW):
            continue
        if verifier.compute_row_commitment(row) != commitment:
            raise CommitmentMismatch(index)
        start, end = 0, CELLS_PER_ROW
        while end - start > 1:
            middle = (start + end) // 2
            if _verify_row_cells(verifier, commitment, row_cells, proofs, start, middle):
                start = middle
            else:
                end = middle
        raise InvalidCellProof(index, start)
    raise InvalidUpload("the batch of all cells failed, but every row verified alone")
