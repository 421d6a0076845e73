"""A sequencer that uploads inconsistent encodings, against the node's check (invariant S7).

Each example takes a real blob's honest upload (real ckzg commitments and proofs) and lets the
sequencer scramble it 0-3 times: a proof replaced by another real proof, two proofs swapped, a proof
with a flipped bit, a commitment replaced (the claimed data root recomputed over it, or not), a
blob byte flipped, a wrong data root, and on the bytes a truncation, a wrong row count or a wrong
length. The node's path (`bytes_to_upload`, then `validate_upload`) must then either refuse with a
typed `DAError` naming the first cell that is not the honest encoding's, or accept, and only the
honest encoding of the upload's bytes (specs/consensus.md, S7).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import random

from hypothesis import currently_in_test_context, given, settings
from hypothesis import strategies as st

from da import (
    CommitmentMismatch,
    DAConfig,
    DAError,
    EncodedBlob,
    InvalidCellProof,
    bytes_to_upload,
    compute_data_root,
    compute_upload,
    encode_blob,
    upload_to_bytes,
    validate_upload,
)
from da.constants import CELLS_PER_ROW, USABLE_BYTES_PER_ROW
from da.types import DataRoot, KZGCommitment, KZGProof
from da.upload import EncodedUpload
from fuzz.invariants import STATS, record_event
from fuzz.world import get_blobs, get_kzg

CONFIG = DAConfig()


def _note(label: str) -> None:
    """Count an event (and label it for Hypothesis when inside one of its tests)."""
    if currently_in_test_context():
        record_event(label)
    else:
        STATS.events[label] += 1


class Scramble(enum.Enum):
    """One way the sequencer makes its upload inconsistent."""

    OTHER_PROOF = "a proof replaced by another real proof"
    SWAP_PROOFS = "two proofs swapped"
    FLIP_PROOF_BIT = "a proof with a flipped bit"
    FOREIGN_COMMITMENT = "a commitment replaced, the claimed root recomputed"
    FOREIGN_COMMITMENT_OLD_ROOT = "a commitment replaced, the honest root claimed"
    FLIP_DATA_BYTE = "a blob byte flipped"
    WRONG_ROOT = "a wrong data root"
    TRUNCATE = "the bytes truncated"
    ROW_COUNT = "a wrong row count"
    LENGTH = "a wrong byte length"


@functools.cache
def get_two_row_blob() -> tuple[bytes, EncodedBlob]:
    """A blob of two rows (so scrambles can cross rows), encoded once per process."""
    data = random.Random(28).randbytes(USABLE_BYTES_PER_ROW + 3000)
    return data, encode_blob(data, get_kzg())


def get_honest_uploads() -> list[tuple[bytes, EncodedBlob]]:
    """The blobs the sequencer uploads: a one-row one and a two-row one."""
    one_row = get_blobs()[0]
    # The fuzz world keeps encodings only; a one-row blob's bytes are rebuilt from its cells.
    data = _blob_bytes(one_row)
    return [(data, one_row), get_two_row_blob()]


def _blob_bytes(encoded: EncodedBlob) -> bytes:
    from da.packing import unpack_rows  # noqa: PLC0415 - numpy only when this fuzzer runs
    from da.types import RowBytes  # noqa: PLC0415

    rows = [RowBytes(b"".join(row.cells[: CELLS_PER_ROW // 2])) for row in encoded.rows]
    return unpack_rows(rows, encoded.header.byte_length)


def _with_proof(upload: EncodedUpload, row: int, column: int, proof: bytes) -> EncodedUpload:
    proofs = [list(row_proofs) for row_proofs in upload.proofs]
    proofs[row][column] = KZGProof(proof)
    return dataclasses.replace(upload, proofs=tuple(tuple(p) for p in proofs))


def scramble(upload: EncodedUpload, how: Scramble, draw: st.DrawFn) -> EncodedUpload | bytes:
    """Apply one scramble: a changed upload, or (byte-level scrambles) its changed bytes."""
    rows = len(upload.row_commitments)
    row = draw(st.integers(0, rows - 1))
    column = draw(st.integers(0, CELLS_PER_ROW - 1))
    if how is Scramble.OTHER_PROOF:
        source = upload.proofs[draw(st.integers(0, rows - 1))][draw(st.integers(0, CELLS_PER_ROW - 1))]
        return _with_proof(upload, row, column, source)
    if how is Scramble.SWAP_PROOFS:
        other_row, other_column = draw(st.integers(0, rows - 1)), draw(st.integers(0, CELLS_PER_ROW - 1))
        first, second = upload.proofs[row][column], upload.proofs[other_row][other_column]
        return _with_proof(_with_proof(upload, row, column, second), other_row, other_column, first)
    if how is Scramble.FLIP_PROOF_BIT:
        proof = bytearray(upload.proofs[row][column])
        proof[draw(st.integers(0, len(proof) - 1))] ^= 1 << draw(st.integers(0, 7))
        return _with_proof(upload, row, column, bytes(proof))
    if how in (Scramble.FOREIGN_COMMITMENT, Scramble.FOREIGN_COMMITMENT_OLD_ROOT):
        pool = [c for _, blob in get_honest_uploads() for c in blob.header.row_commitments]
        commitments = list(upload.row_commitments)
        commitments[row] = KZGCommitment(draw(st.sampled_from(pool)))
        changed = dataclasses.replace(upload, row_commitments=tuple(commitments))
        if how is Scramble.FOREIGN_COMMITMENT:
            changed = dataclasses.replace(changed, data_root=compute_data_root(changed.header))
        return changed
    if how is Scramble.FLIP_DATA_BYTE:
        data = bytearray(upload.data)
        data[draw(st.integers(0, len(data) - 1))] ^= 1 << draw(st.integers(0, 7))
        return dataclasses.replace(upload, data=bytes(data))
    if how is Scramble.WRONG_ROOT:
        return dataclasses.replace(upload, data_root=DataRoot(draw(st.binary(min_size=32, max_size=32))))
    body = upload_to_bytes(upload)
    if how is Scramble.TRUNCATE:
        return body[: draw(st.integers(0, len(body) - 1))]
    if how is Scramble.ROW_COUNT:
        return body[:16] + draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little") + body[24:]
    return body[:8] + draw(st.integers(0, 2**64 - 1)).to_bytes(8, "little") + body[16:]


def check_s7_upload(body: bytes, honest: EncodedBlob, honest_data: bytes) -> list[str]:
    """S7: the node's check of `body` accepts exactly the honest encoding of its bytes, and a refusal
    names the first cell (or commitment) that is not the honest one's. `honest` encodes
    `honest_data`, the blob the sequencer started from."""
    STATS.checks["S7"] += 1
    try:
        upload = bytes_to_upload(body, CONFIG)
    except DAError as error:
        _note(f"S7: refused on decoding ({type(error).__name__})")
        return []
    is_honest = upload == compute_upload(honest_data, honest)
    try:
        accepted = validate_upload(upload, get_kzg(), CONFIG)
    except DAError as error:
        _note(f"S7: refused ({type(error).__name__})")
        if is_honest:
            return [f"S7: the honest upload was refused: {error}"]
        return _check_named(upload, honest, honest_data, error)
    _note("S7: accepted")
    expected = honest if upload.data == honest_data else encode_blob(upload.data, get_kzg())
    if accepted != expected:
        return ["S7: an upload was taken whose extension is not the encoding of its bytes"]
    return []


def _check_named(upload: EncodedUpload, honest: EncodedBlob, data: bytes, error: DAError) -> list[str]:
    """With the honest bytes, the cell or commitment a refusal names is the first that differs."""
    if upload.data != data or not isinstance(error, InvalidCellProof | CommitmentMismatch):
        return []
    row = error.row
    commitments_differ = [r for r, c in enumerate(upload.row_commitments) if c != honest.rows[r].commitment]
    if isinstance(error, CommitmentMismatch):
        if row not in commitments_differ:
            return [f"S7: refused row {row}'s commitment, which is the row's"]
        return []
    first = next(
        (
            (r, c)
            for r in range(len(honest.rows))
            for c in range(CELLS_PER_ROW)
            if r in commitments_differ or upload.proofs[r][c] != honest.rows[r].proofs[c]
        ),
        None,
    )
    if first != (row, error.column):
        return [f"S7: refused cell ({row}, {error.column}), but the first bad one is {first}"]
    return []


@st.composite
def inconsistent_uploads(draw: st.DrawFn) -> tuple[bytes, EncodedBlob, bytes]:
    """(the upload's bytes, the honest encoding, the honest bytes): an honest upload scrambled 0-3 times."""
    data, honest = draw(st.sampled_from(get_honest_uploads()))
    upload: EncodedUpload | bytes = compute_upload(data, honest)
    for how in draw(st.lists(st.sampled_from(Scramble), max_size=3)):
        if isinstance(upload, bytes):
            break  # the bytes are already broken below the format
        _note(f"S7 scramble: {how.value}")
        upload = scramble(upload, how, draw)
    body = upload if isinstance(upload, bytes) else upload_to_bytes(upload)
    return body, honest, data


def fuzz_uploads(examples: int) -> None:
    """Run `examples` Hypothesis examples of the scrambling sequencer (raises on the first violation)."""

    @settings(max_examples=examples, deadline=None, database=None)
    @given(case=inconsistent_uploads())
    def run(case: tuple[bytes, EncodedBlob, bytes]) -> None:
        violations = check_s7_upload(*case)
        if violations:
            raise AssertionError("; ".join(violations))

    run()
