"""Wire messages of the request/response protocols, and their SSZ byte codecs (pure).

Each message is a frozen dataclass with a pair of functions: `*_to_bytes` encodes a typed value, and
`bytes_to_*` is the trust boundary, turning untrusted bytes into a typed value or raising
`MalformedMessage` (never anything else). Encoding is written by hand, from the pieces in `network.ssz`,
because remerkleable needs about 0.5 ms per sample, which would cap a 128-sample answer at ~2,000
samples/s; `network.layouts` holds the remerkleable containers that document each SSZ layout (tests check
the codecs against them byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass

from da.constants import BYTES_PER_CELL, BYTES_PER_PROOF, BYTES_PER_ROOT, CELLS_PER_ROW, MAX_ROWS_PER_BLOB
from da.errors import MalformedHeader
from da.header import bytes_to_header, header_to_bytes
from da.samples import SAMPLE_BYTES
from da.types import (
    BlobHeader,
    Cell,
    CellCoordinate,
    ColumnIndex,
    DataRoot,
    GridSample,
    KZGProof,
    RowIndex,
    Sample,
)
from network.constants import (
    COORDINATE_BYTES,
    GRID_SAMPLE_BYTES,
    MAX_ATTESTATION_BYTES,
    MAX_CERTIFICATE_MESSAGE_BYTES,
    MAX_CUSTODY_SAMPLES_PER_PUSH,
    MAX_ERROR_MESSAGE_BYTES,
    MAX_SAMPLES_PER_REQUEST,
    SSZ_OFFSET_BYTES,
    UINT64_BYTES,
)
from network.errors import MalformedMessage
from network.ssz import (
    bitlist_to_bytes,
    bytes_to_bitlist,
    bytes_to_samples,
    offset_to_bytes,
    read_offset,
    require_bytes,
    sample_to_wire,
    split_two_variable_fields,
    uint64_to_bytes,
)

# --- Typed messages -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SamplesRequest:
    """Ask a peer for the samples of `data_root` at `coordinates` (distinct, at most 128)."""

    data_root: DataRoot
    coordinates: tuple[CellCoordinate, ...]


@dataclass(frozen=True, slots=True)
class SamplesResponse:
    """One entry per requested coordinate, in order: the sample, or None when the peer does not hold it."""

    results: tuple[Sample | None, ...]


@dataclass(frozen=True, slots=True)
class GridSamplesRequest:
    """`/tessera/samples/2`: ask a peer for cells of `data_root`'s 2D grid at `coordinates` (distinct,
    at most 128; a row ranges over 0..2R-1, so up to 2 x `MAX_ROWS_PER_BLOB`)."""

    data_root: DataRoot
    coordinates: tuple[CellCoordinate, ...]


@dataclass(frozen=True, slots=True)
class GridSamplesResponse:
    """One entry per requested coordinate, in order: the grid sample, or None when not held."""

    results: tuple[GridSample | None, ...]


@dataclass(frozen=True, slots=True)
class CustodyPush:
    """Custody cells pushed by the aggregator to a quorum member, with the header that binds them
    and the epoch and quorum the blob was dispersed to."""

    header: BlobHeader
    samples: tuple[Sample, ...]
    epoch: int = 0
    quorum: int = 0


# --- Helpers ------------------------------------------------------------------------------------


def _check_coordinate(what: str, coordinate: CellCoordinate, row_limit: int = MAX_ROWS_PER_BLOB) -> None:
    row, column = coordinate.row, coordinate.column
    for name, value, limit in (("row", row, row_limit), ("column", column, CELLS_PER_ROW)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < limit:
            raise MalformedMessage(what, f"{name} must be an integer in [0, {limit}), got {value!r}")


def bytes_to_data_root(data: bytes) -> DataRoot:
    """A 32-byte data root from untrusted bytes (the `/tessera/header/2` request)."""
    data = require_bytes("data root", data)
    if len(data) != BYTES_PER_ROOT:
        raise MalformedMessage("data root", f"{len(data)} bytes, {BYTES_PER_ROOT} expected")
    return DataRoot(data)


# --- Samples ------------------------------------------------------------------------------------


def validate_samples_request(request: SamplesRequest | GridSamplesRequest) -> None:
    """Raise `MalformedMessage` unless the request has a 32-byte root and 1..128 distinct in-range cells
    (rows below `MAX_ROWS_PER_BLOB` for branch samples, `/tessera/samples/3`; below twice that for a
    grid request)."""
    grid = isinstance(request, GridSamplesRequest)
    what = "grid samples request" if grid else "samples request"
    row_limit = 2 * MAX_ROWS_PER_BLOB if grid else MAX_ROWS_PER_BLOB
    if not isinstance(request.data_root, bytes) or len(request.data_root) != BYTES_PER_ROOT:
        raise MalformedMessage(what, "data_root must be 32 bytes")
    count = len(request.coordinates)
    if not 1 <= count <= MAX_SAMPLES_PER_REQUEST:
        raise MalformedMessage(what, f"{count} coordinates, expected 1..{MAX_SAMPLES_PER_REQUEST}")
    for coordinate in request.coordinates:
        _check_coordinate(what, coordinate, row_limit)
    if len(set(request.coordinates)) != count:
        raise MalformedMessage(what, "coordinates must be distinct")


def samples_request_to_bytes(request: SamplesRequest | GridSamplesRequest) -> bytes:
    """SSZ encoding of a `SamplesRequest` or a `GridSamplesRequest` (the same layout)."""
    validate_samples_request(request)
    body = b"".join(uint64_to_bytes(c.row) + uint64_to_bytes(c.column) for c in request.coordinates)
    return request.data_root + offset_to_bytes(BYTES_PER_ROOT + SSZ_OFFSET_BYTES) + body


def bytes_to_samples_request(data: bytes) -> SamplesRequest:
    """Decode and validate a `SamplesRequest` from untrusted bytes; raises `MalformedMessage`."""
    root, coordinates = _decode_coordinates("samples request", data)
    request = SamplesRequest(root, coordinates)
    validate_samples_request(request)
    return request


def bytes_to_grid_samples_request(data: bytes) -> GridSamplesRequest:
    """Decode and validate a `GridSamplesRequest` from untrusted bytes; raises `MalformedMessage`."""
    root, coordinates = _decode_coordinates("grid samples request", data)
    request = GridSamplesRequest(root, coordinates)
    validate_samples_request(request)
    return request


def _decode_coordinates(what: str, data: bytes) -> tuple[DataRoot, tuple[CellCoordinate, ...]]:
    data = require_bytes(what, data)
    fixed = BYTES_PER_ROOT + SSZ_OFFSET_BYTES
    if len(data) < fixed:
        raise MalformedMessage(what, f"{len(data)} bytes is shorter than the {fixed}-byte fixed part")
    if read_offset(data, BYTES_PER_ROOT) != fixed:
        raise MalformedMessage(what, f"coordinates offset is not {fixed}")
    body = data[fixed:]
    if len(body) % COORDINATE_BYTES:
        raise MalformedMessage(what, f"{len(body)} coordinate bytes is not a multiple of {COORDINATE_BYTES}")
    coordinates = tuple(
        CellCoordinate(
            RowIndex(int.from_bytes(body[i : i + UINT64_BYTES], "little")),
            ColumnIndex(int.from_bytes(body[i + UINT64_BYTES : i + COORDINATE_BYTES], "little")),
        )
        for i in range(0, len(body), COORDINATE_BYTES)
    )
    return DataRoot(data[:BYTES_PER_ROOT]), coordinates


def samples_response_to_bytes(response: SamplesResponse) -> bytes:
    """SSZ encoding of a `SamplesResponse`."""
    if len(response.results) > MAX_SAMPLES_PER_REQUEST:
        raise MalformedMessage("samples response", f"{len(response.results)} results is over the limit")
    held = bitlist_to_bytes([result is not None for result in response.results])
    samples = b"".join(sample_to_wire(result) for result in response.results if result is not None)
    fixed = 2 * SSZ_OFFSET_BYTES
    return offset_to_bytes(fixed) + offset_to_bytes(fixed + len(held)) + held + samples


def bytes_to_samples_response(data: bytes) -> SamplesResponse:
    """Decode a `SamplesResponse` from untrusted bytes; raises `MalformedMessage`.

    Checks the structure only; whether the answer matches a request is `is_matching_samples_response`'s job.
    """
    what = "samples response"
    held_bytes, sample_bytes = split_two_variable_fields(what, require_bytes(what, data))
    held = bytes_to_bitlist(what, held_bytes, MAX_SAMPLES_PER_REQUEST)
    samples = iter(bytes_to_samples(what, sample_bytes, MAX_SAMPLES_PER_REQUEST))
    count = sum(held)
    if count * SAMPLE_BYTES != len(sample_bytes):
        raise MalformedMessage(what, f"{count} held bits but {len(sample_bytes) // SAMPLE_BYTES} samples")
    return SamplesResponse(tuple(next(samples) if bit else None for bit in held))


def is_matching_samples_response(request: SamplesRequest, response: SamplesResponse) -> bool:
    """True iff the answer has one entry per requested coordinate and each sample sits where it was asked."""
    if len(response.results) != len(request.coordinates):
        return False
    return all(
        result is None or result.coordinate == coordinate
        for result, coordinate in zip(response.results, request.coordinates, strict=True)
    )


def grid_sample_to_wire(sample: GridSample) -> bytes:
    """SSZ encoding of one `GridSample`: row, column (uint64 each), cell, proof; 2,112 bytes."""
    if not isinstance(sample, GridSample):
        raise MalformedMessage("grid sample", f"expected a GridSample, got {type(sample).__name__}")
    row, column = sample.row, sample.column
    _check_coordinate("grid sample", CellCoordinate(row, column), 2 * MAX_ROWS_PER_BLOB)
    if not isinstance(sample.cell, bytes) or len(sample.cell) != BYTES_PER_CELL:
        raise MalformedMessage("grid sample", f"cell is not {BYTES_PER_CELL} bytes")
    if not isinstance(sample.proof, bytes) or len(sample.proof) != BYTES_PER_PROOF:
        raise MalformedMessage("grid sample", f"proof is not {BYTES_PER_PROOF} bytes")
    return uint64_to_bytes(row) + uint64_to_bytes(column) + sample.cell + sample.proof


def bytes_to_grid_samples(what: str, data: bytes, limit: int) -> tuple[GridSample, ...]:
    """Decode an SSZ `List[GridSample, limit]` from untrusted bytes; raises `MalformedMessage`."""
    if len(data) % GRID_SAMPLE_BYTES:
        raise MalformedMessage(
            what, f"{len(data)} grid sample bytes is not a multiple of {GRID_SAMPLE_BYTES}"
        )
    count = len(data) // GRID_SAMPLE_BYTES
    if count > limit:
        raise MalformedMessage(what, f"{count} grid samples, at most {limit} allowed")
    samples = []
    cell_end = 2 * UINT64_BYTES + BYTES_PER_CELL
    for start in range(0, len(data), GRID_SAMPLE_BYTES):
        chunk = data[start : start + GRID_SAMPLE_BYTES]
        coordinate = CellCoordinate(
            RowIndex(int.from_bytes(chunk[:UINT64_BYTES], "little")),
            ColumnIndex(int.from_bytes(chunk[UINT64_BYTES : 2 * UINT64_BYTES], "little")),
        )
        _check_coordinate(what, coordinate, 2 * MAX_ROWS_PER_BLOB)
        samples.append(
            GridSample(
                row=coordinate.row,
                column=coordinate.column,
                cell=Cell(chunk[2 * UINT64_BYTES : cell_end]),
                proof=KZGProof(chunk[cell_end:]),
            )
        )
    return tuple(samples)


def grid_samples_response_to_bytes(response: GridSamplesResponse) -> bytes:
    """SSZ encoding of a `GridSamplesResponse` (the layout of a `SamplesResponse` with `GridSample`s)."""
    if len(response.results) > MAX_SAMPLES_PER_REQUEST:
        raise MalformedMessage("grid samples response", f"{len(response.results)} results is over the limit")
    held = bitlist_to_bytes([result is not None for result in response.results])
    samples = b"".join(grid_sample_to_wire(result) for result in response.results if result is not None)
    fixed = 2 * SSZ_OFFSET_BYTES
    return offset_to_bytes(fixed) + offset_to_bytes(fixed + len(held)) + held + samples


def bytes_to_grid_samples_response(data: bytes) -> GridSamplesResponse:
    """Decode a `GridSamplesResponse` from untrusted bytes (structure only); raises `MalformedMessage`."""
    what = "grid samples response"
    held_bytes, sample_bytes = split_two_variable_fields(what, require_bytes(what, data))
    held = bytes_to_bitlist(what, held_bytes, MAX_SAMPLES_PER_REQUEST)
    samples = iter(bytes_to_grid_samples(what, sample_bytes, MAX_SAMPLES_PER_REQUEST))
    count = sum(held)
    if count * GRID_SAMPLE_BYTES != len(sample_bytes):
        raise MalformedMessage(
            what, f"{count} held bits but {len(sample_bytes) // GRID_SAMPLE_BYTES} samples"
        )
    return GridSamplesResponse(tuple(next(samples) if bit else None for bit in held))


def is_matching_grid_samples_response(request: GridSamplesRequest, response: GridSamplesResponse) -> bool:
    """True iff the answer has one entry per requested coordinate and each sample sits where it was asked."""
    if len(response.results) != len(request.coordinates):
        return False
    return all(
        result is None or result.coordinate == coordinate
        for result, coordinate in zip(response.results, request.coordinates, strict=True)
    )


# --- Custody --------------------------------------------------------------------------------------


def custody_push_to_bytes(push: CustodyPush) -> bytes:
    """SSZ encoding of a `CustodyPush`."""
    if not 1 <= len(push.samples) <= MAX_CUSTODY_SAMPLES_PER_PUSH:
        raise MalformedMessage(
            "custody push", f"{len(push.samples)} samples, 1..{MAX_CUSTODY_SAMPLES_PER_PUSH}"
        )
    if not (0 <= push.epoch < 2**64 and 0 <= push.quorum < 2**64):
        raise MalformedMessage("custody push", "epoch and quorum must be uint64")
    try:
        header = header_to_bytes(push.header)
    except MalformedHeader as error:
        raise MalformedMessage("custody push", str(error)) from error
    fixed = CUSTODY_PUSH_FIXED_BYTES
    samples = b"".join(sample_to_wire(sample) for sample in push.samples)
    offsets = offset_to_bytes(fixed) + offset_to_bytes(fixed + len(header))
    return uint64_to_bytes(push.epoch) + uint64_to_bytes(push.quorum) + offsets + header + samples


CUSTODY_PUSH_FIXED_BYTES = 8 + 8 + 2 * SSZ_OFFSET_BYTES
"""epoch, quorum and the two offsets of a `CustodyPush`."""


def bytes_to_custody_push(data: bytes) -> CustodyPush:
    """Decode and validate a `CustodyPush` from untrusted bytes; raises `MalformedMessage`.

    Beyond the layout it checks that every sample's row exists in the header and carries that row's
    commitment, so a sink never sees cells that the header cannot bind. KZG proofs are the sink's job.
    """
    what = "custody push"
    data = require_bytes(what, data)
    if len(data) < CUSTODY_PUSH_FIXED_BYTES:
        raise MalformedMessage(what, f"{len(data)} bytes is shorter than the fixed part")
    epoch, quorum = int.from_bytes(data[0:8], "little"), int.from_bytes(data[8:16], "little")
    first, second = read_offset(data, 16), read_offset(data, 16 + SSZ_OFFSET_BYTES)
    if first != CUSTODY_PUSH_FIXED_BYTES:
        raise MalformedMessage(what, f"first offset is {first}, expected {CUSTODY_PUSH_FIXED_BYTES}")
    if not first <= second <= len(data):
        raise MalformedMessage(what, f"second offset {second} is outside {first}..{len(data)}")
    header_bytes, sample_bytes = data[first:second], data[second:]
    try:
        header = bytes_to_header(header_bytes)
    except MalformedHeader as error:
        raise MalformedMessage(what, str(error)) from error
    samples = bytes_to_samples(what, sample_bytes, MAX_CUSTODY_SAMPLES_PER_PUSH)
    if not samples:
        raise MalformedMessage(what, "no samples")
    for sample in samples:
        if sample.row >= header.row_count:
            raise MalformedMessage(
                what, f"sample row {sample.row} is outside the {header.row_count}-row header"
            )
        if sample.commitment != header.row_commitments[sample.row]:
            raise MalformedMessage(what, f"sample of row {sample.row} carries another row commitment")
    if len({sample.coordinate for sample in samples}) != len(samples):
        raise MalformedMessage(what, "samples must be at distinct coordinates")
    return CustodyPush(header, samples, epoch, quorum)


# --- Opaque payloads and error text -------------------------------------------------------------------


def validate_attestation_bytes(data: bytes, limit: int = MAX_ATTESTATION_BYTES) -> bytes:
    """Return `data` if it is 1..`limit` bytes (decoding is the `AttestationSink`'s job)."""
    data = require_bytes("attestation", data)
    if not 1 <= len(data) <= limit:
        raise MalformedMessage("attestation", f"{len(data)} bytes, expected 1..{limit}")
    return data


def validate_certificate_bytes(data: bytes, limit: int = MAX_CERTIFICATE_MESSAGE_BYTES) -> bytes:
    """Return `data` if it is 1..`limit` bytes (decoding is the certificate validator's job)."""
    data = require_bytes("certificate", data)
    if not 1 <= len(data) <= limit:
        raise MalformedMessage("certificate", f"{len(data)} bytes, expected 1..{limit}")
    return data


def error_message_to_bytes(message: str) -> bytes:
    """UTF-8 error text for an error response, cut to `MAX_ERROR_MESSAGE_BYTES` on a character boundary."""
    return message.encode("utf-8")[:MAX_ERROR_MESSAGE_BYTES].decode("utf-8", "ignore").encode("utf-8")


def bytes_to_error_message(data: bytes) -> str:
    """Error text from untrusted bytes: at most 256 bytes, undecodable bytes replaced."""
    data = require_bytes("error message", data)
    if len(data) > MAX_ERROR_MESSAGE_BYTES:
        raise MalformedMessage("error message", f"{len(data)} bytes, at most {MAX_ERROR_MESSAGE_BYTES}")
    return data.decode("utf-8", "replace")
