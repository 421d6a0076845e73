"""The core's sampling rules under refusals, timeouts and failures (specs/validator.md, Member flow):
"not held" and timeouts rest a cell and ask again, invalid answers end a custodian, failed duties
rest and resume, the aggregator pushes again to members that did not attest, and each member orders
custodians its own way. Real blspy keys and ckzg proofs; the core is stepped directly."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from da import CkzgBackend, EncodedBlob
from da.grid import ExtendedBlob, compute_extended_blob
from fuzz.sim import corrupt_sample
from tests.validator.network_fixture import make_context, make_keys
from validator.core import (
    Attested,
    BlobDispersing,
    CoreConfig,
    CustodyReceived,
    CustodyStored,
    DutyFailed,
    DutyFailure,
    DutyResumed,
    DutyStage,
    EpochContextKnown,
    PushCustody,
    RequestSamples,
    SamplesReceived,
    StoreCustody,
    Tick,
    ValidatorCore,
)
from validator.core.sampling import DutySampler
from validator.errors import InvalidCoreConfig
from validator.keys import SecretKey
from validator.presets import DEVNET
from validator.types import Epoch, EpochContext, QuorumIndex, ValidatorIndex

CONFIG = CoreConfig()
AGGREGATOR = ValidatorIndex(0)


@pytest.fixture(scope="module")
def keys() -> list[SecretKey]:
    return make_keys(8)


@dataclass
class Member:
    """One member past custody, with the requests it sent first."""

    core: ValidatorCore
    blob: EncodedBlob
    requests: list[RequestSamples]
    grid: ExtendedBlob
    """The blob's 2D grid: members sample over all its rows."""

    def answer(self, request: RequestSamples, *, serve: bool, at: float | None = None) -> list[object]:
        """`request.to` answers: with the cells (serve) or "not held" for all of them."""
        if at is not None:
            self.core.step(Tick(at))
        if serve:
            samples = tuple(self.grid.get_sample(c) for c in request.coordinates)
            return list(self.core.step(SamplesReceived(request.to, request.data_root, samples)))
        return list(self.core.step(SamplesReceived(request.to, request.data_root, (), request.coordinates)))

    @property
    def duty(self):  # the core's Duty
        return self.core.duties[self.blob.data_root]


def _context(keys: list[SecretKey]) -> EpochContext:
    return make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys))


def _aggregator(keys: list[SecretKey], context: EpochContext, kzg: CkzgBackend) -> ValidatorCore:
    core = ValidatorCore(AGGREGATOR, keys[0], DEVNET, kzg, b"agg", CONFIG)
    core.step(EpochContextKnown(context))
    return core


def _member(keys: list[SecretKey], kzg: CkzgBackend, blob: EncodedBlob, index: int = 3) -> Member:
    context = _context(keys)
    pushes = _aggregator(keys, context, kzg).step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(p for p in pushes if isinstance(p, PushCustody) and p.to == index)
    core = ValidatorCore(ValidatorIndex(index), keys[index], DEVNET, kzg, b"member-%d" % index, CONFIG)
    core.step(EpochContextKnown(context))
    samples = tuple(s for column in push.columns for s in blob.get_column(column))
    (store,) = core.step(CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), samples))
    assert isinstance(store, StoreCustody)
    requests = [
        o for o in core.step(CustodyStored(blob.data_root, store.rows)) if isinstance(o, RequestSamples)
    ]
    assert requests
    return Member(core, blob, requests, compute_extended_blob(blob))


def _requests(outputs: list[object]) -> list[RequestSamples]:
    return [o for o in outputs if isinstance(o, RequestSamples)]


def _refuse_until_quiet(member: Member, requests: list[RequestSamples]) -> int:
    """Answer "not held" to every request and to the retries it causes until nothing is asked."""
    refused = 0
    queue = list(requests)
    for _ in range(500):
        if not queue:
            return refused
        request = queue.pop(0)
        refused += len(request.coordinates)
        queue += _requests(member.answer(request, serve=False))
    raise AssertionError("the member kept asking without resting")


