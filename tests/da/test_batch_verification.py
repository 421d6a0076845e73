"""`compute_sample_validity` (and `compute_verified_coordinates`, its view): one bad cell costs only
itself, never the batch it came in."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import (
    CellCoordinate,
    CkzgBackend,
    ColumnIndex,
    DataRoot,
    EncodedBlob,
    MalformedSample,
    RowIndex,
    Sample,
    compute_sample_validity,
    compute_verified_coordinates,
    verify_samples,
)
from da.types import Cell, SampleValidity
from tests.examples import examples


def _corrupt(sample: Sample) -> Sample:
    return dataclasses.replace(sample, cell=Cell(bytes([sample.cell[0] ^ 1]) + sample.cell[1:]))


def _batch(blob: EncodedBlob, count: int) -> list[Sample]:
    return [
        blob.get_sample(CellCoordinate(RowIndex(row), ColumnIndex(column)))
        for row in range(len(blob.rows))
        for column in range(0, 128, 128 // count)
    ][:count]


def test_a_valid_batch_verifies_whole(kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    _data, blob = two_row_blob
    samples = _batch(blob, 16)
    assert compute_verified_coordinates(blob.data_root, samples, kzg) == {s.coordinate for s in samples}
    assert compute_verified_coordinates(blob.data_root, [], kzg) == frozenset()
    assert compute_sample_validity(blob.data_root, samples, kzg) == SampleValidity((True,) * 16, batches=1)
    assert compute_sample_validity(blob.data_root, [], kzg) == SampleValidity((), batches=0)


def test_a_half_that_verifies_convicts_the_other_unchecked(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    """The last of 16 bad: the whole batch, then the left 8, 4, 2 and 1 verify; each right half is
    known bad without a check of its own. 1 + log2(16) calls."""
    _data, blob = two_row_blob
    samples = _batch(blob, 16)
    samples[-1] = _corrupt(samples[-1])
    validity = compute_sample_validity(blob.data_root, samples, kzg)
    assert validity == SampleValidity((True,) * 15 + (False,), batches=5)


@settings(max_examples=examples(8, 0.25))
@given(bad=st.sets(st.integers(0, 15), max_size=5))
def test_exactly_the_corrupted_cells_are_dropped(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob], bad: set[int]
) -> None:
    _data, blob = two_row_blob
    samples = [_corrupt(s) if i in bad else s for i, s in enumerate(_batch(blob, 16))]
    verified = compute_verified_coordinates(blob.data_root, samples, kzg)
    assert verified == {s.coordinate for i, s in enumerate(samples) if i not in bad}
    validity = compute_sample_validity(blob.data_root, samples, kzg)
    assert validity.valid == tuple(i not in bad for i in range(16))
    assert validity.batches <= 1 + 2 * len(bad) * 4  # about 2 k log2(n) once anything fails
    # The oracle: each sample alone.
    assert verified == {s.coordinate for s in samples if verify_samples(blob.data_root, [s], kzg)}


def test_malformed_and_foreign_samples_never_verify(
    kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    _other, foreign_blob = one_row_blob
    good = _batch(blob, 4)
    short = dataclasses.replace(good[0], proof=good[0].proof[:-1])  # malformed: 47-byte proof
    foreign = foreign_blob.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(5)))  # another data root
    verified = compute_verified_coordinates(blob.data_root, [short, *good[1:], foreign], kzg)
    assert verified == {s.coordinate for s in good[1:]}


def test_a_malformed_root_is_a_typed_error(kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]) -> None:
    _data, blob = one_row_blob
    with pytest.raises(MalformedSample, match="data root is 31 bytes"):
        compute_verified_coordinates(DataRoot(bytes(31)), _batch(blob, 2), kzg)
