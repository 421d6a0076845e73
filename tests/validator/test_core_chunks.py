"""Custody in row-complete chunks (specs/validator.md, Custody; issue 30 step 3): the member's core
stores each chunk's new rows, refuses any chunk that is not whole rows of its custody, is idempotent
on rows it holds, counts chunks from any aggregator of the blob's quorum, fails an incomplete duty
at its deadline and resumes it on a re-push; the executor cuts a member's custody into pushes of
whole rows. Real blspy keys and ckzg proofs; the core is stepped directly."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from da import CkzgBackend, EncodedBlob
from da.types import Bytes32, Cell, ColumnIndex, KZGCommitment, KZGProof, RowIndex, Sample
from fuzz.sim import corrupt_sample
from network.constants import MAX_CUSTODY_SAMPLES_PER_PUSH
from tests.validator.network_fixture import make_context, make_keys
from validator.core import (
    MAX_CUSTODY_CELLS_PER_PUSH,
    Attested,
    BlobDispersing,
    CoreConfig,
    CustodyReceived,
    CustodyRejected,
    CustodyRejection,
    CustodyStored,
    DutyFailed,
    DutyFailure,
    DutyResumed,
    DutyStage,
    EpochContextKnown,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    StoreCustody,
    Tick,
    ValidatorCore,
)
from validator.core.executor import compute_custody_chunks, execute, run_until_quiet
from validator.errors import InvalidCoreConfig
from validator.keys import SecretKey
from validator.presets import DEVNET
from validator.types import Epoch, EpochContext, QuorumIndex, ValidatorIndex

CONFIG = CoreConfig()
AGGREGATOR = ValidatorIndex(0)
OTHER_AGGREGATOR = ValidatorIndex(5)
MEMBER = ValidatorIndex(3)


@pytest.fixture(scope="module")
def keys() -> list[SecretKey]:
    return make_keys(8)


@pytest.fixture(scope="module")
def context(keys: list[SecretKey]) -> EpochContext:
    return make_context(keys, [DEVNET.STAKE_PER_SLOT] * len(keys))


@dataclass
class Chunks:
    """A member core and its custody of a two-row blob, cut by row."""

    core: ValidatorCore
    blob: EncodedBlob
    columns: tuple[ColumnIndex, ...]

    def row(self, row: int) -> tuple[Sample, ...]:
        """The member's custody cells of `row`."""
        return tuple(s for column in self.columns for s in self.blob.get_column(column) if s.row == row)

    def push(
        self, samples: tuple[Sample, ...], sender: ValidatorIndex = AGGREGATOR, epoch: int = 0
    ) -> list[Output]:
        event = CustodyReceived(sender, self.blob.header, Epoch(epoch), QuorumIndex(0), samples)
        return self.core.step(event)

    def stored(self, *rows: int) -> list[Output]:
        return self.core.step(CustodyStored(self.blob.data_root, tuple(RowIndex(r) for r in rows)))

    @property
    def duty(self):  # the core's Duty
        return self.core.duties[self.blob.data_root]


def _member(keys: list[SecretKey], context: EpochContext, kzg: CkzgBackend, blob: EncodedBlob) -> Chunks:
    aggregator = ValidatorCore(AGGREGATOR, keys[0], DEVNET, kzg, b"agg", CONFIG)
    aggregator.step(EpochContextKnown(context))
    pushes = aggregator.step(BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)))
    push = next(p for p in pushes if isinstance(p, PushCustody) and p.to == MEMBER)
    core = ValidatorCore(MEMBER, keys[MEMBER], DEVNET, kzg, b"member", CONFIG)
    core.step(EpochContextKnown(context))
    return Chunks(core, blob, push.columns)


