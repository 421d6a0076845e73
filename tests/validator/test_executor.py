"""The one executor of core outputs (validator.core.executor) and the decisions the core now owns:
what each output means, the blob's quorum and threshold, restored attestations, typed verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from da import CkzgBackend, EncodedBlob
from da.types import DataRoot, Sample
from tests.validator.network_fixture import make_context, make_keys
from validator.aggregation import RejectReason
from validator.core import (
    AttestationReceived,
    Attested,
    BlobDispersing,
    CustodyReceived,
    CustodyRejection,
    CustodyStored,
    EpochContextKnown,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SendAttestation,
    StoreCustody,
    ValidatorCore,
)
from validator.core.executor import execute, run_until_quiet
from validator.errors import CoreDidNotSettle
from validator.presets import DEVNET
from validator.quorums import compute_blob_quorum
from validator.types import Attestation, Epoch, QuorumIndex, ValidatorIndex

ME = ValidatorIndex(0)
PEER = ValidatorIndex(3)


@dataclass
class RecordingTransport:
    """An in-process transport that keeps what it was asked to do."""

    encoded: EncodedBlob
    drop_pushes: bool = False
    stored: list[StoreCustody] = field(default_factory=list)
    sent: list[tuple[ValidatorIndex, ValidatorIndex, Input]] = field(default_factory=list)
    requests: list[RequestSamples] = field(default_factory=list)
    published: list[PublishCertificate] = field(default_factory=list)
    recorded: list[Output] = field(default_factory=list)

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
        if self.drop_pushes:
            return None
        return tuple(s for column in push.columns for s in self.encoded.get_column(column))

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        self.stored.append(output)

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        self.sent.append((sender, to, message))

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        self.requests.append(request)

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        self.published.append(output)

    def record(self, node: ValidatorIndex, output: Output) -> None:
        self.recorded.append(output)


@pytest.fixture(scope="module")
def keys() -> list:
    return make_keys(8)


def _core(keys: list, kzg: CkzgBackend, **extra: object) -> ValidatorCore:
    core = ValidatorCore(ME, keys[0], DEVNET, kzg, nonce=b"nonce", **extra)  # type: ignore[arg-type]
    core.step(EpochContextKnown(make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys))))
    return core


def test_pushes_to_oneself_stay_local_and_others_go_out(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    transport = RecordingTransport(blob)
    to_me = PushCustody(ME, blob.header, Epoch(0), QuorumIndex(0), (1, 2))  # type: ignore[arg-type]
    to_peer = PushCustody(PEER, blob.header, Epoch(0), QuorumIndex(0), (3,))  # type: ignore[arg-type]
    (local,) = execute(ME, to_me, transport)
    assert isinstance(local, CustodyReceived) and local.sender == ME and len(local.samples) == 2 * 2
    assert execute(ME, to_peer, transport) == []
    ((sender, to, message),) = transport.sent
    assert (sender, to) == (ME, PEER) and isinstance(message, CustodyReceived)
    assert [s.coordinate.column for s in message.samples] == [3, 3]
    assert transport.recorded == [to_me, to_peer]
    transport.drop_pushes = True
    assert execute(ME, to_peer, transport) == [] and len(transport.sent) == 1  # nothing to send


def test_custody_is_stored_before_the_core_hears_of_it(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    transport = RecordingTransport(blob)
    store = StoreCustody(blob.header, Epoch(0), QuorumIndex(0), ())
    assert execute(ME, store, transport) == [CustodyStored(blob.data_root, ())]
    assert transport.stored == [store]


def test_a_whole_dispersal_runs_through_one_transport(
    keys: list, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    core = _core(keys, kzg)
    transport = RecordingTransport(blob)
    outputs = run_until_quiet(core, BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)), transport)
    assert transport.recorded == outputs
    # Our own custody was pushed, verified and stored locally; the disperser holds every cell, so it
    # attests without sampling its peers.
    assert [s.header for s in transport.stored] == [blob.header]
    assert not transport.requests
    assert any(isinstance(o, Attested) and o.attestation.data_root == blob.data_root for o in outputs)
    pushed_to = {to for _, to, message in transport.sent if isinstance(message, CustodyReceived)}
    assert ME not in pushed_to and pushed_to


def test_a_core_that_never_settles_is_a_typed_error(
    keys: list, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    core = _core(keys, kzg)

    def echo(event: Input) -> list[Output]:  # a broken core: answers every input with a self-send
        return [SendAttestation(ME, event.attestation)] if isinstance(event, AttestationReceived) else []

    first = AttestationReceived(_any_attestation(keys))
    with pytest.raises(CoreDidNotSettle, match="did not settle within 5 steps"):
        run_until_quiet(core, first, RecordingTransport(blob), max_steps=5, step=echo)


def _any_attestation(keys: list, data_root: bytes = bytes(32)) -> Attestation:
    return Attestation(Epoch(0), QuorumIndex(0), DataRoot(data_root), ME, keys[0].sign(b"x"))


def test_the_core_assigns_the_blob_quorum_and_threshold(
    keys: list, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    core = _core(keys, kzg)
    context = make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys))
    assignment = core.assign_blob(blob.data_root, Epoch(0))
    assert assignment is not None
    quorums = core.get_quorums(Epoch(0))
    assert assignment.quorum == compute_blob_quorum(blob.data_root, context.seed, len(quorums))
    assert assignment.threshold == DEVNET.certificate_threshold(len(quorums[assignment.quorum].slots)) == 6
    assert core.assign_blob(blob.data_root, Epoch(7)) is None  # an epoch the core does not know


def test_a_restored_attestation_is_handed_out_again_not_signed_twice(
    keys: list, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, blob = two_row_blob
    restored = _any_attestation(keys, blob.data_root)
    core = _core(keys, kzg, attested=[restored])
    push = CustodyReceived(PEER, blob.header, Epoch(0), QuorumIndex(0), ())
    assert core.step(push) == [SendAttestation(PEER, restored)]


def test_verdict_classes_are_decided_by_the_core() -> None:
    assert {r for r in CustodyRejection if not r.blames_sender} == {
        CustodyRejection.UNKNOWN_QUORUM,
        CustodyRejection.NOT_A_MEMBER,
        CustodyRejection.INSUFFICIENT_STORAGE,  # the daemon's refusal for lack of disk
    }
    assert {r for r in RejectReason if not r.blames_sender} == {RejectReason.DUPLICATE}
