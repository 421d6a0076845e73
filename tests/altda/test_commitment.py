"""The commitment codec and the payload envelope: round trips, and every wrong byte a typed error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from altda.commitment import (
    DERIVATION_VERSION_1,
    GENERIC_COMMITMENT_TYPE,
    TESSERA_DA_LAYER,
    TESSERA_PAYLOAD_VERSION,
    bytes_to_commitment,
    commitment_to_calldata,
    compute_commitment,
)
from altda.errors import AltDAError, MalformedCommitment
from altda.payload import MalformedPayload, unwrap_payload, wrap_payload
from da.types import DataRoot
from tests.altda.fixtures import certify
from tests.examples import examples
from validator.certificate import certificate_to_bytes

CERTIFICATE = certify(DataRoot(b"\x17" * 32))


def test_the_layer_byte_is_tesseras_own_and_below_127() -> None:
    assert TESSERA_DA_LAYER not in {0x00, 0x0C, 0xFF}  # EigenDA, Celestia, the reference mock
    assert TESSERA_DA_LAYER < 127


def test_a_commitment_is_type_layer_version_then_the_certificate() -> None:
    commitment = compute_commitment(CERTIFICATE)
    assert commitment[:3] == bytes((GENERIC_COMMITMENT_TYPE, TESSERA_DA_LAYER, TESSERA_PAYLOAD_VERSION))
    assert commitment[3:] == certificate_to_bytes(CERTIFICATE)
    decoded = bytes_to_commitment(commitment)
    assert decoded.certificate == CERTIFICATE and decoded.data_root == CERTIFICATE.data_root
    assert commitment_to_calldata(commitment) == bytes((DERIVATION_VERSION_1,)) + commitment


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda c: c[:3], "bytes, a commitment has more than 3"),
        (lambda c: b"", "0 bytes"),
        (lambda c: b"\x00" + c[1:], "commitment type 0x00"),
        (lambda c: c[:1] + b"\x0c" + c[2:], "DA layer byte 0x0c"),
        (lambda c: c[:2] + b"\x02" + c[3:], "payload version 0x02"),
        (lambda c: c[:60], "the certificate does not decode"),
        (lambda c: c + b"\x00", "the certificate does not decode"),
    ],
)
def test_every_wrong_commitment_is_a_typed_error(change: object, reason: str) -> None:
    commitment = compute_commitment(CERTIFICATE)
    with pytest.raises(MalformedCommitment, match=reason) as caught:
        bytes_to_commitment(change(commitment))  # type: ignore[operator]
    assert isinstance(caught.value, AltDAError)


@settings(max_examples=examples(200))
@given(st.binary(max_size=400))
def test_arbitrary_bytes_decode_or_raise_the_typed_error(data: bytes) -> None:
    try:
        decoded = bytes_to_commitment(data)
    except MalformedCommitment:
        return
    assert compute_commitment(decoded.certificate) == data  # what decodes is canonical


@settings(max_examples=examples(100))
@given(st.binary(min_size=1, max_size=200))
def test_the_payload_envelope_round_trips(payload: bytes) -> None:
    assert unwrap_payload(wrap_payload(payload)) == payload


@pytest.mark.parametrize("blob", [b"", b"\x00", b"\x07batch"])
def test_a_blob_that_is_not_an_envelope_is_refused(blob: bytes) -> None:
    with pytest.raises(MalformedPayload):
        unwrap_payload(blob)


def test_an_empty_payload_is_refused() -> None:
    with pytest.raises(MalformedPayload, match="empty"):
        wrap_payload(b"")
