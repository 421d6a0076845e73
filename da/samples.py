"""Samples: structural validation, verification against a data root, and the SSZ wire codec.

`verify_samples` keeps apart the two ways a sample can be bad: structurally malformed (wrong lengths,
indices out of range) raises `MalformedSample`; well-formed but wrong (a branch that does not reach
the data root, a proof that does not check, bytes that are not a curve point) returns False.
"""

from collections.abc import Callable, Sequence
from typing import TypeVar

from remerkleable.basic import uint64
from remerkleable.byte_arrays import Bytes32 as SSZBytes32
from remerkleable.byte_arrays import Bytes48, ByteVector
from remerkleable.complex import Container, Vector

from da.constants import (
    BYTES_PER_CELL,
    BYTES_PER_COMMITMENT,
    BYTES_PER_PROOF,
    BYTES_PER_ROOT,
    CELLS_PER_ROW,
    COMMITMENT_BRANCH_DEPTH,
    MAX_ROWS_PER_BLOB,
)
from da.errors import InvalidKZGInput, MalformedSample
from da.kzg import CellVerifier
from da.merkle import is_valid_commitment_branch
from da.types import (
    Bytes32,
    Cell,
    CellCoordinate,
    ColumnIndex,
    DataRoot,
    KZGCommitment,
    KZGProof,
    RowIndex,
    Sample,
    SampleValidity,
)

Item = TypeVar("Item")
"""A sample of either kind (`Sample`, `GridSample`) for `compute_batch_validity`."""


class SampleSSZ(Container):  # type: ignore[misc]
    """SSZ form of `Sample` (fixed size, `SAMPLE_BYTES`)."""

    row: uint64
    column: uint64
    cell: ByteVector[BYTES_PER_CELL]
    proof: Bytes48
    commitment: Bytes48
    commitment_branch: Vector[SSZBytes32, COMMITMENT_BRANCH_DEPTH]


SAMPLE_BYTES = (
    8
    + 8
    + BYTES_PER_CELL
    + BYTES_PER_PROOF
    + BYTES_PER_COMMITMENT
    + (COMMITMENT_BRANCH_DEPTH * BYTES_PER_ROOT)
)
"""Size of one SSZ-encoded sample."""


