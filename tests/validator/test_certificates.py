"""Aggregation and certificates: 2/3 certifies, one slot fewer does not; forged, duplicated or foreign
signatures never count; a certificate for another data root, epoch or quorum fails; codec round trips."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da.types import DataRoot
from tests.examples import examples
from tests.validator.network_fixture import CHAIN_ID, make_context, make_keys
from validator.aggregation import Accepted, AttestationAggregator, Rejected, RejectReason
from validator.certificate import (
    MAX_CERTIFICATE_SSZ_BYTES,
    bytes_to_certificate,
    certificate_to_bytes,
    verify_certificate,
)
from validator.errors import MalformedCertificate
from validator.keys import BLSSignature, aggregate_signatures
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Certificate, Epoch, QuorumIndex, ValidatorIndex

KEYS = make_keys(12, b"certs")
OUTSIDER = make_keys(1, b"outsider")[0]
S = DEVNET.STAKE_PER_SLOT
# 12 validators: 2 slots for 0-3 and 1 for 4-11 -> 16 slots -> two quorums of 8 slots each.
STAKES = [2 * S] * 4 + [S] * 8
CONTEXT = make_context(KEYS, STAKES)
QUORUMS = compute_quorums(CONTEXT, DEVNET)
QUORUM = QUORUMS[0]
ROOT = DataRoot(b"\x42" * 32)


def attest(
    validator: ValidatorIndex, *, root: DataRoot = ROOT, epoch: int = 0, quorum: int = 0
) -> Attestation:
    message = compute_attestation_signing_root(CHAIN_ID, Epoch(epoch), QuorumIndex(quorum), root)
    return Attestation(Epoch(epoch), QuorumIndex(quorum), root, validator, KEYS[validator].sign(message))


def certificate_from(members: list[ValidatorIndex]) -> Certificate:
    """A certificate signed by `members` exactly, bypassing the aggregator's threshold."""
    return Certificate(
        data_root=ROOT,
        epoch=Epoch(0),
        quorum=QUORUM.index,
        signers=tuple(slot.validator in members for slot in QUORUM.slots),
        signature=aggregate_signatures([attest(m).signature for m in members]),
    )


def test_setup_has_two_quorums_with_multi_slot_members() -> None:
    assert [len(q.slots) for q in QUORUMS] == [8, 8]
    assert DEVNET.certificate_threshold(8) == 6


def test_certificate_is_emitted_exactly_when_two_thirds_of_slots_sign() -> None:
    aggregator = AttestationAggregator(CONTEXT, QUORUM, ROOT, DEVNET)
    results = [aggregator.add(attest(member)) for member in QUORUM.members]
    accepted = [r for r in results if isinstance(r, Accepted)]
    assert len(accepted) == len(QUORUM.members)
    formed = [r for r in accepted if r.certificate is not None]
    assert len(formed) == 1
    assert formed[0].signed_slots >= 6
    assert all(r.signed_slots < 6 for r in accepted[: accepted.index(formed[0])])
    verdict = verify_certificate(formed[0].certificate, CONTEXT, DEVNET)
    assert verdict.valid, verdict.reason


def _members_with_weight(target: int) -> list[ValidatorIndex]:
    chosen: list[ValidatorIndex] = []
    weight = 0
    for member in sorted(QUORUM.members, key=lambda m: -len(QUORUM.slots_of(m))):
        slots = len(QUORUM.slots_of(member))
        if weight + slots <= target:
            chosen.append(member)
            weight += slots
    assert weight == target
    return chosen


def test_threshold_certifies_and_one_slot_fewer_does_not() -> None:
    at_threshold = verify_certificate(certificate_from(_members_with_weight(6)), CONTEXT, DEVNET)
    assert at_threshold.valid and at_threshold.signed_slots == 6
    below = verify_certificate(certificate_from(_members_with_weight(5)), CONTEXT, DEVNET)
    assert not below.valid
    assert below.reason == "5 of 8 slots signed, 6 needed"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"data_root": DataRoot(b"\x43" * 32)}, "aggregate signature does not verify"),
        ({"epoch": Epoch(1)}, "certificate is for epoch 1, context is 0"),
        ({"quorum": QuorumIndex(1)}, "aggregate signature does not verify"),
        ({"quorum": QuorumIndex(2)}, "quorum 2 does not exist (2 quorums)"),
        ({"signers": (True,) * 7}, "signer bitfield has 7 bits, quorum has 8 slots"),
    ],
)
def test_certificate_for_another_root_epoch_or_quorum_fails(change: dict[str, object], reason: str) -> None:
    certificate = certificate_from(list(QUORUM.members))
    assert verify_certificate(certificate, CONTEXT, DEVNET).valid
    tampered = replace(certificate, **change)
    if "quorum" in change and change["quorum"] == 1:
        other = QUORUMS[1]
        tampered = replace(tampered, signers=(True,) * len(other.slots))
    verdict = verify_certificate(tampered, CONTEXT, DEVNET)
    assert not verdict.valid
    assert verdict.reason == reason


