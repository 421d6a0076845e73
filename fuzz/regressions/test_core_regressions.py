"""Shrunk failures, kept as plain tests so they never come back.

1. A peer that answered a cell both as a sample and as "not held" crashed the member (KeyError in the
   retry path), found while reviewing the fuzzer's SamplesReceived handling.
2. A member gave up on cells whose answers arrived after their timeout; late valid answers now count.
"""

from __future__ import annotations

from dataclasses import dataclass

from fuzz.world import get_blobs, get_keys, get_kzg
from validator.core import (
    Attested,
    BlobDispersing,
    CustodyReceived,
    CustodyStored,
    DutyFailed,
    EpochContextKnown,
    PushCustody,
    RequestSamples,
    SampleRejected,
    SamplesReceived,
    StoreCustody,
    Tick,
    ValidatorCore,
)
from validator.keys import compute_proof_of_possession
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.types import Epoch, EpochContext, QuorumIndex, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_ballot

CHAIN_ID = 7


@dataclass
class Member:
    core: ValidatorCore
    requests: list[RequestSamples]


def _member_sampling() -> tuple[Member, object]:
    """A 8-validator quorum, member 1 past custody and waiting for its samples."""
    keys = get_keys()[:8]
    seed = Seed(b"\x05" * 32)
    records = tuple(
        ValidatorRecord(
            ValidatorIndex(i), k.pubkey, compute_proof_of_possession(k), DEVNET.STAKE_PER_SLOT, "", ()
        )
        for i, k in enumerate(keys)
    )
    ballots = tuple(
        compute_ballot(k, ValidatorIndex(i), CHAIN_ID, Epoch(0), seed) for i, k in enumerate(keys)
    )
    context = EpochContext(CHAIN_ID, Epoch(0), seed, records, ballots)
    (quorum,) = compute_quorums(context, DEVNET)
    blob = get_blobs()[0]
    aggregator = ValidatorCore(ValidatorIndex(0), keys[0], DEVNET, get_kzg(), b"a")
    member_index = next(m for m in quorum.members if m != 0)
    member = ValidatorCore(member_index, keys[member_index], DEVNET, get_kzg(), b"m")
    for core in (aggregator, member):
        core.step(EpochContextKnown(context))
    pushes = aggregator.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(p for p in pushes if isinstance(p, PushCustody) and p.to == member_index)
    samples = tuple(s for c in push.columns for s in blob.get_column(c))
    (store,) = member.step(CustodyReceived(ValidatorIndex(0), blob.header, Epoch(0), QuorumIndex(0), samples))
    assert isinstance(store, StoreCustody)
    requests = [o for o in member.step(CustodyStored(blob.data_root)) if isinstance(o, RequestSamples)]
    assert requests
    return Member(member, requests), blob


def test_served_and_not_held_at_once_does_not_crash() -> None:
    member, blob = _member_sampling()
    request = member.requests[0]
    served = [blob.get_sample(c) for c in request.coordinates]  # type: ignore[attr-defined]
    outputs = member.core.step(
        SamplesReceived(
            request.to, request.data_root, tuple(served), request.coordinates + request.coordinates
        )
    )
    # The served cells verify and count; the contradicting "not held" is recorded, never acted on:
    # nothing is asked again and the duty goes on.
    assert not any(isinstance(o, RequestSamples | DutyFailed) for o in outputs)
    assert {o.coordinate for o in outputs if isinstance(o, SampleRejected)} <= set(request.coordinates)
    pending = {c for d in member.core.duties.values() for c in d.pending}
    assert pending.isdisjoint(set(request.coordinates))


def test_late_valid_answers_still_count() -> None:
    member, blob = _member_sampling()
    retried = member.core.step(Tick(now=100.0))  # every request timed out and moved on
    duty = next(iter(member.core.duties.values()))
    moved_on = {c for r in member.requests for c in r.coordinates if c in duty.pending}
    assert moved_on  # cells with a second custodian are still pending, now asked elsewhere
    for request in member.requests:  # the first custodians answer, late
        answer = tuple(blob.get_sample(c) for c in request.coordinates)  # type: ignore[attr-defined]
        member.core.step(SamplesReceived(request.to, request.data_root, answer))
    assert moved_on.isdisjoint(duty.pending)
    outputs: list[object] = []
    for request in (o for o in retried if isinstance(o, RequestSamples)):
        wanted = tuple(c for c in request.coordinates if c in duty.pending)
        answer = tuple(blob.get_sample(c) for c in wanted)  # type: ignore[attr-defined]
        outputs += member.core.step(SamplesReceived(request.to, request.data_root, answer))
    assert any(isinstance(o, Attested) for o in outputs)
    assert blob.data_root in member.core.attested  # type: ignore[attr-defined]
