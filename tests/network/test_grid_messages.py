"""`/tessera/samples/2` codecs: the grid request (rows over 0..2R-1) and the `GridSample` answer, byte
for byte against their remerkleable layouts; version 1 still refuses rows past `MAX_ROWS_PER_BLOB`."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st
from remerkleable.byte_arrays import Bytes32 as SSZBytes32
from remerkleable.byte_arrays import Bytes48, ByteVector

from da import EncodedBlob
from da.constants import BYTES_PER_CELL, MAX_ROWS_PER_BLOB
from da.grid import compute_extended_blob
from da.types import Cell, CellCoordinate, ColumnIndex, DataRoot, GridSample, KZGProof, RowIndex
from network import constants as c
from network.errors import MalformedMessage
from network.layouts import CellCoordinateSSZ, GridSamplesResponseSSZ, GridSampleSSZ, SamplesRequestSSZ
from network.messages import (
    GridSamplesRequest,
    GridSamplesResponse,
    SamplesRequest,
    bytes_to_grid_samples_request,
    bytes_to_grid_samples_response,
    bytes_to_samples_request,
    grid_samples_response_to_bytes,
    is_matching_grid_samples_response,
    samples_request_to_bytes,
)

ROOT = DataRoot(bytes(range(32)))


def _coordinates(*pairs: tuple[int, int]) -> tuple[CellCoordinate, ...]:
    return tuple(CellCoordinate(RowIndex(r), ColumnIndex(col)) for r, col in pairs)


def _ssz(sample: GridSample) -> GridSampleSSZ:
    return GridSampleSSZ(
        row=sample.row,
        column=sample.column,
        cell=ByteVector[BYTES_PER_CELL](sample.cell),
        proof=Bytes48(sample.proof),
    )


def test_grid_request_has_the_v1_layout_and_takes_rows_up_to_twice_the_original_limit() -> None:
    top = 2 * MAX_ROWS_PER_BLOB - 1
    coordinates = _coordinates((0, 5), (MAX_ROWS_PER_BLOB, 127), (top, 0))
    ours = samples_request_to_bytes(GridSamplesRequest(ROOT, coordinates))
    theirs = SamplesRequestSSZ(
        data_root=SSZBytes32(ROOT),
        coordinates=[CellCoordinateSSZ(row=x.row, column=x.column) for x in coordinates],
    ).encode_bytes()
    assert ours == bytes(theirs)
    assert bytes_to_grid_samples_request(ours) == GridSamplesRequest(ROOT, coordinates)
    # Version 1 answers old clients unchanged: an extended row is not one of its coordinates.
    with pytest.raises(MalformedMessage, match="row must be an integer"):
        bytes_to_samples_request(ours)
    with pytest.raises(MalformedMessage):
        samples_request_to_bytes(SamplesRequest(ROOT, coordinates))
    beyond = _coordinates((top + 1, 0))
    with pytest.raises(MalformedMessage, match="row must be an integer"):
        samples_request_to_bytes(GridSamplesRequest(ROOT, beyond))


def test_grid_response_matches_remerkleable_and_round_trips(two_row_blob: tuple[bytes, EncodedBlob]) -> None:
    grid = compute_extended_blob(two_row_blob[1])
    coordinates = _coordinates((0, 1), (3, 2), (2, 3))
    results = (grid.get_sample(coordinates[0]), None, grid.get_sample(coordinates[2]))
    ours = grid_samples_response_to_bytes(GridSamplesResponse(results))
    held = GridSamplesResponseSSZ.fields()["held"]([True, False, True])
    theirs = GridSamplesResponseSSZ(held=held, samples=[_ssz(s) for s in results if s is not None])
    assert ours == bytes(theirs.encode_bytes())
    assert len(ours) == 8 + 1 + 2 * c.GRID_SAMPLE_BYTES
    decoded = bytes_to_grid_samples_response(ours)
    assert decoded == GridSamplesResponse(results)
    request = GridSamplesRequest(grid.blob.data_root, coordinates)
    assert is_matching_grid_samples_response(request, decoded)
    swapped = GridSamplesResponse((results[2], None, results[0]))
    assert not is_matching_grid_samples_response(request, swapped)


@given(data=st.binary(max_size=4 * c.GRID_SAMPLE_BYTES))
def test_grid_decoders_raise_only_typed_errors_and_are_canonical(data: bytes) -> None:
    try:
        request = bytes_to_grid_samples_request(data)
    except MalformedMessage:
        pass
    else:
        assert samples_request_to_bytes(request) == data
    try:
        response = bytes_to_grid_samples_response(data)
    except MalformedMessage:
        pass
    else:
        assert grid_samples_response_to_bytes(response) == data


def test_a_grid_sample_past_the_row_limit_does_not_decode() -> None:
    bad = (2 * MAX_ROWS_PER_BLOB).to_bytes(8, "little") + bytes(8 + BYTES_PER_CELL + 48)
    body = (8).to_bytes(4, "little") + (9).to_bytes(4, "little") + b"\x03" + bad
    with pytest.raises(MalformedMessage, match="row must be an integer"):
        bytes_to_grid_samples_response(body)


def test_grid_sample_rows_reach_1023_on_the_wire() -> None:
    """Row 1023 (= 2 x 512 - 1, the last extended row of a 512-row blob) encodes and decodes; 1024 is
    malformed both ways."""
    assert 2 * MAX_ROWS_PER_BLOB == 1024
    last = GridSample(RowIndex(1023), ColumnIndex(127), Cell(bytes(BYTES_PER_CELL)), KZGProof(bytes(48)))
    body = grid_samples_response_to_bytes(GridSamplesResponse((last,)))
    assert bytes_to_grid_samples_response(body) == GridSamplesResponse((last,))
    with pytest.raises(MalformedMessage, match=r"row must be an integer in \[0, 1024\)"):
        grid_samples_response_to_bytes(GridSamplesResponse((dataclasses.replace(last, row=RowIndex(1024)),)))
    past = body.replace((1023).to_bytes(8, "little"), (1024).to_bytes(8, "little"), 1)
    with pytest.raises(MalformedMessage, match=r"row must be an integer in \[0, 1024\)"):
        bytes_to_grid_samples_response(past)
    request = GridSamplesRequest(ROOT, _coordinates((1023, 0)))
    assert bytes_to_grid_samples_request(samples_request_to_bytes(request)) == request
