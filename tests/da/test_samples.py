"""Sample verification: valid samples pass, any flipped bit fails, malformed input raises typed errors."""

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
    MalformedHeader,
    MalformedSample,
    RowIndex,
    bytes_to_header,
    bytes_to_sample,
    header_to_bytes,
    sample_to_bytes,
    verify_samples,
)
from da.constants import CELLS_PER_ROW, COMMITMENT_BRANCH_DEPTH, MAX_ROWS_PER_BLOB
from da.samples import SAMPLE_BYTES, sample_to_ssz_reference
from da.types import Bytes32, Cell, KZGCommitment, KZGProof
from tests.examples import examples

coordinates = st.builds(
    CellCoordinate, st.integers(0, 1).map(RowIndex), st.integers(0, CELLS_PER_ROW - 1).map(ColumnIndex)
)


def _flip(value: bytes, bit: int) -> bytes:
    bit %= 8 * len(value)
    index = bit // 8
    return value[:index] + bytes([value[index] ^ (1 << (bit % 8))]) + value[index + 1 :]


def test_batch_of_samples_from_both_rows_verifies(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    picks = [CellCoordinate(RowIndex(r), ColumnIndex(c)) for r in (0, 1) for c in (0, 17, 64, 127)]
    assert verify_samples(encoded.data_root, encoded.get_samples(picks), kzg) is True
    assert verify_samples(encoded.data_root, encoded.get_column(ColumnIndex(99)), kzg) is True
    assert verify_samples(encoded.data_root, [], kzg) is True


def test_sample_of_another_blob_fails(
    kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    sample = one_row_blob[1].get_sample(CellCoordinate(RowIndex(0), ColumnIndex(3)))
    assert verify_samples(two_row_blob[1].data_root, [sample], kzg) is False


def test_sample_moved_to_another_row_or_column_fails(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = two_row_blob
    sample = encoded.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(3)))
    assert not verify_samples(encoded.data_root, [dataclasses.replace(sample, row=RowIndex(1))], kzg)
    assert not verify_samples(encoded.data_root, [dataclasses.replace(sample, column=ColumnIndex(4))], kzg)


@settings(max_examples=examples(150, 2))
@given(
    coordinate=coordinates,
    field=st.sampled_from(["cell", "proof", "commitment", "branch", "data_root"]),
    bit=st.integers(min_value=0),
    others=st.lists(coordinates, max_size=3),
)
def test_any_flipped_bit_fails_verification(
    kzg: CkzgBackend,
    two_row_blob: tuple[bytes, EncodedBlob],
    coordinate: CellCoordinate,
    field: str,
    bit: int,
    others: list[CellCoordinate],
) -> None:
    _data, encoded = two_row_blob
    sample = encoded.get_sample(coordinate)
    root = encoded.data_root
    if field == "cell":
        sample = dataclasses.replace(sample, cell=Cell(_flip(sample.cell, bit)))
    elif field == "proof":
        sample = dataclasses.replace(sample, proof=KZGProof(_flip(sample.proof, bit)))
    elif field == "commitment":
        sample = dataclasses.replace(sample, commitment=KZGCommitment(_flip(sample.commitment, bit)))
    elif field == "branch":
        level = bit % COMMITMENT_BRANCH_DEPTH
        branch = list(sample.commitment_branch)
        branch[level] = Bytes32(_flip(branch[level], bit // COMMITMENT_BRANCH_DEPTH))
        sample = dataclasses.replace(sample, commitment_branch=tuple(branch))
    else:
        root = DataRoot(_flip(root, bit))
    batch = [*encoded.get_samples(others), sample]
    assert verify_samples(root, batch, kzg) is False


def test_the_direct_sample_encoding_equals_remerkleable_ssz(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    _data, encoded = two_row_blob
    corners = [(0, 0), (0, 127), (1, 0), (1, 64), (1, 127)]
    for row, column in corners:
        sample = encoded.get_sample(CellCoordinate(RowIndex(row), ColumnIndex(column)))
        assert sample_to_bytes(sample) == sample_to_ssz_reference(sample)
    last = dataclasses.replace(sample, row=RowIndex(MAX_ROWS_PER_BLOB - 1))  # the largest row index
    assert sample_to_bytes(last) == sample_to_ssz_reference(last)


def test_sample_codec_round_trip(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    _data, encoded = two_row_blob
    sample = encoded.get_sample(CellCoordinate(RowIndex(1), ColumnIndex(127)))
    wire = sample_to_bytes(sample)
    assert len(wire) == SAMPLE_BYTES
    assert bytes_to_sample(wire) == sample
    assert bytes_to_header(header_to_bytes(encoded.header)) == encoded.header


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"cell": Cell(b"\x00" * 2047)}, "cell is 2047 bytes"),
        ({"proof": KZGProof(b"\x00" * 49)}, "proof is 49 bytes"),
        ({"commitment": "not bytes"}, "commitment must be bytes"),
        ({"row": RowIndex(MAX_ROWS_PER_BLOB)}, "row must be an integer"),
        ({"column": ColumnIndex(128)}, "column must be an integer"),
        ({"column": ColumnIndex(-1)}, "column must be an integer"),
        ({"commitment_branch": ()}, "commitment_branch must be a tuple"),
    ],
)
def test_malformed_samples_raise_typed_errors(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob], change: dict[str, object], message: str
) -> None:
    _data, encoded = two_row_blob
    sample = dataclasses.replace(encoded.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(0))), **change)
    with pytest.raises(MalformedSample, match=message):
        verify_samples(encoded.data_root, [sample], kzg)
    with pytest.raises(MalformedSample):
        verify_samples(DataRoot(b"\x00" * 31), [], kzg)


@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_decode_to_anything_but_typed_errors(data: bytes) -> None:
    try:
        sample = bytes_to_sample(data)
    except MalformedSample:
        pass
    else:
        assert sample_to_bytes(sample) == data  # what decodes is exactly what was sent
    try:
        header = bytes_to_header(data)
    except MalformedHeader:
        return
    assert header_to_bytes(header) == data


@given(st.binary(min_size=SAMPLE_BYTES, max_size=SAMPLE_BYTES))
def test_random_sample_sized_bytes_decode_or_raise_typed(data: bytes) -> None:
    try:
        sample = bytes_to_sample(data)
    except MalformedSample as error:
        assert "must be an integer" in str(error)
    else:
        assert sample_to_bytes(sample) == data


@settings(max_examples=examples(100, 2))
@given(position=st.integers(min_value=0), value=st.integers(0, 255))
def test_mutated_header_bytes_decode_or_raise_typed(
    two_row_blob: tuple[bytes, EncodedBlob], position: int, value: int
) -> None:
    wire = bytearray(header_to_bytes(two_row_blob[1].header))
    wire[position % len(wire)] = value
    try:
        header = bytes_to_header(bytes(wire))
    except MalformedHeader:
        return
    assert header_to_bytes(header) == bytes(wire)
