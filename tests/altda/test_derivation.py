"""The derivation rule without sockets: parse, recency, certificate (offline, real BLS), bytes against
the data root (real ckzg), and the HTTP answer each outcome gets (op-alt-da's codes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from altda.cache import PayloadCache
from altda.commitment import compute_commitment
from altda.derivation import (
    BlobMismatch,
    CertificatePending,
    CommitmentRejected,
    DropCode,
    EpochClock,
    OfflineChecker,
    check_blob,
    check_commitment,
    is_recent,
    parse_commitment,
)
from altda.errors import BlobNotFound, DAUnavailable, L1Unavailable, PayloadRefused
from altda.payload import MalformedPayload, wrap_payload
from altda.status import TEAPOT, answer_for
from da import CkzgBackend
from da.encoding import compute_blob_header
from da.header import compute_data_root
from da.types import BlobHeader, DataRoot
from tests.altda.fixtures import EPOCH_SECONDS, GENESIS_TIME, OneEpochRegistry, certify
from validator.certificate import certificate_to_bytes
from validator.keys import BLSSignature

CLOCK = EpochClock(GENESIS_TIME, EPOCH_SECONDS)
ROOT = DataRoot(b"\x21" * 32)
CHECKER = OfflineChecker(OneEpochRegistry())


def test_a_valid_commitment_passes_every_step() -> None:
    commitment = compute_commitment(certify(ROOT))
    assert check_commitment(commitment, CHECKER, CLOCK).data_root == ROOT


@pytest.mark.parametrize(
    "commitment",
    [
        b"",
        b"\x01\x54",
        b"\x01\x00\x01" + bytes(150),
        b"\x01\x54\x09" + bytes(150),
        b"\x01\x54\x01" + bytes(10),
    ],
)
def test_a_commitment_that_does_not_parse_is_dropped_with_code_1(commitment: bytes) -> None:
    with pytest.raises(CommitmentRejected) as caught:
        check_commitment(commitment, CHECKER, CLOCK)
    assert caught.value.code is DropCode.PARSE


def test_a_tampered_certificate_is_dropped_with_code_3() -> None:
    certificate = certify(ROOT)
    other_root = replace(certificate, data_root=DataRoot(b"\x22" * 32))
    other_signature = replace(certificate, signature=certify(DataRoot(b"\x23" * 32)).signature)
    half_signed = replace(certificate, signers=(True,) + (False,) * (len(certificate.signers) - 1))
    for tampered in (other_root, other_signature, half_signed):
        with pytest.raises(CommitmentRejected) as caught:
            check_commitment(compute_commitment(tampered), CHECKER, CLOCK)
        assert caught.value.code is DropCode.INVALID_CERTIFICATE, tampered
    garbage = replace(certificate, signature=BLSSignature(b"\x01" * 96))  # not a G2 point
    with pytest.raises(CommitmentRejected) as caught:
        check_commitment(compute_commitment(garbage), CHECKER, CLOCK)
    assert caught.value.code is DropCode.INVALID_CERTIFICATE


def test_a_certificate_of_an_epoch_the_registry_has_not_reached_is_pending_not_dropped() -> None:
    with pytest.raises(CertificatePending):
        check_commitment(compute_commitment(certify(ROOT, epoch=3)), CHECKER, CLOCK)


def test_the_recency_rule_counts_from_the_end_of_the_certificates_epoch() -> None:
    end_of_epoch_0 = GENESIS_TIME + EPOCH_SECONDS
    assert is_recent(0, end_of_epoch_0 + 100, CLOCK, window_s=100)
    assert not is_recent(0, end_of_epoch_0 + 101, CLOCK, window_s=100)
    assert is_recent(1, end_of_epoch_0 + 101, CLOCK, window_s=100)  # epoch 1 ends an hour later
    commitment = compute_commitment(certify(ROOT))
    with pytest.raises(CommitmentRejected) as caught:
        check_commitment(commitment, CHECKER, CLOCK, l1_block_time=end_of_epoch_0 + 101, window_s=100)
    assert caught.value.code is DropCode.RECENCY
    check_commitment(commitment, CHECKER, CLOCK, l1_block_time=end_of_epoch_0 + 100, window_s=100)
    check_commitment(commitment, CHECKER, CLOCK, l1_block_time=None, window_s=0)  # no L1 time: no rule


def test_the_bytes_are_checked_against_the_data_root_then_unwrapped(kzg: CkzgBackend) -> None:
    def header_of(blob: bytes) -> BlobHeader:
        return compute_blob_header(blob, kzg)

    payload = b"a rollup batch"
    blob = wrap_payload(payload)
    commitment = parse_commitment(compute_commitment(certify(compute_data_root(header_of(blob)))))
    assert check_blob(commitment, blob, header_of) == payload
    with pytest.raises(BlobMismatch):  # another source's bytes: ask another, never drop
        check_blob(commitment, wrap_payload(b"another batch"), header_of)
    raw = b"\x07 posted to a validator directly"
    direct = parse_commitment(compute_commitment(certify(compute_data_root(header_of(raw)))))
    with pytest.raises(CommitmentRejected) as caught:
        check_blob(direct, raw, header_of)
    assert caught.value.code is DropCode.DECODE


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (CommitmentRejected(DropCode.PARSE, "short"), TEAPOT, {"StatusCode": 1, "Msg": "short"}),
        (CommitmentRejected(DropCode.RECENCY, "late"), TEAPOT, {"StatusCode": 2, "Msg": "late"}),
        (CommitmentRejected(DropCode.INVALID_CERTIFICATE, "bad"), TEAPOT, {"StatusCode": 3, "Msg": "bad"}),
        (CommitmentRejected(DropCode.DECODE, "junk"), TEAPOT, {"StatusCode": 4, "Msg": "junk"}),
        (BlobNotFound("nobody has it"), 404, None),
        (DAUnavailable("no certificate in 60 s"), 503, None),
        (CertificatePending("epoch not known yet"), 503, None),
        (L1Unavailable("no block 9 yet"), 503, None),
        (PayloadRefused("request_too_large", "too big"), 413, None),
        (PayloadRefused("invalid_argument", "empty"), 400, None),
        (MalformedPayload("empty"), 400, None),
    ],
)
def test_each_outcome_gets_the_status_op_alt_da_acts_on(error: Exception, status: int, body: object) -> None:
    got_status, got_body = answer_for(error)  # type: ignore[arg-type]
    assert got_status == status
    if body is not None:
        assert got_body == body
    else:
        assert set(got_body) == {"error"} and got_body["error"]["message"]


def test_the_read_cache_is_bounded_in_bytes_and_evicts_the_least_recently_read() -> None:
    cache = PayloadCache(max_bytes=10)
    cache.put(b"a", b"1234")
    cache.put(b"b", b"5678")
    assert cache.get(b"a") == b"1234"  # a is now the most recent
    cache.put(b"c", b"9012")
    assert cache.get(b"b") is None and cache.get(b"a") == b"1234" and cache.get(b"c") == b"9012"
    cache.put(b"d", b"x" * 11)  # larger than the bound: not kept
    assert cache.get(b"d") is None and cache.size_bytes == 8 and len(cache) == 2


def test_the_certificate_bytes_checked_are_the_commitments_own() -> None:
    certificate = certify(ROOT)
    assert parse_commitment(compute_commitment(certificate)).certificate_bytes == certificate_to_bytes(
        certificate
    )
