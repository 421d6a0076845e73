"""Certificates checked on-chain (`TesseraVerifier`) against quorums drawn from the registry's
verified ballots: the commitment accepts exactly `compute_slots`, a published quorum is the Python
quorum, and one table of certificates gets the same status from `verify_certificate` and the
contract (specs/validator.md, On-chain certificate checks), on a real anvil chain."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from py_ecc.optimized_bls12_381 import curve_order
from web3 import Web3

from da.types import DataRoot
from tests.examples import examples
from validator.certificate import (
    CERTIFICATE_FIXED_BYTES,
    CertificateStatus,
    bytes_to_certificate,
    certificate_to_bytes,
    verify_certificate,
)
from validator.errors import MalformedCertificate
from validator.keys import BLSSignature, SecretKey, aggregate_signatures
from validator.presets import DEVNET
from validator.quorums import compute_quorums, compute_slots
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.rpc import TransactionReverted
from validator.registry.chain.verifier import (
    ChainVerifier,
    EpochQuorums,
    NotATesseraVerifier,
    compute_quorum_hash,
    deploy_verifier,
)
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, QuorumIndex

from .registry_network import KEYS, cast_ballots, deployer, register
from .verifier_world import SLOTS, S, World, build_world, certificate_of, offline, sign

pytestmark = pytest.mark.xdist_group("chain")


@pytest.fixture(scope="module")
def world(anvil: Anvil, web3: Web3) -> World:
    return build_world(anvil, web3)


def test_the_commitment_is_the_python_draw_and_a_published_quorum_its_members(world: World) -> None:
    verifier = world.verifier
    assert verifier.epoch_quorums(Epoch(0)) == EpochQuorums(True, 17, 2)
    assert verifier.epoch_quorums(Epoch(1)) == EpochQuorums(True, 14, 1)
    for epoch, count in ((0, 2), (1, 1)):
        quorums = compute_quorums(world.contexts[epoch], DEVNET)
        assert len(quorums) == count
        for quorum in quorums:
            expected = compute_quorum_hash([slot.validator for slot in quorum.slots])
            functions = verifier._contract.functions
            assert bytes(functions.quorumHash(epoch, quorum.index).call()) == expected
            assert verifier.quorum_data(quorum.epoch, quorum.index) is not None
    (published,) = verifier._contract.events.QuorumPublished().get_logs(
        from_block=0, argument_filters={"epoch": 1}
    )
    quorum = world.quorum(1, 0)
    first_slot_order = list(dict.fromkeys(slot.validator for slot in quorum.slots))
    assert list(published["args"]["members"]) == first_slot_order


def test_every_certificate_in_the_table_gets_the_same_status_offline_and_on_chain(world: World) -> None:
    quorum = world.quorum(0, 0)
    slots_of = {m: len(quorum.slots_of(m)) for m in quorum.members}
    threshold = DEVNET.certificate_threshold(len(quorum.slots))
    members = sorted(slots_of)
    everyone = certificate_of(world, 0, 0, members)
    short = next(
        list(subset)
        for size in range(len(members), 0, -1)
        for subset in itertools.combinations(members, size)
        if sum(slots_of[m] for m in subset) == threshold - 1
    )
    enough = next(
        list(subset)
        for size in range(1, len(members) + 1)
        for subset in itertools.combinations(members, size)
        if sum(slots_of[m] for m in subset) >= threshold
    )
    multi = next(m for m in members if slots_of[m] > 1)
    partial = list(everyone.signers)
    partial[quorum.slots_of(multi)[0]] = False
    outsider_signed = certificate_of(world, 0, 0, enough)
    unsigned = next(m for m in members if m not in enough)
    claimed = tuple(
        bit or slot.validator == unsigned
        for bit, slot in zip(outsider_signed.signers, quorum.slots, strict=True)
    )
    chain_id = world.net.web3.eth.chain_id
    stranger = SecretKey.from_seed(b"not a validator of this registry!")
    root = everyone.data_root
    message = compute_attestation_signing_root(chain_id, Epoch(0), QuorumIndex(0), root)
    genuine = certificate_to_bytes(everyone)
    table: dict[str, tuple[bytes, CertificateStatus]] = {
        "every member signed": (genuine, S.VALID),
        "just enough members signed": (certificate_to_bytes(outsider_signed), S.VALID),
        "quorum 1, every member": (
            certificate_to_bytes(certificate_of(world, 0, 1, list(range(6)))),
            S.VALID,
        ),
        "epoch 1, its one quorum": (
            certificate_to_bytes(certificate_of(world, 1, 0, list(range(5)))),
            S.VALID,
        ),
        "one slot short of the threshold": (
            certificate_to_bytes(certificate_of(world, 0, 0, short)),
            S.BELOW_THRESHOLD,
        ),
        "a member's bit set without its signature": (
            certificate_to_bytes(replace(outsider_signed, signers=claimed)),
            S.INVALID_SIGNATURE,
        ),
        "a member's slots only partly marked": (
            certificate_to_bytes(replace(everyone, signers=tuple(partial))),
            S.PARTIAL_SIGNER,
        ),
        "one signer bit too many": (
            certificate_to_bytes(replace(everyone, signers=(*everyone.signers, True))),
            S.WRONG_SIGNER_COUNT,
        ),
        "another epoch": (certificate_to_bytes(replace(everyone, epoch=Epoch(1))), None),
        "another quorum": (certificate_to_bytes(replace(everyone, quorum=QuorumIndex(1))), None),
        "a quorum that does not exist": (
            certificate_to_bytes(replace(everyone, quorum=QuorumIndex(2))),
            S.NO_SUCH_QUORUM,
        ),
        "another data root": (
            certificate_to_bytes(replace(everyone, data_root=DataRoot(b"\x01" * 32))),
            S.INVALID_SIGNATURE,
        ),
        "a foreign key's signature": (
            certificate_to_bytes(replace(everyone, signature=stranger.sign(message))),
            S.INVALID_SIGNATURE,
        ),
        "signed for another chain": (
            certificate_to_bytes(replace(everyone, signature=sign(members, 0, 0, root, chain_id + 1))),
            S.INVALID_SIGNATURE,
        ),
        "a signature that is not a point": (
            certificate_to_bytes(replace(everyone, signature=BLSSignature(b"\x80" + b"\x11" * 95))),
            S.INVALID_SIGNATURE,
        ),
        "the last byte cut (a shorter bitlist)": (genuine[:-1], S.WRONG_SIGNER_COUNT),
        "truncated to the fixed part": (genuine[:148], S.MALFORMED),
        "padded": (genuine + b"\x00", S.MALFORMED),
        "empty": (b"", S.MALFORMED),
    }
    for what, (data, expected) in table.items():
        on_chain = world.verifier.check_certificate(data)
        assert on_chain.status == offline(world, data), what
        if expected is not None:
            assert on_chain.status == expected, what
        if on_chain.status in (S.VALID, S.BELOW_THRESHOLD, S.INVALID_SIGNATURE):
            verdict = verify_certificate(
                bytes_to_certificate(data), world.contexts[bytes_to_certificate(data).epoch], DEVNET
            )
            assert (on_chain.signed_slots, on_chain.threshold) == (verdict.signed_slots, verdict.threshold), (
                what
            )


CERTIFICATE_FIELDS = {
    "data_root": (0, 32),
    "epoch": (32, 40),
    "quorum": (40, 48),
    "signers_offset": (48, 52),
    "signature": (52, CERTIFICATE_FIXED_BYTES),
    "signers": (CERTIFICATE_FIXED_BYTES, None),  # the bitlist, to the end
}
"""The byte ranges of `CertificateSSZ`'s fields; a flip draws the field first, so each is hit alike."""


