"""Shrunk failures, kept as plain tests so they never come back.

1. A peer that answered a cell both as a sample and as "not held" crashed the member (KeyError in the
   retry path), found while reviewing the fuzzer's SamplesReceived handling.
2. A member gave up on cells whose answers arrived after their timeout; late valid answers now count.
3. A member that sampled before its peers held their custody took their "not held" as final, ran
   out of custodians and replacements, and failed its duty for good; with 2 silent slots of 8 the
   certificate then stalled at 5 of 6 slots (issue 12, found by `python -m fuzz consensus`).
4. A silent member holding 2 of 8 slots alone held most of the cells an honest member drew, so that
   member could never reach its target and the certificate never formed (found by the fuzzer
   after 3 was fixed).
"""

from __future__ import annotations

from dataclasses import dataclass

from da.grid import compute_extended_blob
from fuzz.byzantine import DisperserPolicy, NodeBehaviour
from fuzz.consensus import CORE_CONFIG, DRAIN_SECONDS, SAMPLE_TIMEOUT_S, build_context
from fuzz.sim import SimNetwork
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
from validator.custody import compute_member_custody
from validator.keys import compute_proof_of_possession
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.types import Epoch, EpochContext, Quorum, QuorumIndex, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_ballot, compute_genesis_seed

CHAIN_ID = 7
DEVNET_SAMPLE_TIMEOUT = 2.0


@dataclass
class Member:
    core: ValidatorCore
    requests: list[RequestSamples]


def _eight_validators() -> tuple[EpochContext, Quorum]:
    """Epoch 0 of 8 validators with one slot each (fuzz keys), and its one quorum."""
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
    return context, quorum


def _member_sampling() -> tuple[Member, object]:
    """A 8-validator quorum, member 1 past custody and waiting for its samples."""
    keys = get_keys()[:8]
    context, quorum = _eight_validators()
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
    requests = [
        o for o in member.step(CustodyStored(blob.data_root, store.rows)) if isinstance(o, RequestSamples)
    ]
    assert requests
    return Member(member, requests), compute_extended_blob(blob)


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
    retried = member.core.step(Tick(now=DEVNET_SAMPLE_TIMEOUT + 0.1))  # every request timed out
    duty = next(iter(member.core.duties.values()))
    assert {c for r in member.requests for c in r.coordinates} <= set(duty.pending)  # none given up
    moved_on = {c for r in retried if isinstance(r, RequestSamples) for c in r.coordinates}
    assert moved_on  # cells with a second custodian are now asked there; the others rest
    outputs: list[object] = []
    for request in member.requests:  # the first custodians answer, late
        answer = tuple(blob.get_sample(c) for c in request.coordinates)  # type: ignore[attr-defined]
        outputs += member.core.step(SamplesReceived(request.to, request.data_root, answer))
    assert any(isinstance(o, Attested) for o in outputs)
    assert blob.data_root in member.core.attested  # type: ignore[attr-defined]
    assert blob.data_root not in member.core.duties


def _reordering_world() -> tuple[SimNetwork, Quorum, ValidatorIndex]:
    """8 validators with one slot each in one quorum; two of them silent (2 of 8 slots, within 1/3);
    an honest aggregator that is also a member."""
    keys = get_keys()[:8]
    context, quorum = _eight_validators()
    aggregator = ValidatorIndex(0)
    silent = [m for m in quorum.members if m != aggregator][:2]
    behaviours = {
        ValidatorIndex(i): NodeBehaviour.SILENT if i in silent else NodeBehaviour.HONEST for i in range(8)
    }
    blob = get_blobs()[0]
    world = SimNetwork(
        preset=DEVNET,
        keys=get_keys(),
        contexts={0: context},
        blobs={blob.data_root: blob},
        cores={
            ValidatorIndex(i): ValidatorCore(ValidatorIndex(i), keys[i], DEVNET, get_kzg(), b"r%d" % i)
            for i in range(8)
        },
        behaviours=behaviours,
        disperser=DisperserPolicy(),
    )
    world.start()
    return world, quorum, aggregator


def test_sampling_before_the_peers_hold_custody_still_certifies() -> None:
    """The reordering the fuzzer found (issue 12): a member samples before its peers hold their
    custody; they answer "not held", again and again. Those refusals must not use up the member's
    custodians and replacements: once the pushes arrive, every honest member attests (L1)."""
    world, quorum, aggregator = _reordering_world()
    blob = next(iter(world.blobs.values()))
    inflight = world.step_core(aggregator, BlobDispersing(blob.header, Epoch(0), quorum.index))
    pushes = [e for e in inflight if isinstance(e.payload, CustodyReceived)]
    early = next(e for e in pushes if world.is_honest(e.dest))
    held_back = [e for e in inflight if e is not early]
    # The early member stores its custody and samples; every answer it gets is "not held", for as
    # many rounds of its custodians as it asks before the rest of the network moves at all.
    queue = world.deliver(early)
    refusals = 0
    for _ in range(200):
        if not queue:
            break
        envelope = queue.pop(0)
        if isinstance(envelope.payload, SamplesReceived):
            refusals += len(envelope.payload.not_held)
        queue += world.deliver(envelope)  # its requests to custodians, and their answers
        if not queue:  # every cell rests: let its backoff pass, then it asks again (still refused)
            if world.now >= 6.0:
                break
            ticked = world.tick(1.0)
            queue += [f for f in ticked if f.sender == early.dest]
            held_back += [f for f in ticked if f.sender != early.dest]
    assert refusals > DEVNET.VALIDATOR_SAMPLES + DEVNET.SAMPLE_REPLACEMENTS  # the old rule had given up
    assert not any(node == early.dest for node, _ in world.events(DutyFailed))
    # Now the network delivers everything, one sample timeout at a time.
    for _ in range(30):
        while held_back:
            held_back += world.deliver(held_back.pop(0))
        if world.certificates():
            break
        held_back += world.tick(DEVNET_SAMPLE_TIMEOUT + 0.1)
    assert world.certificates()
    honest = {m for m in quorum.members if world.is_honest(m)}
    assert {node for node, _ in world.attested()} >= honest