def test_partly_marked_multi_slot_member_is_invalid() -> None:
    certificate = certificate_from(list(QUORUM.members))
    member = next(m for m in QUORUM.members if len(QUORUM.slots_of(m)) == 2)
    first_slot = QUORUM.slots_of(member)[0]
    signers = list(certificate.signers)
    signers[first_slot] = False
    verdict = verify_certificate(replace(certificate, signers=tuple(signers)), CONTEXT, DEVNET)
    assert verdict.reason == f"validator {member}'s slots are only partly marked as signed"


def test_forged_duplicated_and_foreign_signatures_never_count() -> None:
    aggregator = AttestationAggregator(CONTEXT, QUORUM, ROOT, DEVNET)
    member, other = QUORUM.members[0], QUORUM.members[1]
    forged = replace(attest(member), signature=attest(other).signature)
    assert aggregator.add(forged) == Rejected(
        RejectReason.BAD_SIGNATURE, f"signature of validator {member} is invalid"
    )
    assert isinstance(aggregator.add(attest(member)), Accepted)
    duplicate = aggregator.add(attest(member))
    assert isinstance(duplicate, Rejected) and duplicate.reason is RejectReason.DUPLICATE
    outsider = next(v for v in range(12) if ValidatorIndex(v) not in QUORUM.members)
    foreign = aggregator.add(attest(ValidatorIndex(outsider)))
    assert isinstance(foreign, Rejected) and foreign.reason is RejectReason.NOT_A_MEMBER
    unknown_key = replace(attest(other), signature=BLSSignature(OUTSIDER.sign(b"\x00" * 32)))
    assert aggregator.add(unknown_key).reason is RejectReason.BAD_SIGNATURE  # type: ignore[union-attr]
    for wrong, reason in [
        (attest(other, root=DataRoot(b"\x00" * 32)), RejectReason.WRONG_DATA_ROOT),
        (attest(other, epoch=1), RejectReason.WRONG_EPOCH),
        (attest(other, quorum=1), RejectReason.WRONG_QUORUM),
    ]:
        assert aggregator.add(wrong).reason is reason  # type: ignore[union-attr]
    assert aggregator.signers == {member}
    assert aggregator.signed_slots == len(QUORUM.slots_of(member))


@settings(max_examples=examples(40))
@given(st.lists(st.integers(0, 11), max_size=30), st.lists(st.integers(0, 11), max_size=5))
def test_only_valid_member_signatures_ever_count(order: list[int], forgers: list[int]) -> None:
    """Whatever arrives, in any order: counted weight = distinct honest members' slots."""
    aggregator = AttestationAggregator(CONTEXT, QUORUM, ROOT, DEVNET)
    for forger in forgers:
        victim = QUORUM.members[forger % len(QUORUM.members)]
        aggregator.add(replace(attest(victim), signature=KEYS[(victim + 1) % 12].sign(b"x")))
    for index in order:
        aggregator.add(attest(ValidatorIndex(index)))
    honest = {ValidatorIndex(i) for i in order} & set(QUORUM.members)
    assert aggregator.signers == honest
    assert aggregator.signed_slots == sum(len(QUORUM.slots_of(m)) for m in honest)
    if aggregator.certificate is not None:
        assert aggregator.certificate.signed_slots >= aggregator.threshold
        assert verify_certificate(aggregator.certificate, CONTEXT, DEVNET).valid


def test_certificate_codec_round_trip_and_malformed_bytes() -> None:
    certificate = certificate_from(list(QUORUM.members))
    wire = certificate_to_bytes(certificate)
    assert bytes_to_certificate(wire) == certificate
    for bad, message in [
        (wire[:100], "bytes, expected"),
        (wire + b"\x00" * 40, "bytes, expected"),
        (wire[:-1] + b"\x00", "no length delimiter"),
        (wire[:48] + (999).to_bytes(4, "little") + wire[52:], "signers offset"),
    ]:
        with pytest.raises(MalformedCertificate, match=message):
            bytes_to_certificate(bad)


@given(st.binary(max_size=MAX_CERTIFICATE_SSZ_BYTES + 10))
def test_arbitrary_bytes_decode_or_raise_typed(data: bytes) -> None:
    try:
        certificate = bytes_to_certificate(data)
    except MalformedCertificate:
        return
    assert certificate_to_bytes(certificate) == data


@pytest.mark.oracle
def test_blspy_certificate_verifies_with_py_ecc() -> None:
    from py_ecc.bls import G2ProofOfPossession  # noqa: PLC0415 - the slow oracle loads only here

    certificate = certificate_from(list(QUORUM.members)[:3])
    message = compute_attestation_signing_root(
        CHAIN_ID, certificate.epoch, certificate.quorum, certificate.data_root
    )
    pubkeys = [KEYS[m].pubkey for m in list(QUORUM.members)[:3]]
    assert G2ProofOfPossession.FastAggregateVerify(pubkeys, message, certificate.signature)
    assert not G2ProofOfPossession.FastAggregateVerify(pubkeys[:2], message, certificate.signature)
