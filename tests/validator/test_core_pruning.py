"""The core's maps have owners that empty them (specs/validator.md, Resources and retention): an
aggregation is dropped when its certificate forms (a late attestation is ignored), a dispersal that
ends without a certificate is reported `NOT_CERTIFIED`, and a newer epoch drops everything of the
epochs that left the window. Real blspy keys and ckzg proofs; the core is stepped directly."""

from __future__ import annotations

import dataclasses

import pytest

from da import CkzgBackend, EncodedBlob
from tests.validator.network_fixture import make_context, make_keys
from validator.aggregation import RejectReason
from validator.core import (
    AttestationReceived,
    AttestationRejected,
    BlobDispersing,
    CertificateFormed,
    CoreConfig,
    CustodyReceived,
    DutyFailed,
    DutyFailure,
    EpochContextKnown,
    PushCustody,
    Tick,
    ValidatorCore,
)
from validator.errors import InvalidCoreConfig
from validator.keys import SecretKey
from validator.presets import DEVNET
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, QuorumIndex, ValidatorIndex

CONFIG = CoreConfig(retention_epochs=2, max_blobs_kept=3)


@pytest.fixture(scope="module")
def keys() -> list[SecretKey]:
    return make_keys(8)


def _core(keys: list[SecretKey], kzg: CkzgBackend, epochs: range = range(1)) -> ValidatorCore:
    core = ValidatorCore(ValidatorIndex(0), keys[0], DEVNET, kzg, b"agg", CONFIG)
    for epoch in epochs:
        core.step(EpochContextKnown(make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys), epoch)))
    return core


def _attestation(keys: list[SecretKey], member: int, root: bytes, epoch: int = 0) -> Attestation:
    context = make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys), epoch)
    message = compute_attestation_signing_root(context.chain_id, Epoch(epoch), QuorumIndex(0), root)
    return Attestation(Epoch(epoch), QuorumIndex(0), root, ValidatorIndex(member), keys[member].sign(message))


def test_a_certified_blob_keeps_no_aggregation_and_ignores_late_attestations(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    core = _core(keys, kzg)
    core.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    formed = []
    for member in range(8):
        formed += [
            o
            for o in core.step(AttestationReceived(_attestation(keys, member, blob.data_root)))
            if isinstance(o, CertificateFormed)
        ]
        if formed:
            break
    assert len(formed) == 1
    assert blob.data_root not in core.aggregations and blob.data_root not in core.dispersals
    assert core.certified == {blob.data_root: Epoch(0)}
    assert core.step(AttestationReceived(_attestation(keys, 7, blob.data_root))) == []  # late: ignored
    # A forged one is judged as before certification: its sender is charged, not let off.
    outsider = dataclasses.replace(_attestation(keys, 7, blob.data_root), validator=ValidatorIndex(99))
    wrong_epoch = dataclasses.replace(_attestation(keys, 7, blob.data_root), epoch=Epoch(1))
    for forged, reason in ((outsider, RejectReason.NOT_A_MEMBER), (wrong_epoch, RejectReason.WRONG_EPOCH)):
        (rejected,) = core.step(AttestationReceived(forged))
        assert isinstance(rejected, AttestationRejected) and rejected.reason is reason
        assert rejected.reason.blames_sender
    assert core.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0))) == []  # nothing to push again


def test_a_dispersal_that_ends_without_a_certificate_is_reported_and_dropped(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    core = _core(keys, kzg)
    core.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    core.step(AttestationReceived(_attestation(keys, 1, blob.data_root)))
    failed: list[DutyFailed] = []
    for k in range(CONFIG.custody_repushes + 1):  # each re-push, then the wait after the last one
        failed += [o for o in core.step(Tick(CONFIG.repush_after_s * 2**k)) if isinstance(o, DutyFailed)]
    assert [(f.data_root, f.reason) for f in failed] == [(blob.data_root, DutyFailure.NOT_CERTIFIED)]
    assert "1 of " in failed[0].detail
    assert blob.data_root not in core.dispersals
    assert blob.data_root in core.aggregations  # a late attestation can still certify it


def test_a_newer_epoch_drops_what_left_the_window(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    core = _core(keys, kzg)
    pushes = core.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(p for p in pushes if isinstance(p, PushCustody) and p.to == 0)
    samples = tuple(s for column in push.columns for s in blob.get_column(column))
    core.step(CustodyReceived(ValidatorIndex(0), blob.header, Epoch(0), QuorumIndex(0), samples))
    assert blob.data_root in core.duties and blob.data_root in core.dispersals

    stakes = [DEVNET.STAKE_PER_SLOT] * len(keys)
    assert core.step(EpochContextKnown(make_context(keys, stakes, 2))) == []  # epoch 0 still in the window
    assert core.get_quorums(Epoch(0))
    outputs = core.step(EpochContextKnown(make_context(keys, stakes, 3)))
    assert [(o.data_root, o.reason) for o in outputs if isinstance(o, DutyFailed)] == [
        (blob.data_root, DutyFailure.NOT_CERTIFIED)
    ]
    assert not core.duties and not core.dispersals and not core.aggregations
    assert core.get_quorums(Epoch(0)) == () and core.get_quorums(Epoch(3))
    # An older epoch learnt again (a lookup) does not expire newer ones.
    assert core.step(EpochContextKnown(make_context(keys, stakes, 0))) == []
    assert core.get_quorums(Epoch(3))


def test_finished_work_is_bounded(keys: list[SecretKey], kzg: CkzgBackend) -> None:
    attested = [_attestation(keys, 0, bytes([n]) * 32) for n in range(5)]
    core = ValidatorCore(ValidatorIndex(0), keys[0], DEVNET, kzg, b"agg", CONFIG, attested=attested)
    assert list(core.attested) == [a.data_root for a in attested[-3:]]  # the oldest went first


def test_retention_and_the_bound_are_checked() -> None:
    with pytest.raises(InvalidCoreConfig):
        CoreConfig(retention_epochs=0)
    with pytest.raises(InvalidCoreConfig):
        CoreConfig(max_blobs_kept=0)