def _silent_heavy_world() -> tuple[SimNetwork, Quorum, ValidatorIndex]:
    """The world `python -m fuzz consensus --seed 1729435845` shrank to: quorum 0 of epoch 1 has
    members 0, 2, 5, 6 and 1 over 8 slots; member 0 (2 slots, within the 1/3 bound) is silent;
    member 5 holds 3 slots, so its own custody leaves few columns to sample, and most of those only
    member 0 holds."""
    slots_0, change = [2, 1, 1, 2, 1, 2, 0, 0], [1, 0, 0, 0, 0, 1, 1, 0]
    slots_1 = [max(0, s + c) for s, c in zip(slots_0, change, strict=True)]
    outsider = len(slots_0)
    seed_0 = compute_genesis_seed(CHAIN_ID, b"\x01")
    context_0 = build_context(0, seed_0, slots_0, outsider)
    # seed(1) of the shrunk run, derived before seeds mixed the XOR of the outputs (it hashed them
    # sorted): pinned, so the world keeps the draw the fuzzer found.
    seed_1 = Seed(bytes.fromhex("6b30d49b741fa12b33ec6c26672672a5a9a698ead5ffa1f55b3cf96d1b0ceeba"))
    context_1 = build_context(1, seed_1, slots_1, outsider)
    quorum = compute_quorums(context_1, DEVNET, verify_ballots=False)[0]
    silent = {ValidatorIndex(0), ValidatorIndex(3), ValidatorIndex(4)}
    behaviours = {
        ValidatorIndex(i): NodeBehaviour.SILENT if i in silent else NodeBehaviour.HONEST
        for i in range(outsider)
    }
    behaviours[ValidatorIndex(outsider)] = NodeBehaviour.SIGN_ANYTHING
    blob = get_blobs()[0]
    keys = get_keys()
    world = SimNetwork(
        preset=DEVNET,
        keys=keys,
        contexts={0: context_0, 1: context_1},
        blobs={blob.data_root: blob},
        cores={
            ValidatorIndex(i): ValidatorCore(
                ValidatorIndex(i), keys[i], DEVNET, get_kzg(), b"fuzz-%d" % i, CORE_CONFIG
            )
            for i in range(outsider + 1)
        },
        behaviours=behaviours,
        disperser=DisperserPolicy(),
    )
    world.start()
    return world, quorum, ValidatorIndex(1)


def test_silent_members_holding_most_of_a_members_draw_cannot_block_it() -> None:
    """Found by the fuzzer after issue 12's sampling rules: silent member 0 (2 of 8 slots) alone held
    9 of the 16 cells honest member 5 drew, so 5 could never have 8 served; it failed its duty three
    times, and with every honest slot needed the certificate never formed. Now cells an honest
    member is sure to hold are drawn first, and a member whose custody can recover every row by
    itself needs no samples."""
    world, quorum, aggregator = _silent_heavy_world()
    blob = next(iter(world.blobs.values()))
    custody = compute_member_custody(quorum, blob.data_root, DEVNET)
    heavy, silent = ValidatorIndex(5), ValidatorIndex(0)
    candidates = set().union(*(c for m, c in custody.items() if m != heavy)) - custody[heavy]
    only_silent = candidates - set().union(*(c for m, c in custody.items() if m not in {heavy, silent}))
    # The blob's data root changed with the 512-row header (branch depth 12), and with it every
    # custody draw: silent member 0 alone now holds 10 of the 44 candidate columns (13 of 41 before).
    assert len(only_silent) == 10 and len(candidates) == 44 and len(custody[heavy]) == 72
    lost = world.step_core(aggregator, BlobDispersing(blob.header, Epoch(1), quorum.index))
    assert lost  # the first pushes are lost, and so is everything the first timeouts cause
    world.tick(SAMPLE_TIMEOUT_S + 0.1)
    inflight: list = []
    for _ in range(int(DRAIN_SECONDS / (SAMPLE_TIMEOUT_S + 0.1)) + 1):
        while inflight:
            inflight += world.deliver(inflight.pop(0))
        if world.certificates():
            break
        inflight += world.tick(SAMPLE_TIMEOUT_S + 0.1)
    assert not list(world.events(DutyFailed))
    assert world.certificates()
    honest = {m for m in quorum.members if world.is_honest(m)}
    assert {node for node, _ in world.attested()} >= honest
    # Member 5's own 72 columns recover every row: it attested without asking anyone for samples.
    assert not [o for node, o in world.outputs if node == heavy and isinstance(o, RequestSamples)]
