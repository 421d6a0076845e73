"""The validator core end to end, in process: disperse, custody, sample, attest, certify.

Real blspy keys, real ckzg cells and proofs, and a synchronous message loop
(tests/validator/network_fixture.py) that delivers every output to its addressee.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from da import CkzgBackend, EncodedBlob
from tests.validator.network_fixture import make_cluster, make_context, make_keys
from validator.certificate import verify_certificate
from validator.core import (
    AttestationReceived,
    AttestationRejected,
    BlobDispersing,
    CertificateFormed,
    CustodyReceived,
    CustodyRejected,
    CustodyRejection,
    DutyFailed,
    DutyFailure,
    PushCustody,
    SampleRejected,
    SampleRejection,
    Tick,
)
from validator.custody import compute_member_custody
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.types import Attestation, Epoch, QuorumIndex, ValidatorIndex

STAKE = DEVNET.STAKE_PER_SLOT
AGGREGATOR = ValidatorIndex(0)


@pytest.fixture(scope="module")
def keys() -> list:
    return make_keys(8)


def _certificates(cluster) -> list:
    return [output.certificate for _, output in cluster.log if isinstance(output, CertificateFormed)]


def _setup(keys, kzg: CkzgBackend, blob: EncodedBlob):
    context = make_context(keys, [STAKE] * len(keys))
    cluster = make_cluster(keys, DEVNET, kzg, [blob])
    cluster.broadcast_context(context)
    return context, cluster


def test_eight_validators_certify_a_blob(keys, kzg: CkzgBackend, two_row_blob) -> None:
    _data, blob = two_row_blob
    context, cluster = _setup(keys, kzg, blob)
    cluster.run(AGGREGATOR, BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    (certificate,) = _certificates(cluster)
    assert certificate.data_root == blob.data_root
    verdict = verify_certificate(certificate, context, DEVNET)
    assert verdict.valid, verdict.reason
    assert verdict.signed_slots >= verdict.threshold == 6
    # Every member stored exactly its custody columns, every row, before it attested.
    (quorum,) = compute_quorums(context, DEVNET)
    custody = compute_member_custody(quorum, blob.data_root, DEVNET)
    for member in quorum.members:
        stored = {s.coordinate for s in cluster.stored[member][blob.data_root]}
        assert {(c.row, c.column) for c in stored} == {
            (row, column) for row in range(blob.header.row_count) for column in custody[member]
        }


def test_two_silent_validators_do_not_stall_the_certificate(keys, kzg: CkzgBackend, two_row_blob) -> None:
    _data, blob = two_row_blob
    context, cluster = _setup(keys, kzg, blob)
    cluster.silent = {ValidatorIndex(3), ValidatorIndex(6)}
    cluster.run(AGGREGATOR, BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    # Members whose sample requests went to a silent peer retry elsewhere on later ticks.
    for second in range(1, 20):
        for index in list(cluster.cores):
            cluster.run(index, Tick(now=2.5 * second))
        if _certificates(cluster):
            break
    (certificate,) = _certificates(cluster)
    verdict = verify_certificate(certificate, context, DEVNET)
    assert verdict.valid, verdict.reason
    signed = [
        slot
        for slot, bit in zip(compute_quorums(context, DEVNET)[0].slots, certificate.signers, strict=True)
        if bit
    ]
    assert {slot.validator for slot in signed}.isdisjoint(cluster.silent)


def test_corrupted_samples_are_rejected_and_fetched_elsewhere(keys, kzg: CkzgBackend, two_row_blob) -> None:
    _data, blob = two_row_blob
    context, cluster = _setup(keys, kzg, blob)
    cluster.corrupt_samples = {ValidatorIndex(1)}
    cluster.run(AGGREGATOR, BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    rejected = [o for _, o in cluster.log if isinstance(o, SampleRejected)]
    invalid = [o for o in rejected if o.reason is SampleRejection.INVALID_PROOF]
    assert invalid and all(o.sender == 1 for o in invalid)
    # The aggregator stores its own custody at once (as the daemon does) and samples before the
    # other members hold theirs: those early answers are "not held", never "invalid".
    assert all(o.reason is SampleRejection.NOT_HELD for o in rejected if o.sender != 1)
    (certificate,) = _certificates(cluster)
    assert verify_certificate(certificate, context, DEVNET).valid


def test_tampered_custody_is_refused_and_nothing_is_stored(keys, kzg: CkzgBackend, two_row_blob) -> None:
    _data, blob = two_row_blob
    _context, cluster = _setup(keys, kzg, blob)
    member = ValidatorIndex(2)
    core = cluster.cores[member]
    dispersal = cluster.cores[AGGREGATOR].step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(o for o in dispersal if isinstance(o, PushCustody) and o.to == member)
    samples = [s for c in push.columns for s in blob.get_column(c)]
    flipped = replace(samples[0], proof=samples[1].proof)
    outputs = core.step(
        CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), (flipped, *samples[1:]))
    )
    assert outputs == [
        CustodyRejected(
            blob.data_root,
            AGGREGATOR,
            CustodyRejection.INVALID_PROOF,
            "custody cells do not verify against the data root",
        )
    ]
    outputs = core.step(
        CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), tuple(samples[1:]))
    )
    assert isinstance(outputs[0], CustodyRejected) and outputs[0].reason is CustodyRejection.WRONG_CELLS
    assert blob.data_root not in core.duties


def test_unknown_epoch_fails_typed_and_stray_attestations_are_rejected(
    keys, kzg: CkzgBackend, two_row_blob
) -> None:
    _data, blob = two_row_blob
    _context, cluster = _setup(keys, kzg, blob)
    outputs = cluster.cores[AGGREGATOR].step(BlobDispersing(blob.header, Epoch(5), QuorumIndex(0)))
    unknown = DutyFailed(blob.data_root, DutyFailure.UNKNOWN_QUORUM, "quorum 0 of epoch 5 is unknown")
    assert outputs == [unknown]
    stray = Attestation(Epoch(0), QuorumIndex(0), blob.data_root, ValidatorIndex(1), keys[1].sign(b"x" * 32))
    (rejected,) = cluster.cores[AGGREGATOR].step(AttestationReceived(stray))
    assert isinstance(rejected, AttestationRejected) and rejected.reason is None