def test_the_flipped_fields_cover_every_byte_of_a_certificate(world: World) -> None:
    data = certificate_to_bytes(certificate_of(world, 0, 0, sorted(world.quorum(0, 0).members)))
    ranges = sorted((start, len(data) if end is None else end) for start, end in CERTIFICATE_FIELDS.values())
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(left[1] == right[0] for left, right in itertools.pairwise(ranges))


@settings(
    max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(sorted(CERTIFICATE_FIELDS)), byte=st.integers(0, 1 << 16), bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_gets_the_same_status(world: World, field: str, byte: int, bit: int) -> None:
    data = bytearray(certificate_to_bytes(certificate_of(world, 0, 0, sorted(world.quorum(0, 0).members))))
    start, end = CERTIFICATE_FIELDS[field]
    position = start + byte % ((len(data) if end is None else end) - start)
    event(f"flipped: {field}")
    data[position] ^= 1 << bit
    on_chain = world.verifier.check_certificate(bytes(data))
    try:
        epoch = bytes_to_certificate(bytes(data)).epoch
    except MalformedCertificate:
        assert on_chain.status == offline(world, bytes(data)) == S.MALFORMED
        return
    if not world.verifier.epoch_quorums(epoch).committed:  # nothing to check against on-chain yet
        assert on_chain.status == S.EPOCH_NOT_COMMITTED
        return
    assert on_chain.status == offline(world, bytes(data)), (field, position, bit)


def test_a_commitment_other_than_the_draw_reverts_and_the_lifecycle_of_an_epoch(world: World) -> None:
    """Epoch 2 is not committed by the fixture: every wrong list is refused, naming the first bad
    slot; then the right one, after which certificates go from not committed to not published to valid."""
    verifier = world.verifier
    context = world.contexts[2]
    slots = compute_slots(context, DEVNET)
    validators = [int(s.validator) for s in slots]
    ordinals = [int(s.ordinal) for s in slots]
    certificate = certificate_to_bytes(certificate_of(world, 2, 0, list(range(6))))
    assert verifier.check_certificate(certificate).status == S.EPOCH_NOT_COMMITTED
    swapped = validators[:], ordinals[:]
    swapped[0][3], swapped[0][4] = validators[4], validators[3]
    swapped[1][3], swapped[1][4] = ordinals[4], ordinals[3]
    twice = validators[:], ordinals[:]
    twice[0][5], twice[1][5] = validators[4], ordinals[4]
    top = max(range(len(slots)), key=lambda i: ordinals[i])
    beyond = validators[:], ordinals[:]
    beyond[1][top] = SLOTS[validators[top]]
    attempts = {
        "two slots swapped": (swapped, "SlotsOutOfOrder", (4,)),
        "a slot twice, one left out": (twice, "SlotsOutOfOrder", (5,)),
        "a slot left out": ((validators[:-1], ordinals[:-1]), "WrongSlotCount", (16, 17)),
        "an ordinal beyond the stake": (
            beyond,
            "OrdinalOutOfRange",
            (top, validators[top], SLOTS[validators[top]], SLOTS[validators[top]]),
        ),
        "a validator that did not vote": (
            ([*validators[:-1], 6], [*ordinals[:-1], 0]),
            "NotAVoter",
            (16, 6),
        ),
        "lengths differ": ((validators, ordinals[:-1]), "LengthMismatch", (17, 16)),
    }
    for what, ((vs, os_), error, args) in attempts.items():
        with pytest.raises(TransactionReverted) as refused:
            verifier._send(verifier._contract.functions.commitQuorums(2, vs, os_))
        assert refused.value.error == error, what
        if args is not None:
            assert refused.value.args_ == args, what
    with pytest.raises(TransactionReverted) as refused:
        verifier._send(verifier._contract.functions.commitQuorums(3, [], []))
    assert refused.value.error == "EpochNotStarted"
    assert verifier.epoch_quorums(Epoch(2)) == EpochQuorums(False, 0, 0)

    verifier.commit_quorums(context)
    assert verifier.check_certificate(certificate).status == S.QUORUM_NOT_PUBLISHED
    with pytest.raises(TransactionReverted) as refused:
        verifier.commit_quorums(context)
    assert refused.value.error == "AlreadyCommitted"
    quorum = world.quorum(2, 0)
    other = list(reversed([int(s.validator) for s in quorum.slots]))
    with pytest.raises(TransactionReverted) as refused:
        verifier._send(verifier._contract.functions.publishQuorum(2, 0, other))
    assert refused.value.error == "SlotListMismatch"
    verifier.publish_quorum(quorum)
    assert verifier.check_certificate(certificate).status == S.VALID
    with pytest.raises(TransactionReverted) as refused:
        verifier.publish_quorum(quorum)
    assert refused.value.error == "AlreadyPublished"


def test_a_registry_is_not_a_verifier(world: World) -> None:
    with pytest.raises(NotATesseraVerifier):
        ChainVerifier(world.net.rpc_url, world.net.address)
    with pytest.raises(NotATesseraVerifier):
        ChainVerifier(world.net.rpc_url, "0x" + "00" * 19 + "01")


def test_checking_a_certificate_costs_under_250k_gas(world: World) -> None:
    genuine = certificate_to_bytes(certificate_of(world, 0, 0, sorted(world.quorum(0, 0).members)))
    gas = world.verifier.check_certificate_gas(genuine)
    assert gas < 250_000, gas


def test_a_quorum_whose_keys_sum_to_infinity_gets_invalid_signature_offline_and_on_chain(
    anvil: Anvil, web3: Web3
) -> None:
    """Keys k and -k both have valid proofs of possession, so both register; signatures by both
    aggregate to infinity under an aggregate key at infinity. blspy's fast_aggregate_verify refuses
    that and so does the contract (BLS12381.verify takes no key at infinity): the same status."""
    key = KEYS[7]
    negated = SecretKey.from_bytes((curve_order - int.from_bytes(key.to_bytes(), "big")).to_bytes(32, "big"))
    net = deployer(anvil, web3)(genesis_in=60, accounts=2)
    for i, secret in enumerate((key, negated)):
        register(net.registry(i), secret, slots=4)  # 8 slots: one devnet quorum of both
    cast_ballots(net, {0: key, 1: negated}, Epoch(0))
    net.to_epoch(0)
    context = net.registry().get_epoch_context(Epoch(0))
    (quorum,) = compute_quorums(context, DEVNET)
    verifier = ChainVerifier(
        net.rpc_url, deploy_verifier(net.rpc_url, net.deployer, net.address), account=net.accounts[0]
    )
    verifier.prepare(context, quorum)
    root = DataRoot(hashlib.sha256(b"a blob signed by k and -k").digest())
    message = compute_attestation_signing_root(web3.eth.chain_id, Epoch(0), QuorumIndex(0), root)
    certificate = Certificate(
        data_root=root,
        epoch=Epoch(0),
        quorum=QuorumIndex(0),
        signers=(True,) * len(quorum.slots),
        signature=aggregate_signatures([key.sign(message), negated.sign(message)]),
    )
    assert certificate.signature == BLSSignature(bytes([0xC0]) + bytes(95))  # infinity
    data = certificate_to_bytes(certificate)
    assert verify_certificate(certificate, context, DEVNET).status == S.INVALID_SIGNATURE
    assert verifier.check_certificate(data).status == S.INVALID_SIGNATURE