@pytest.fixture
def member(
    keys: list[SecretKey], context: EpochContext, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> Chunks:
    return _member(keys, context, kzg, two_row_blob[1])


def _only(outputs: list[Output], kind: type) -> list[Output]:
    return [o for o in outputs if isinstance(o, kind)]


def test_chunked_custody_is_stored_per_chunk_and_sampled_only_after_the_last(member: Chunks) -> None:
    (store,) = member.push(member.row(0))
    assert isinstance(store, StoreCustody) and store.rows == (0,)
    assert store.samples == member.row(0)
    assert member.stored(0) == []  # one row of two: still storing, nothing asked
    assert member.duty.stage is DutyStage.STORING and member.duty.stored_rows == {0}
    (store,) = member.push(member.row(1))
    assert isinstance(store, StoreCustody) and store.rows == (1,)
    outputs = member.stored(1)
    assert _only(outputs, RequestSamples) and member.duty.stage is DutyStage.SAMPLING


def _partial_row(member: Chunks) -> tuple[Sample, ...]:
    return member.row(0)[1:]


def _foreign_column(member: Chunks) -> tuple[Sample, ...]:
    foreign = next(c for c in range(128) if c not in member.columns)
    return (*member.row(0)[1:], member.blob.get_column(ColumnIndex(foreign))[0])


def _duplicate(member: Chunks) -> tuple[Sample, ...]:
    return (*member.row(0), member.row(0)[0])


def _beyond_the_rows(member: Chunks) -> tuple[Sample, ...]:
    return tuple(dataclasses.replace(s, row=RowIndex(2)) for s in member.row(1))


def _empty(member: Chunks) -> tuple[Sample, ...]:
    return ()


@pytest.mark.parametrize("wrong", [_partial_row, _foreign_column, _duplicate, _beyond_the_rows, _empty])
def test_a_chunk_that_is_not_whole_rows_of_custody_is_refused_and_stores_nothing(
    member: Chunks, wrong: object
) -> None:
    chunk = wrong(member)  # type: ignore[operator]
    (rejected,) = member.push(chunk)
    assert isinstance(rejected, CustodyRejected) and rejected.reason is CustodyRejection.WRONG_CELLS
    assert rejected.reason.blames_sender
    assert member.blob.data_root not in member.core.duties
    # The same with a duty storing: refused, and its rows are unchanged.
    (store,) = member.push(member.row(1))
    assert isinstance(store, StoreCustody)
    (rejected,) = member.push(chunk)
    assert isinstance(rejected, CustodyRejected) and rejected.reason is CustodyRejection.WRONG_CELLS
    assert member.duty.storing_rows == {1} and member.duty.stored_rows == set()


def test_a_fresh_row_that_does_not_verify_is_refused(member: Chunks) -> None:
    bad = (corrupt_sample(member.row(0)[0]), *member.row(0)[1:])
    (rejected,) = member.push(bad)
    assert isinstance(rejected, CustodyRejected) and rejected.reason is CustodyRejection.INVALID_PROOF
    assert member.blob.data_root not in member.core.duties


def test_a_repeated_chunk_is_idempotent(member: Chunks) -> None:
    (store,) = member.push(member.row(0))
    assert member.push(member.row(0)) == []  # being stored: not stored twice
    assert member.stored(*store.rows) == []
    assert member.push(member.row(0)) == []  # stored: nothing, no error
    # A chunk of a stored row whose cells are wrong is not looked at: nothing of it is stored.
    assert member.push((corrupt_sample(member.row(0)[0]), *member.row(0)[1:])) == []
    # A chunk of both rows stores only the row not held yet.
    (store,) = member.push(member.row(0) + member.row(1))
    assert isinstance(store, StoreCustody) and store.rows == (1,) and store.samples == member.row(1)


def test_chunks_from_a_second_aggregator_of_the_quorum_count(member: Chunks) -> None:
    (first,) = member.push(member.row(0))
    member.stored(*first.rows)
    # Another epoch's chunk is not this duty's custody: nothing stored, nothing refused.
    assert member.push(member.row(1), sender=OTHER_AGGREGATOR, epoch=1) == []
    assert member.duty.stored_rows == {0} and member.duty.storing_rows == set()
    (second,) = member.push(member.row(1), sender=OTHER_AGGREGATOR)
    assert isinstance(second, StoreCustody) and second.rows == (1,)
    assert _only(member.stored(1), RequestSamples)
    assert member.duty.aggregators == [AGGREGATOR, OTHER_AGGREGATOR]


def test_incomplete_custody_fails_at_the_deadline_and_a_repush_resumes_it(member: Chunks) -> None:
    (store,) = member.push(member.row(0))
    member.stored(*store.rows)
    (failed,) = member.core.step(Tick(CONFIG.custody_timeout_s))
    assert isinstance(failed, DutyFailed) and failed.reason is DutyFailure.CUSTODY_NOT_STORED
    assert failed.resume_at is not None
    # The re-push: its first chunk (a row already stored) resumes the duty and stores nothing ...
    (resumed,) = member.push(member.row(0))
    assert isinstance(resumed, DutyResumed) and resumed.cause == "custody pushed again"
    assert member.duty.stage is DutyStage.STORING and member.duty.stored_rows == {0}
    # ... its second stores the missing row, and then the member samples.
    (store,) = member.push(member.row(1))
    assert isinstance(store, StoreCustody) and store.rows == (1,)
    assert _only(member.stored(1), RequestSamples)


def test_a_store_reported_after_the_deadline_completes_the_duty(member: Chunks) -> None:
    member.push(member.row(0))
    member.push(member.row(1))
    (failed,) = member.core.step(Tick(CONFIG.custody_timeout_s))
    assert isinstance(failed, DutyFailed) and failed.reason is DutyFailure.CUSTODY_NOT_STORED
    assert member.duty.storing_rows == set()  # not reported in time: a re-push stores them again
    assert member.stored(0) == []
    outputs = member.stored(1)
    assert [o.cause for o in _only(outputs, DutyResumed)] == ["custody stored late"]  # type: ignore[attr-defined]
    assert _only(outputs, RequestSamples)


def test_a_pusher_of_row_zero_only_never_brings_the_member_to_sample(member: Chunks) -> None:
    """Row 0 again and again, through every failure and resume and past the duty's end: the member
    holds at most one duty whose rows never exceed the blob's, and never samples or attests."""
    seen: list[Output] = []
    now = 0.0
    for _ in range(3 * (CONFIG.duty_resumes + 2)):
        outputs = member.push(member.row(0), sender=ValidatorIndex(6))
        seen += outputs
        for store in _only(outputs, StoreCustody):
            seen += member.stored(*store.rows)  # type: ignore[attr-defined]
        now += CONFIG.custody_timeout_s + CONFIG.duty_resume_s * 2**CONFIG.duty_resumes
        seen += member.core.step(Tick(now))
        assert len(member.core.duties) <= 1
        duty = member.core.duties.get(member.blob.data_root)
        assert duty is None or duty.stored_rows <= {0}
    assert not _only(seen, RequestSamples) and not _only(seen, Attested)
    final = [o for o in _only(seen, DutyFailed) if o.resume_at is None]  # type: ignore[attr-defined]
    assert final  # the duty was dropped after its last resume, and a later chunk started a new one


@dataclass
class ChunkTransport:
    """An in-process transport that serves a blob's custody and keeps what it was asked to do."""

    encoded: EncodedBlob
    stored: list[StoreCustody] = field(default_factory=list)
    sent: list[tuple[ValidatorIndex, Input]] = field(default_factory=list)

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
        return tuple(s for column in push.columns for s in self.encoded.get_column(column))

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        self.stored.append(output)

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        self.sent.append((to, message))

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        """Not asked in these tests: the disperser samples nobody."""

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        """Nothing to announce to."""

    def record(self, node: ValidatorIndex, output: Output) -> None:
        """Nothing to count."""


def test_a_dispersal_goes_out_in_chunks_of_whole_rows_and_the_disperser_attests_after_the_last(
    keys: list[SecretKey], context: EpochContext, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    config = CoreConfig(max_custody_cells_per_push=DEVNET.CUSTODY_COLUMNS_PER_SLOT)  # one row a push
    core = ValidatorCore(AGGREGATOR, keys[0], DEVNET, kzg, b"agg", config)
    core.step(EpochContextKnown(context))
    transport = ChunkTransport(blob)
    outputs = run_until_quiet(core, BlobDispersing(blob.header, Epoch(0), QuorumIndex(0)), transport)
    assert [store.rows for store in transport.stored] == [(0,), (1,)]  # its own custody, two chunks
    assert any(isinstance(o, Attested) for o in outputs)
    pushes = [message for _, message in transport.sent if isinstance(message, CustodyReceived)]
    members = {to for to, _ in transport.sent} - {AGGREGATOR}
    assert len(pushes) == 2 * len(members)
    for push in pushes:
        assert {s.row for s in push.samples} in ({0}, {1})
        assert len(push.samples) <= config.max_custody_cells_per_push


def _fake_samples(rows: int, columns: int) -> list[Sample]:
    """Cells of a `rows`-row blob in `columns` columns (coordinates only matter to the split)."""
    return [
        Sample(RowIndex(r), ColumnIndex(c), Cell(b""), KZGProof(b""), KZGCommitment(b""), (Bytes32(b""),))
        for c in range(columns)
        for r in range(rows)
    ]


def test_the_executor_splits_265_rows_of_5_columns_into_pushes_of_whole_rows_within_the_wire_cap() -> None:
    chunks = compute_custody_chunks(_fake_samples(265, 5), 5)
    assert [len(chunk) for chunk in chunks] == [204 * 5, 61 * 5]
    covered = [sorted({s.row for s in chunk}) for chunk in chunks]
    assert covered == [list(range(204)), list(range(204, 265))]
    for chunk in chunks:
        per_row: dict[int, set[int]] = {}
        for sample in chunk:
            per_row.setdefault(sample.row, set()).add(sample.column)
        assert all(columns == set(range(5)) for columns in per_row.values())  # whole rows
        assert len(chunk) <= MAX_CUSTODY_SAMPLES_PER_PUSH
    # One row always goes, however small the limit.
    assert [len(c) for c in compute_custody_chunks(_fake_samples(3, 128), 128, max_cells=10)] == [128] * 3


def test_execute_delivers_each_chunk_as_its_own_push() -> None:
    class Wide(ChunkTransport):
        def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
            return tuple(_fake_samples(265, 5))

    transport = Wide(encoded=None)  # type: ignore[arg-type]
    header = object()
    columns = tuple(ColumnIndex(c) for c in range(5))
    push = PushCustody(MEMBER, header, Epoch(0), QuorumIndex(0), columns)  # type: ignore[arg-type]
    assert execute(AGGREGATOR, push, transport) == []
    sizes = [len(message.samples) for _, message in transport.sent]  # type: ignore[attr-defined]
    assert sizes == [1020, 305] and all(to == MEMBER for to, _ in transport.sent)


def test_the_core_default_is_the_wire_cap_and_a_bad_limit_names_its_field() -> None:
    assert MAX_CUSTODY_CELLS_PER_PUSH == MAX_CUSTODY_SAMPLES_PER_PUSH
    assert CoreConfig().max_custody_cells_per_push == MAX_CUSTODY_SAMPLES_PER_PUSH
    with pytest.raises(InvalidCoreConfig, match="max_custody_cells_per_push"):
        CoreConfig(max_custody_cells_per_push=0)
