"""Codec fuzzing: every decoder of every wire message, fed arbitrary and mutated bytes.

A decoder may only return a value or raise its package's typed error (never IndexError,
ValueError, struct errors...). Whatever decodes must re-encode to the same bytes (one canonical
encoding per message), and real messages must round-trip.

To add a codec: append a `Codec` to `CODECS` with a decoder, its encoder, the typed error, and
one or more real encoded examples (`examples`), which are also mutated byte by byte.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from da import (
    DAConfig,
    bytes_to_header,
    bytes_to_sample,
    bytes_to_upload,
    compute_upload,
    header_to_bytes,
    sample_to_bytes,
    upload_to_bytes,
)
from da.errors import DAError
from da.types import CellCoordinate, ColumnIndex, RowIndex
from fuzz.invariants import STATS
from fuzz.world import get_blobs, get_keys
from network.errors import NetworkError
from network.messages import (
    CustodyPush,
    SamplesRequest,
    SamplesResponse,
    bytes_to_custody_push,
    bytes_to_data_root,
    bytes_to_samples_request,
    bytes_to_samples_response,
    custody_push_to_bytes,
    samples_request_to_bytes,
    samples_response_to_bytes,
)
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.errors import ValidatorError
from validator.keys import aggregate_signatures
from validator.types import Attestation, Ballot, Certificate, Epoch, QuorumIndex, ValidatorIndex
from validator.wire import attestation_to_bytes, ballot_to_bytes, bytes_to_attestation, bytes_to_ballot


@dataclass(frozen=True)
class Codec:
    """One wire message: how to decode and encode it, what it may raise, real encoded examples."""

    name: str
    decode: Callable[[bytes], object]
    encode: Callable[[object], bytes]
    error: type[Exception]
    examples: Callable[[], list[bytes]]
    max_size: int


def _sample_examples() -> list[bytes]:
    blob = get_blobs()[0]
    return [sample_to_bytes(blob.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(c)))) for c in (0, 127)]


def _header_examples() -> list[bytes]:
    return [header_to_bytes(blob.header) for blob in get_blobs()]


@functools.cache
def _signature() -> bytes:
    return get_keys()[0].sign(b"\x01" * 32)


def _attestation_examples() -> list[bytes]:
    root = get_blobs()[0].data_root
    return [
        attestation_to_bytes(Attestation(Epoch(3), QuorumIndex(1), root, ValidatorIndex(9), _signature()))
    ]


def _ballot_examples() -> list[bytes]:
    return [ballot_to_bytes(Ballot(ValidatorIndex(4), Epoch(2), _signature()))]


def _certificate_examples() -> list[bytes]:
    signature = aggregate_signatures([_signature(), get_keys()[1].sign(b"\x01" * 32)])
    root = get_blobs()[0].data_root
    return [
        certificate_to_bytes(Certificate(root, Epoch(1), QuorumIndex(0), (True, False, True) * 3, signature)),
        certificate_to_bytes(Certificate(root, Epoch(0), QuorumIndex(2), (), signature)),
    ]


def _samples_request_examples() -> list[bytes]:
    blob = get_blobs()[0]
    coordinates = tuple(CellCoordinate(RowIndex(0), ColumnIndex(c)) for c in (0, 5, 127))
    return [samples_request_to_bytes(SamplesRequest(blob.data_root, coordinates))]


def _samples_response_examples() -> list[bytes]:
    blob = get_blobs()[0]
    served = blob.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(3)))
    return [
        samples_response_to_bytes(SamplesResponse((served, None))),
        samples_response_to_bytes(SamplesResponse(())),
    ]


def _custody_push_examples() -> list[bytes]:
    blob = get_blobs()[0]
    return [custody_push_to_bytes(CustodyPush(blob.header, tuple(blob.get_column(ColumnIndex(9))), 0, 0))]


def _upload_examples() -> list[bytes]:
    from fuzz.uploads import get_honest_uploads  # noqa: PLC0415 - encodes a two-row blob on first use

    return [upload_to_bytes(compute_upload(data, blob)) for data, blob in get_honest_uploads()[:1]]


def _decode_upload(data: bytes) -> object:
    return bytes_to_upload(data, DAConfig())


def _data_root_examples() -> list[bytes]:
    return [bytes(get_blobs()[0].data_root)]


CODECS: list[Codec] = [
    Codec("sample", bytes_to_sample, sample_to_bytes, DAError, _sample_examples, 2600),  # type: ignore[arg-type]
    Codec("blob header", bytes_to_header, header_to_bytes, DAError, _header_examples, 3200),  # type: ignore[arg-type]
    Codec(
        "attestation", bytes_to_attestation, attestation_to_bytes, ValidatorError, _attestation_examples, 200
    ),  # type: ignore[arg-type]
    Codec("ballot", bytes_to_ballot, ballot_to_bytes, ValidatorError, _ballot_examples, 200),  # type: ignore[arg-type]
    Codec(
        "certificate", bytes_to_certificate, certificate_to_bytes, ValidatorError, _certificate_examples, 200
    ),  # type: ignore[arg-type]
    # The request/response messages of network/ (specs/p2p-interface.md).
    Codec(
        "samples request",
        bytes_to_samples_request,
        samples_request_to_bytes,
        NetworkError,
        _samples_request_examples,
        4200,
    ),  # type: ignore[arg-type]
    Codec(
        "samples response",
        bytes_to_samples_response,
        samples_response_to_bytes,
        NetworkError,
        _samples_response_examples,
        6000,
    ),  # type: ignore[arg-type]
    Codec(
        "custody push",
        bytes_to_custody_push,
        custody_push_to_bytes,
        NetworkError,
        _custody_push_examples,
        8000,
    ),  # type: ignore[arg-type]
    Codec("header request", bytes_to_data_root, bytes, NetworkError, _data_root_examples, 64),  # type: ignore[arg-type]
    # The sequencer's pre-encoded upload (specs/das-core.md, Pre-encoded uploads): its lengths.
    Codec("upload", _decode_upload, upload_to_bytes, DAError, _upload_examples, 48_000),  # type: ignore[arg-type]
]


def check_decoder(codec: Codec, data: bytes) -> None:
    """Decode `data`: only the typed error may escape; a decoded value must re-encode to `data`."""
    STATS.checks[f"codec {codec.name}"] += 1
    try:
        value = codec.decode(data)
    except codec.error:
        STATS.events[f"codec {codec.name}: rejected"] += 1
        return
    STATS.events[f"codec {codec.name}: decoded"] += 1
    if codec.encode(value) != data:
        raise AssertionError(f"{codec.name}: decoded bytes do not re-encode canonically")


def mutations(example: bytes) -> st.SearchStrategy[bytes]:
    """Bytes near a real message: one byte changed, truncated, extended, or a slice repeated."""
    position = st.integers(0, max(len(example) - 1, 0))
    return st.one_of(
        st.tuples(position, st.integers(0, 255)).map(
            lambda pv: example[: pv[0]] + bytes([pv[1]]) + example[pv[0] + 1 :]
        ),
        position.map(lambda p: example[:p]),
        st.binary(max_size=64).map(lambda tail: example + tail),
        st.tuples(position, position).map(lambda ab: example[: min(ab)] + example[min(ab) : max(ab)] * 2),
    )


def codec_inputs(codec: Codec) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes up to the codec's size, and mutations of its real examples."""
    return st.one_of(
        st.binary(max_size=codec.max_size),
        st.sampled_from(codec.examples()).flatmap(mutations),
    )


def fuzz_codec(codec: Codec, examples: int) -> None:
    """Run `examples` Hypothesis examples against one codec (raises on the first failure)."""
    for message in codec.examples():
        check_decoder(codec, message)

    @settings(max_examples=examples, deadline=None, database=None)
    @given(data=codec_inputs(codec))
    def run(data: bytes) -> None:
        check_decoder(codec, data)

    run()