def check_sample_bytes(what: str, value: object, length: int) -> None:
    """`MalformedSample` unless `value` is `length` bytes."""
    if not isinstance(value, bytes):
        raise MalformedSample(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != length:
        raise MalformedSample(f"{what} is {len(value)} bytes, {length} expected")


def check_sample_index(what: str, value: object, limit: int) -> None:
    """`MalformedSample` unless `value` is an integer (not a bool) in [0, limit)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
        raise MalformedSample(f"{what} must be an integer in [0, {limit}), got {value!r}")


def validate_sample(sample: Sample) -> None:
    """Raise `MalformedSample` unless every field has the right type, length and range."""
    if not isinstance(sample, Sample):
        raise MalformedSample(f"expected a Sample, got {type(sample).__name__}")
    check_sample_index("row", sample.row, MAX_ROWS_PER_BLOB)
    check_sample_index("column", sample.column, CELLS_PER_ROW)
    check_sample_bytes("cell", sample.cell, BYTES_PER_CELL)
    check_sample_bytes("proof", sample.proof, BYTES_PER_PROOF)
    check_sample_bytes("commitment", sample.commitment, BYTES_PER_COMMITMENT)
    branch = sample.commitment_branch
    if not isinstance(branch, tuple) or len(branch) != COMMITMENT_BRANCH_DEPTH:
        raise MalformedSample(f"commitment_branch must be a tuple of {COMMITMENT_BRANCH_DEPTH} nodes")
    for level, node in enumerate(branch):
        check_sample_bytes(f"commitment_branch[{level}]", node, BYTES_PER_ROOT)


def verify_samples(data_root: DataRoot, samples: Sequence[Sample], verifier: CellVerifier) -> bool:
    """True iff every sample's branch reaches `data_root` and all KZG proofs hold (one batched call).

    An empty sequence verifies vacuously. Raises `MalformedSample` for a malformed root or sample.
    """
    check_sample_bytes("data root", data_root, BYTES_PER_ROOT)
    for sample in samples:
        validate_sample(sample)
    if not samples:
        return True
    for sample in samples:
        if not is_valid_commitment_branch(sample.commitment, sample.row, sample.commitment_branch, data_root):
            return False
    try:
        return verifier.verify_cell_proof_batch(
            [sample.commitment for sample in samples],
            [sample.column for sample in samples],
            [sample.cell for sample in samples],
            [sample.proof for sample in samples],
        )
    except InvalidKZGInput:
        # Lengths and indices were validated above, so the backend rejected a point or a scalar:
        # the bytes are well-formed on the wire but cannot be a valid proof, commitment or cell.
        return False


def compute_sample_validity(
    data_root: DataRoot, samples: Sequence[Sample], verifier: CellVerifier
) -> SampleValidity:
    """Which of `samples` verify against `data_root`, so that one bad cell never sinks a batch.

    All of them are checked in one batched call. Only when it fails is the batch halved: the left half
    is checked, and the right half too unless the left one verified (then the right must hold the bad
    sample, and is split at once). So k bad samples among n cost about 2 k log2(n) calls, not n.

    A malformed sample (wrong lengths or indices) never verifies; a malformed root raises
    `MalformedSample`, since then nothing can verify.
    """
    check_sample_bytes("data root", data_root, BYTES_PER_ROOT)
    return compute_batch_validity(samples, lambda batch: verify_samples(data_root, batch, verifier))


def compute_batch_validity(items: Sequence[Item], verify: Callable[[Sequence[Item]], bool]) -> SampleValidity:
    """Which of `items` pass `verify`, a batched check that is all or nothing (a `MalformedSample` it
    raises counts as a failure): all in one call, halved only when it fails. The left half is
    checked, and the right half too unless the left one passed (then the right must hold the bad
    item, and is split at once). So k bad items among n cost about 2 k log2(n) calls, not n."""
    valid = [False] * len(items)
    batches = 0

    def settle(start: int, end: int, known_bad: bool) -> bool:
        """Mark the items in [start, end) that pass; True iff all of them do."""
        nonlocal batches
        if not known_bad:
            batches += 1
            try:
                whole = verify(items[start:end])
            except MalformedSample:
                whole = False
            if whole:
                valid[start:end] = [True] * (end - start)
                return True
        if end - start > 1:
            middle = (start + end) // 2
            settle(middle, end, known_bad=settle(start, middle, known_bad=False))
        return False

    if items:
        settle(0, len(items), known_bad=False)
    return SampleValidity(valid=tuple(valid), batches=batches)


def compute_verified_coordinates(
    data_root: DataRoot, samples: Sequence[Sample], verifier: CellVerifier
) -> frozenset[CellCoordinate]:
    """The coordinates of the samples that verify against `data_root` (`compute_sample_validity`).

    Duplicated coordinates count once each way: a coordinate is verified if any sample at it verifies.
    """
    validity = compute_sample_validity(data_root, samples, verifier)
    return frozenset(sample.coordinate for sample, ok in zip(samples, validity.valid, strict=True) if ok)


def sample_to_bytes(sample: Sample) -> bytes:
    """SSZ encoding of a sample. `SampleSSZ` has only fixed-size fields, so its SSZ encoding is their
    concatenation in order (uint64s little-endian); written out directly, since this runs for every
    cell pushed, served and stored (remerkleable's encoder cost a member about a tenth of its CPU).
    `sample_to_ssz_reference` is the remerkleable form, which tests hold this to."""
    validate_sample(sample)
    return b"".join(
        (
            sample.row.to_bytes(8, "little"),
            sample.column.to_bytes(8, "little"),
            sample.cell,
            sample.proof,
            sample.commitment,
            *sample.commitment_branch,
        )
    )


def sample_to_ssz_reference(sample: Sample) -> bytes:
    """The SSZ encoding of a sample by remerkleable (the reference `sample_to_bytes` must equal)."""
    validate_sample(sample)
    return bytes(
        SampleSSZ(
            row=sample.row,
            column=sample.column,
            cell=ByteVector[BYTES_PER_CELL](sample.cell),
            proof=Bytes48(sample.proof),
            commitment=Bytes48(sample.commitment),
            commitment_branch=[SSZBytes32(node) for node in sample.commitment_branch],
        ).encode_bytes()
    )


def bytes_to_sample(data: bytes) -> Sample:
    """Decode and validate a sample from untrusted bytes; raises `MalformedSample`.

    The SSZ layout is fixed-size, so fields are sliced at fixed offsets.
    """
    if not isinstance(data, bytes) or len(data) != SAMPLE_BYTES:
        size = len(data) if isinstance(data, bytes) else type(data).__name__
        raise MalformedSample(f"a sample is {SAMPLE_BYTES} bytes, got {size}")
    cell_end = 16 + BYTES_PER_CELL
    proof_end = cell_end + BYTES_PER_PROOF
    commitment_end = proof_end + BYTES_PER_COMMITMENT
    sample = Sample(
        row=RowIndex(int.from_bytes(data[0:8], "little")),
        column=ColumnIndex(int.from_bytes(data[8:16], "little")),
        cell=Cell(data[16:cell_end]),
        proof=KZGProof(data[cell_end:proof_end]),
        commitment=KZGCommitment(data[proof_end:commitment_end]),
        commitment_branch=tuple(
            Bytes32(data[i : i + BYTES_PER_ROOT]) for i in range(commitment_end, SAMPLE_BYTES, BYTES_PER_ROOT)
        ),
    )
    validate_sample(sample)
    return sample