def test_refusals_rest_the_cells_then_ask_again(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    refused = _refuse_until_quiet(member, member.requests)
    duty = member.duty
    assert duty.stage is DutyStage.SAMPLING  # refusals are not final: nothing failed
    assert refused > DEVNET.VALIDATOR_SAMPLES
    assert all(p.waiting and p.rounds == 1 for p in duty.pending.values())  # every cell rests
    assert len(duty.pending) == DEVNET.VALIDATOR_SAMPLES + DEVNET.SAMPLE_REPLACEMENTS  # spares in play
    assert not _requests(list(member.core.step(Tick(CONFIG.sample_backoff_s / 2))))  # still resting
    again = _requests(list(member.core.step(Tick(CONFIG.sample_backoff_s))))
    assert {c for r in again for c in r.coordinates} == set(duty.pending)
    outputs: list[object] = []
    for request in again:
        outputs += member.answer(request, serve=True)
    assert any(isinstance(o, Attested) for o in outputs)


def test_rests_double_per_round_up_to_the_cap(keys: list[SecretKey], kzg: CkzgBackend, two_row_blob) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    now, rests = 0.0, []
    requests = member.requests
    for _ in range(6):
        _refuse_until_quiet(member, requests)
        deadline = min(p.deadline for p in member.duty.pending.values())
        rests.append(round(deadline - now, 3))
        now = deadline
        requests = _requests(list(member.core.step(Tick(now))))
    base, cap = CONFIG.sample_backoff_s, CONFIG.max_sample_backoff_s
    assert rests == [min(base * 2**k, cap) for k in range(6)]


def test_an_invalid_answer_ends_that_custodian_for_the_duty(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    liar = member.requests[0]
    bad = tuple(corrupt_sample(member.grid.get_sample(c)) for c in liar.coordinates)
    outputs = member.core.step(SamplesReceived(liar.to, liar.data_root, bad))
    assert liar.to in member.duty.faulty
    asked_later = [r for r in _requests(list(outputs)) if r.to == liar.to]
    assert not asked_later
    queue = _requests(list(outputs)) + member.requests[1:]
    for _ in range(200):  # everyone else refuses, round after round: the liar is never asked again
        if not queue:
            break
        request = queue.pop(0)
        assert request.to != liar.to
        queue += _requests(member.answer(request, serve=False))
    for tick in (1.0, 2.0, 4.0):
        assert all(r.to != liar.to for r in _requests(list(member.core.step(Tick(tick)))))
    # Through a failure and a resume too: the liar stays faulty for the duty.
    failed = [o for o in member.core.step(Tick(CONFIG.sample_window_s)) if isinstance(o, DutyFailed)]
    assert failed and failed[0].resume_at is not None
    resumed = _requests(list(member.core.step(Tick(failed[0].resume_at))))
    assert resumed and all(r.to != liar.to for r in resumed)


def test_a_failed_duty_rests_and_resumes_with_its_served_cells(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    first = member.requests[0]
    member.answer(first, serve=True)  # some cells served
    served = set(member.duty.served)
    assert served
    _refuse_until_quiet(member, member.requests[1:])
    outputs = list(member.core.step(Tick(CONFIG.sample_window_s)))
    (failed,) = [o for o in outputs if isinstance(o, DutyFailed)]
    assert failed.reason is DutyFailure.SAMPLES_EXHAUSTED
    assert failed.resume_at == CONFIG.sample_window_s + CONFIG.duty_resume_s
    assert member.duty.stage is DutyStage.FAILED
    assert not _requests(list(member.core.step(Tick(failed.resume_at - 1))))  # resting
    resumed = list(member.core.step(Tick(failed.resume_at)))
    assert [o.cause for o in resumed if isinstance(o, DutyResumed)] == ["rested"]
    assert member.duty.served == served  # kept
    outputs = []
    for request in _requests(resumed):
        outputs += member.answer(request, serve=True)
    assert any(isinstance(o, Attested) for o in outputs)


def test_a_new_push_resumes_a_failed_duty_at_once(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    _refuse_until_quiet(member, member.requests)
    member.core.step(Tick(CONFIG.sample_window_s))
    assert member.duty.stage is DutyStage.FAILED
    blob = member.blob
    outputs = list(
        member.core.step(CustodyReceived(ValidatorIndex(5), blob.header, Epoch(0), QuorumIndex(0), ()))
    )
    assert [o.cause for o in outputs if isinstance(o, DutyResumed)] == ["custody pushed again"]
    assert _requests(outputs)
    assert ValidatorIndex(5) in member.duty.aggregators


def test_a_duty_is_dropped_after_its_resumes_and_a_later_push_starts_afresh(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    member = _member(keys, kzg, two_row_blob[1])
    failures: list[DutyFailed] = []
    requests = member.requests
    now = 0.0
    for _ in range(CONFIG.duty_resumes + 1):
        _refuse_until_quiet(member, requests)
        now = member.duty.deadline
        failures += [o for o in member.core.step(Tick(now)) if isinstance(o, DutyFailed)]
        if failures[-1].resume_at is None:
            break
        now = failures[-1].resume_at
        requests = _requests(list(member.core.step(Tick(now))))
    assert [f.resume_at is None for f in failures] == [False] * CONFIG.duty_resumes + [True]
    rests = [f.resume_at for f in failures[:-1]]
    assert all(later > earlier for earlier, later in itertools.pairwise(rests))
    blob = member.blob
    assert blob.data_root not in member.core.duties  # dropped for good
    # A later push (the aggregator pushes again) starts a fresh duty.
    push = next(
        p
        for p in _aggregator(keys, _context(keys), kzg).step(
            BlobDispersing(blob.header, Epoch(0), QuorumIndex(0))
        )
        if isinstance(p, PushCustody) and p.to == member.core.me
    )
    samples = tuple(s for column in push.columns for s in blob.get_column(column))
    outputs = member.core.step(CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), samples))
    assert [type(o) for o in outputs] == [StoreCustody]
    assert member.duty.stage is DutyStage.STORING and member.duty.resumes == 0


def test_the_aggregator_pushes_again_to_members_that_did_not_attest(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    blob = two_row_blob[1]
    aggregator = _aggregator(keys, _context(keys), kzg)
    first = aggregator.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    members = {p.to for p in first if isinstance(p, PushCustody)}
    assert not [o for o in aggregator.step(Tick(CONFIG.repush_after_s - 1)) if isinstance(o, PushCustody)]
    times = [CONFIG.repush_after_s * 2**k for k in range(CONFIG.custody_repushes)]
    pushed = [{o.to for o in aggregator.step(Tick(t)) if isinstance(o, PushCustody)} for t in times]
    assert pushed == [members] * CONFIG.custody_repushes
    assert not [o for o in aggregator.step(Tick(times[-1] * 4)) if isinstance(o, PushCustody)]  # bounded
    assert blob.data_root not in aggregator.dispersals


def test_members_order_custodians_their_own_way(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    blob = two_row_blob[1]
    member_a, member_b = _member(keys, kzg, blob, 3), _member(keys, kzg, blob, 5)
    sampler_a = DutySampler(ValidatorIndex(3), b"member-3", DEVNET, CONFIG)
    sampler_b = DutySampler(ValidatorIndex(5), b"member-5", DEVNET, CONFIG)
    shared, differ = 0, 0
    for column in range(128):
        a = sampler_a.custodians(blob.data_root, member_a.duty, column)
        b = sampler_b.custodians(blob.data_root, member_b.duty, column)
        assert a == sampler_a.custodians(blob.data_root, member_a.duty, column)  # deterministic
        common_a, common_b = [m for m in a if m in b], [m for m in b if m in a]
        if len(common_a) >= 2:
            shared += 1
            differ += common_a != common_b
    # Columns whose custodians both members ask: roughly half the time in another order (quorum order
    # for everyone would give 0).
    assert shared > 32
    assert shared / 4 < differ < shared


def test_cells_an_honest_custodian_is_sure_to_hold_are_drawn_first(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    """With 8 one-slot members and at most 2 adversarial slots, a cell whose rotation has 3 or more
    members has an honest custodian; such cells come before the others, so silent members cannot
    leave an honest member short of served cells."""
    blob = two_row_blob[1]
    member = _member(keys, kzg, blob, 3)
    sampler = DutySampler(ValidatorIndex(3), b"member-3", DEVNET, CONFIG)
    duty = member.duty
    drawn = sampler.draw(blob.data_root, duty)
    assured = [len(sampler.custodians(blob.data_root, duty, c.column)) >= 3 for c in drawn]
    candidates = {
        column
        for column in range(128)
        if column not in duty.custody and sampler.custodians(blob.data_root, duty, column)
    }
    assured_candidates = [c for c in candidates if len(sampler.custodians(blob.data_root, duty, c)) >= 3]
    assert len(drawn) == DEVNET.VALIDATOR_SAMPLES + DEVNET.SAMPLE_REPLACEMENTS
    assert assured == sorted(assured, reverse=True)  # every assured cell before every other one
    assert sum(assured) == min(len(drawn), 2 * len(assured_candidates))  # two rows of each column
    assert 0 < len(assured_candidates) < len(candidates)  # the order matters here: both kinds exist


def test_the_disperser_attests_to_its_own_blob_without_sampling(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    """The aggregator encoded the blob and holds every cell: asking its peers for samples (who may
    not hold their pushes yet) would only delay its own attestation."""
    blob = two_row_blob[1]
    aggregator = _aggregator(keys, _context(keys), kzg)
    pushes = aggregator.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    own = next(p for p in pushes if isinstance(p, PushCustody) and p.to == AGGREGATOR)
    samples = tuple(s for column in own.columns for s in blob.get_column(column))
    (store,) = aggregator.step(CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), samples))
    assert isinstance(store, StoreCustody)
    outputs = aggregator.step(CustodyStored(blob.data_root, store.rows))
    assert not _requests(list(outputs))
    assert any(isinstance(o, Attested) for o in outputs)
    # A member that is pushed the same custody by someone else still samples.
    member = _member(keys, kzg, blob, 3)
    assert member.requests


def test_core_config_names_the_bad_field() -> None:
    with pytest.raises(InvalidCoreConfig, match="sample_window_s"):
        CoreConfig(sample_window_s=0)
    with pytest.raises(InvalidCoreConfig, match="max_sample_backoff_s"):
        CoreConfig(sample_backoff_s=2.0, max_sample_backoff_s=1.0)
    with pytest.raises(InvalidCoreConfig, match="duty_resumes"):
        CoreConfig(duty_resumes=-1)


def test_a_duty_that_failed_storing_takes_a_new_push_of_its_own_quorum_only(
    keys: list[SecretKey], kzg: CkzgBackend, two_row_blob
) -> None:
    blob = two_row_blob[1]
    context = _context(keys)
    pushes = _aggregator(keys, context, kzg).step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(p for p in pushes if isinstance(p, PushCustody) and p.to == 3)
    core = ValidatorCore(ValidatorIndex(3), keys[3], DEVNET, kzg, b"member-3", CONFIG)
    core.step(EpochContextKnown(context))
    samples = tuple(s for column in push.columns for s in blob.get_column(column))
    core.step(CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), samples))
    # The store never reports back: the duty fails storing, and rests.
    (failed,) = core.step(Tick(CONFIG.custody_timeout_s))
    assert isinstance(failed, DutyFailed) and failed.reason is DutyFailure.CUSTODY_NOT_STORED
    # A push naming another epoch or quorum is not this duty's custody: nothing is stored.
    assert core.step(CustodyReceived(ValidatorIndex(6), blob.header, Epoch(1), QuorumIndex(0), samples)) == []
    assert core.duties[blob.data_root].stage is DutyStage.FAILED
    # The same quorum's push again: stored, and the duty resumes.
    again = core.step(CustodyReceived(AGGREGATOR, blob.header, Epoch(0), QuorumIndex(0), samples))
    assert [type(o) for o in again] == [DutyResumed, StoreCustody]
    assert core.duties[blob.data_root].stage is DutyStage.STORING
