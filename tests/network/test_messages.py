"""Wire codecs: round trips, byte-equality with the remerkleable containers, and fuzzing of every decoder.

Every `bytes_to_*` decoder must turn arbitrary bytes into a typed value or raise `MalformedMessage`,
never anything else (it is the trust boundary for what peers send).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remerkleable.bitfields import Bitlist
from remerkleable.byte_arrays import Bytes32 as SSZBytes32
from remerkleable.byte_arrays import Bytes48, ByteVector

from da import EncodedBlob, sample_to_bytes
from da.constants import BYTES_PER_CELL, CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.header import BlobHeaderSSZ, header_to_bytes
from da.samples import SAMPLE_BYTES, SampleSSZ
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
from network import constants as c
from network.errors import MalformedMessage, MessageTooLarge
from network.framing import bytes_to_result_code, check_frame_length, encode_error, encode_frame
from network.layouts import CellCoordinateSSZ, CustodyPushSSZ, SamplesRequestSSZ, SamplesResponseSSZ
from network.messages import (
    CUSTODY_PUSH_FIXED_BYTES,
    CustodyPush,
    SamplesRequest,
    SamplesResponse,
    bytes_to_custody_push,
    bytes_to_data_root,
    bytes_to_error_message,
    bytes_to_samples_request,
    bytes_to_samples_response,
    custody_push_to_bytes,
    is_matching_samples_response,
    samples_request_to_bytes,
    samples_response_to_bytes,
    validate_attestation_bytes,
    validate_certificate_bytes,
)
from network.ssz import bitlist_to_bytes, bytes_to_bitlist, sample_to_wire

ROOT = DataRoot(bytes(range(32)))


def _ssz_sample(sample: Sample) -> SampleSSZ:
    return SampleSSZ(
        row=sample.row,
        column=sample.column,
        cell=ByteVector[BYTES_PER_CELL](sample.cell),
        proof=Bytes48(sample.proof),
        commitment=Bytes48(sample.commitment),
        commitment_branch=[SSZBytes32(node) for node in sample.commitment_branch],
    )


def _ssz_header(blob: EncodedBlob) -> BlobHeaderSSZ:
    return BlobHeaderSSZ(
        byte_length=blob.header.byte_length,
        row_count=blob.header.row_count,
        row_commitments=[Bytes48(x) for x in blob.header.row_commitments],
    )


def _coordinates(*pairs: tuple[int, int]) -> tuple[CellCoordinate, ...]:
    return tuple(CellCoordinate(RowIndex(r), ColumnIndex(col)) for r, col in pairs)


# --- Byte-equality with the normative SSZ containers ---------------------------------------------------


def test_sample_wire_encoding_is_da_sample_to_bytes(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    sample = two_row_blob[1].get_sample(CellCoordinate(RowIndex(1), ColumnIndex(77)))
    assert sample_to_wire(sample) == sample_to_bytes(sample)
    assert len(sample_to_wire(sample)) == SAMPLE_BYTES


@given(bits=st.lists(st.booleans(), max_size=c.MAX_SAMPLES_PER_REQUEST))
def test_bitlist_matches_remerkleable_and_round_trips(bits: list[bool]) -> None:
    ours = bitlist_to_bytes(bits)
    assert ours == bytes(Bitlist[c.MAX_SAMPLES_PER_REQUEST](bits).encode_bytes())
    assert bytes_to_bitlist("bitlist", ours, c.MAX_SAMPLES_PER_REQUEST) == bits


def test_samples_request_matches_remerkleable() -> None:
    coordinates = _coordinates((0, 5), (3, 127), (63, 0))
    ours = samples_request_to_bytes(SamplesRequest(ROOT, coordinates))
    theirs = SamplesRequestSSZ(
        data_root=SSZBytes32(ROOT),
        coordinates=[CellCoordinateSSZ(row=x.row, column=x.column) for x in coordinates],
    ).encode_bytes()
    assert ours == bytes(theirs)
    assert bytes_to_samples_request(ours) == SamplesRequest(ROOT, coordinates)


def test_samples_response_matches_remerkleable(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    blob = two_row_blob[1]
    coordinates = _coordinates((0, 1), (1, 2), (0, 3))
    results = (blob.get_sample(coordinates[0]), None, blob.get_sample(coordinates[2]))
    ours = samples_response_to_bytes(SamplesResponse(results))
    held = SamplesResponseSSZ.fields()["held"]([True, False, True])
    theirs = SamplesResponseSSZ(held=held, samples=[_ssz_sample(s) for s in results if s is not None])
    assert ours == bytes(theirs.encode_bytes())
    decoded = bytes_to_samples_response(ours)
    assert decoded == SamplesResponse(results)
    assert is_matching_samples_response(SamplesRequest(blob.data_root, coordinates), decoded)


def test_empty_and_all_missing_responses_round_trip() -> None:
    for results in ((), (None,), (None,) * c.MAX_SAMPLES_PER_REQUEST):
        assert (
            bytes_to_samples_response(samples_response_to_bytes(SamplesResponse(results))).results == results
        )


def test_custody_push_matches_remerkleable(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    blob = two_row_blob[1]
    samples = tuple(blob.get_column(ColumnIndex(9)))
    ours = custody_push_to_bytes(CustodyPush(blob.header, samples))
    theirs = CustodyPushSSZ(header=_ssz_header(blob), samples=[_ssz_sample(s) for s in samples])
    assert ours == bytes(theirs.encode_bytes())
    assert bytes_to_custody_push(ours) == CustodyPush(blob.header, samples)


# --- Semantic checks at the boundary -------------------------------------------------------------------


@pytest.mark.parametrize(
    "coordinates",
    [
        (),
        _coordinates((0, 1), (0, 1)),
        _coordinates((MAX_ROWS_PER_BLOB, 0)),
        _coordinates((0, CELLS_PER_ROW)),
        _coordinates(*((0, col) for col in range(CELLS_PER_ROW)), (1, 0)),
    ],
    ids=["empty", "duplicate", "row-out-of-range", "column-out-of-range", "too-many"],
)
def test_bad_samples_requests_are_refused_both_ways(coordinates: tuple[CellCoordinate, ...]) -> None:
    with pytest.raises(MalformedMessage):
        samples_request_to_bytes(SamplesRequest(ROOT, coordinates))
    body = b"".join(x.row.to_bytes(8, "little") + x.column.to_bytes(8, "little") for x in coordinates)
    with pytest.raises(MalformedMessage):
        bytes_to_samples_request(ROOT + (36).to_bytes(4, "little") + body)


def test_response_with_a_sample_at_the_wrong_place_does_not_match(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    asked = _coordinates((0, 1), (0, 2))
    swapped = SamplesResponse((blob.get_sample(asked[1]), blob.get_sample(asked[0])))
    assert not is_matching_samples_response(SamplesRequest(blob.data_root, asked), swapped)
    assert not is_matching_samples_response(SamplesRequest(blob.data_root, asked), SamplesResponse((None,)))


def test_custody_push_with_a_foreign_commitment_is_malformed(
    one_row_blob: tuple[bytes, EncodedBlob], two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    stranger = one_row_blob[1].get_sample(CellCoordinate(RowIndex(0), ColumnIndex(4)))
    encoded = custody_push_to_bytes(CustodyPush(two_row_blob[1].header, (stranger,)))
    with pytest.raises(MalformedMessage, match="another row commitment"):
        bytes_to_custody_push(encoded)
    beyond = CustodyPush(
        one_row_blob[1].header, (two_row_blob[1].get_sample(CellCoordinate(RowIndex(1), ColumnIndex(0))),)
    )
    with pytest.raises(MalformedMessage, match="outside the 1-row header"):
        bytes_to_custody_push(custody_push_to_bytes(beyond))


def test_opaque_payload_limits() -> None:
    assert validate_attestation_bytes(b"x" * c.MAX_ATTESTATION_BYTES) == b"x" * c.MAX_ATTESTATION_BYTES
    assert validate_certificate_bytes(b"y") == b"y"
    for bad in (b"", b"x" * (c.MAX_ATTESTATION_BYTES + 1)):
        with pytest.raises(MalformedMessage):
            validate_attestation_bytes(bad)
    with pytest.raises(MalformedMessage):
        validate_certificate_bytes(b"y" * (c.MAX_CERTIFICATE_MESSAGE_BYTES + 1))


def test_frame_limit_is_checked_from_the_prefix_alone() -> None:
    assert check_frame_length(encode_frame(b"abc")[:4], 3, "x") == 3
    with pytest.raises(MessageTooLarge, match="over the limit of 2 bytes") as info:
        check_frame_length((3).to_bytes(4, "little"), 2, "x")
    assert (info.value.size, info.value.limit) == (3, 2)
    assert bytes_to_error_message(encode_error(c.ResultCode.RATE_LIMITED, "é" * 300)[5:]) == "é" * 128


# --- Fuzzing: arbitrary bytes and mutated valid encodings -------------------------------------------------

DECODERS: dict[str, Callable[[bytes], object]] = {
    "samples_request": bytes_to_samples_request,
    "samples_response": bytes_to_samples_response,
    "custody_push": bytes_to_custody_push,
    "data_root": bytes_to_data_root,
    "error_message": bytes_to_error_message,
    "result_code": bytes_to_result_code,
    "attestation": validate_attestation_bytes,
    "certificate": validate_certificate_bytes,
}


ENCODERS: dict[str, Callable[[Any], bytes]] = {
    "samples_request": samples_request_to_bytes,
    "samples_response": samples_response_to_bytes,
    "custody_push": custody_push_to_bytes,
    "data_root": bytes,
    "attestation": bytes,
    "certificate": bytes,
}
"""Decoders whose result encodes back to the very bytes it came from (the codecs are canonical)."""


def _decode_canonically(name: str, data: bytes) -> None:
    """Decoding `data` either raises `MalformedMessage` or gives what encodes back to `data`."""
    try:
        decoded = DECODERS[name](data)
    except MalformedMessage:
        return
    if name in ENCODERS:
        assert ENCODERS[name](decoded) == data
    elif name == "result_code":
        assert bytes([decoded]) == data  # type: ignore[list-item]
    else:
        assert isinstance(decoded, str) and len(decoded) <= c.MAX_ERROR_MESSAGE_BYTES


@pytest.mark.parametrize("name", sorted(DECODERS))
@given(data=st.binary(max_size=4096))
def test_decoders_raise_only_typed_errors_on_arbitrary_bytes(name: str, data: bytes) -> None:
    _decode_canonically(name, data)


def _mutate(data: bytes, position: int, value: int, cut: int) -> bytes:
    position %= len(data)
    mutated = data[:position] + bytes([value]) + data[position + 1 :]
    return mutated[: len(mutated) - (cut % 3) * (cut % 7)]


@given(position=st.integers(0, 10**6), value=st.integers(0, 255), cut=st.integers(0, 20))
def test_decoders_survive_mutated_valid_messages(
    two_row_blob: tuple[bytes, EncodedBlob], position: int, value: int, cut: int
) -> None:
    blob = two_row_blob[1]
    coordinates = _coordinates((0, 3), (1, 4))
    valid = {
        "samples_request": samples_request_to_bytes(SamplesRequest(blob.data_root, coordinates)),
        "samples_response": samples_response_to_bytes(
            SamplesResponse((blob.get_sample(coordinates[0]), None))
        ),
        "custody_push": custody_push_to_bytes(
            CustodyPush(blob.header, tuple(blob.get_column(ColumnIndex(2))))
        ),
    }
    for name, encoded in valid.items():
        _decode_canonically(name, _mutate(encoded, position, value, cut))


def test_header_bytes_inside_messages_are_da_header_bytes(one_row_blob: tuple[bytes, EncodedBlob]) -> None:
    blob = one_row_blob[1]
    header = header_to_bytes(blob.header)
    push = custody_push_to_bytes(CustodyPush(blob.header, tuple(blob.get_column(ColumnIndex(0)))))
    assert push[CUSTODY_PUSH_FIXED_BYTES : CUSTODY_PUSH_FIXED_BYTES + len(header)] == header
