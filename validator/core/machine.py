"""`ValidatorCore`: the deterministic protocol state machine of one validator.

`step(input) -> outputs`. No sockets, clocks or threads: time arrives as `Tick`, randomness comes
from a secret nonce hashed with the data root, KZG checks go through the injected `CellVerifier`.
The same object runs in the daemon and, many times over, inside `fuzz/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from da.errors import DAError
from da.grid_samples import compute_grid_sample_validity
from da.header import compute_data_root
from da.kzg import CellVerifier
from da.samples import verify_samples
from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, RowIndex, Sample
from validator.aggregation import Accepted, AttestationAggregator, RejectReason
from validator.core.inputs import (
    AttestationReceived,
    BlobDispersing,
    CustodyReceived,
    CustodyStored,
    EpochContextKnown,
    Input,
    SamplesReceived,
    Tick,
)
from validator.core.outputs import (
    AttestationCounted,
    AttestationRejected,
    Attested,
    CertificateFormed,
    CustodyRejected,
    CustodyRejection,
    DutyFailed,
    DutyFailure,
    DutyResumed,
    Output,
    PublishCertificate,
    PushCustody,
    SampleRejected,
    SampleRejection,
    SendAttestation,
    StoreCustody,
)
from validator.core.sampling import DutySampler, Exhausted
from validator.core.state import BlobAssignment, CoreConfig, Dispersal, Duty, DutyStage
from validator.custody import compute_member_custody
from validator.keys import SecretKey
from validator.presets import Preset
from validator.quorums import compute_blob_quorum, compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, EpochContext, Quorum, QuorumIndex, ValidatorIndex

_Kept = TypeVar("_Kept")

UNKNOWN_ROOT = DataRoot(bytes(32))
"""Stands for the data root in events about input too malformed to have one."""


class ValidatorCore:
    """One validator's protocol state; feed it inputs with `step`, execute what it returns."""

    def __init__(
        self,
        me: ValidatorIndex,
        secret_key: SecretKey,
        preset: Preset,
        verifier: CellVerifier,
        nonce: bytes,
        config: CoreConfig | None = None,
        attested: Iterable[Attestation] = (),
    ) -> None:
        """`attested`: the attestations this validator signed before a restart (it hands them out
        again instead of signing twice)."""
        self.me = me
        self.preset = preset
        self.config = config or CoreConfig()
        self._secret_key = secret_key
        self._verifier = verifier
        self._nonce = nonce
        self.now = 0.0
        self._contexts: dict[Epoch, EpochContext] = {}
        self._quorums: dict[Epoch, tuple[Quorum, ...]] = {}
        self.duties: dict[DataRoot, Duty] = {}
        self.attested: dict[DataRoot, Attestation] = {a.data_root: a for a in attested}
        """Attestations this node signed (handed out again instead of signing twice), until their
        epoch expires; at most `max_blobs_kept`."""
        self._bound(self.attested)
        self.aggregations: dict[DataRoot, AttestationAggregator] = {}
        """Attestations being collected, until a certificate forms or the blob's epoch expires."""
        self.dispersals: dict[DataRoot, Dispersal] = {}
        self.certified: dict[DataRoot, Epoch] = {}
        """Blobs this node certified as aggregator (late attestations and pushes of them are ignored)."""
        self._newest_epoch: Epoch | None = None
        self._sampler = DutySampler(me, nonce, preset, self.config)

    def step(self, event: Input) -> list[Output]:
        """Apply one input; return the messages to send and the events that happened, in order."""
        if isinstance(event, EpochContextKnown):
            return self._on_epoch(event)
        if isinstance(event, BlobDispersing):
            return self._on_dispersing(event)
        if isinstance(event, CustodyReceived):
            return self._on_custody(event)
        if isinstance(event, CustodyStored):
            return self._on_custody_stored(event)
        if isinstance(event, SamplesReceived):
            return self._on_samples(event)
        if isinstance(event, AttestationReceived):
            return self._on_attestation(event.attestation)
        return self._on_tick(event)

    def get_quorums(self, epoch: Epoch) -> tuple[Quorum, ...]:
        """The quorums of `epoch` (empty until that epoch's context is known)."""
        return self._quorums.get(epoch, ())

    def get_quorum(self, epoch: Epoch, index: QuorumIndex) -> Quorum | None:
        """Quorum `index` of `epoch`, if that epoch's context is known and the quorum exists."""
        quorums = self._quorums.get(epoch, ())
        return quorums[index] if 0 <= index < len(quorums) else None

    def assign_blob(self, data_root: DataRoot, epoch: Epoch) -> BlobAssignment | None:
        """The quorum and certificate threshold of a blob posted in `epoch` (specs/validator.md:
        `H(data_root || seed) mod quorum_count`); None while the epoch is unknown or has no quorum."""
        quorums = self._quorums.get(epoch, ())
        context = self._contexts.get(epoch)
        if not quorums or context is None:
            return None
        quorum = compute_blob_quorum(data_root, context.seed, len(quorums))
        threshold = self.preset.certificate_threshold(len(quorums[quorum].slots))
        return BlobAssignment(epoch, quorum, threshold)

    # --- inputs ---------------------------------------------------------------------------------

    def _on_epoch(self, event: EpochContextKnown) -> list[Output]:
        context = event.context
        self._contexts[context.epoch] = context
        self._quorums[context.epoch] = compute_quorums(context, self.preset, verify_ballots=False)
        if self._newest_epoch is not None and context.epoch <= self._newest_epoch:
            return []
        self._newest_epoch = context.epoch
        return self._expire(Epoch(context.epoch - self.config.retention_epochs))

    def _expire(self, first_kept: Epoch) -> list[Output]:
        """A newer epoch began: drop everything of epochs before `first_kept` (the retention window
        ended for them); a dispersal dropped uncertified is reported as `NOT_CERTIFIED`."""
        outputs: list[Output] = []
        for epoch in [e for e in self._contexts if e < first_kept]:
            del self._contexts[epoch]
            self._quorums.pop(epoch, None)
        for data_root in sorted(r for r, d in self.dispersals.items() if d.epoch < first_kept):
            del self.dispersals[data_root]
            outputs.append(DutyFailed(data_root, DutyFailure.NOT_CERTIFIED, "its epoch expired"))
        for data_root in [r for r, d in self.duties.items() if d.epoch < first_kept]:
            del self.duties[data_root]
        for data_root in [r for r, a in self.aggregations.items() if a.quorum.epoch < first_kept]:
            del self.aggregations[data_root]
        for data_root in [r for r, a in self.attested.items() if a.epoch < first_kept]:
            del self.attested[data_root]
        for data_root in [r for r, e in self.certified.items() if e < first_kept]:
            del self.certified[data_root]
        return outputs

    def _on_dispersing(self, event: BlobDispersing) -> list[Output]:
        data_root = compute_data_root(event.header)
        quorum = self.get_quorum(event.epoch, event.quorum)
        if quorum is None:
            detail = f"quorum {event.quorum} of epoch {event.epoch} is unknown"
            return [DutyFailed(data_root, DutyFailure.UNKNOWN_QUORUM, detail)]
        if data_root in self.certified:
            return []  # certified here already: nothing left to push
        if data_root not in self.aggregations:
            context = self._contexts[event.epoch]
            self.aggregations[data_root] = AttestationAggregator(context, quorum, data_root, self.preset)
        dispersal = Dispersal(event.header, event.epoch, quorum, self.now)
        self.dispersals[data_root] = dispersal
        return self._pushes(data_root, dispersal, quorum.members)

    def _pushes(
        self, data_root: DataRoot, dispersal: Dispersal, members: Iterable[ValidatorIndex]
    ) -> list[Output]:
        custody = compute_member_custody(dispersal.quorum, data_root, self.preset)
        return [
            PushCustody(
                member,
                dispersal.header,
                dispersal.epoch,
                dispersal.quorum.index,
                tuple(sorted(custody[member])),
            )
            for member in members
        ]

    def _on_custody(self, event: CustodyReceived) -> list[Output]:
        """A chunk of custody: checked, then its rows not yet stored (or being stored) are stored."""
        try:
            data_root = compute_data_root(event.header)
        except DAError as error:
            malformed = CustodyRejection.MALFORMED_HEADER
            return [CustodyRejected(UNKNOWN_ROOT, event.sender, malformed, str(error))]
        if data_root in self.attested:
            # Another node also dispersed this blob: it gets the attestation too, so a node that
            # pushed first cannot swallow it (an attestation is harmless to hand out).
            return [SendAttestation(event.sender, self.attested[data_root])]
        duty = self.duties.get(data_root)
        if duty is not None:
            settled = self._custody_for_duty(data_root, duty, event)
            if settled is not None:
                return settled
        rejection: tuple[CustodyRejection, str] | None
        try:
            rejection = self._check_custody(event, data_root)
        except DAError as error:
            rejection = (CustodyRejection.MALFORMED_CUSTODY, str(error))
        if rejection is not None:
            return [CustodyRejected(data_root, event.sender, *rejection)]
        quorum = self.get_quorum(event.epoch, event.quorum)
        if quorum is None:  # checked in _check_custody; keeps the type checker honest
            return [CustodyRejected(data_root, event.sender, CustodyRejection.UNKNOWN_QUORUM, "unknown")]
        return self._store_chunk(event, data_root, quorum, duty)

    def _custody_for_duty(
        self, data_root: DataRoot, duty: Duty, event: CustodyReceived
    ) -> list[Output] | None:
        """A chunk for a blob this member has a duty for: its sender becomes one of the duty's
        aggregators; the outputs when nothing more is to be done with the chunk, None to check and
        store it (the duty is storing, or failed storing, and the chunk names the duty's quorum)."""
        if event.sender not in duty.aggregators:
            duty.aggregators.append(event.sender)
        if duty.stage is DutyStage.SAMPLING:
            return []  # its custody is complete: the chunk's cells are not looked at
        if duty.stage is DutyStage.FAILED and duty.failure is DutyFailure.SAMPLES_EXHAUSTED:
            return self._resume(data_root, duty, "custody pushed again")  # custody stored: sample again
        if (event.epoch, event.quorum) != (duty.epoch, duty.quorum.index):
            return []  # the duty's custody is that of its own quorum: a push for another is not it
        return None

    def _store_chunk(
        self, event: CustodyReceived, data_root: DataRoot, quorum: Quorum, duty: Duty | None
    ) -> list[Output]:
        """A checked chunk: its rows not yet stored nor being stored are verified and stored; a new
        duty starts, or one that failed storing resumes; a chunk of rows all held changes nothing."""
        held: set[RowIndex] = set() if duty is None else duty.stored_rows | duty.storing_rows
        fresh = tuple(sample for sample in event.samples if sample.row not in held)
        invalid = self._verify_fresh(data_root, fresh) if fresh else None
        if invalid is not None:
            return [CustodyRejected(data_root, event.sender, *invalid)]
        outputs: list[Output] = []
        if duty is None:
            custody = compute_member_custody(quorum, data_root, self.preset)[self.me]
            duty = self.duties[data_root] = Duty(
                header=event.header,
                epoch=event.epoch,
                quorum=quorum,
                aggregators=[event.sender],
                custody=custody,
                stage=DutyStage.STORING,
                deadline=self.now + self.config.custody_timeout_s,
            )
        elif duty.stage is DutyStage.FAILED:  # failed while storing: the re-push goes on with it
            outputs = self._resume(data_root, duty, "custody pushed again")
        if not fresh:
            return outputs  # every row of this chunk is stored or being stored already
        duty.storing_rows |= {sample.row for sample in fresh}
        return [*outputs, StoreCustody(event.header, event.epoch, event.quorum, fresh)]

    def _check_custody(
        self, event: CustodyReceived, data_root: DataRoot
    ) -> tuple[CustodyRejection, str] | None:
        """The chunk's quorum and membership, and that its cells are row-complete: for each row it
        covers (below `row_count`), exactly this member's custody columns, each once."""
        quorum = self.get_quorum(event.epoch, event.quorum)
        if quorum is None:
            return CustodyRejection.UNKNOWN_QUORUM, f"quorum {event.quorum} of epoch {event.epoch}"
        custody = compute_member_custody(quorum, data_root, self.preset).get(self.me)
        if custody is None:
            return CustodyRejection.NOT_A_MEMBER, "this validator is not a member of the blob's quorum"
        rows = {sample.row for sample in event.samples}
        if not rows:
            return CustodyRejection.WRONG_CELLS, "the push holds no cells"
        beyond = [row for row in rows if not 0 <= row < event.header.row_count]
        if beyond:
            detail = f"row {min(beyond)} is outside the blob's {event.header.row_count} rows"
            return CustodyRejection.WRONG_CELLS, detail
        expected = {CellCoordinate(RowIndex(row), column) for row in rows for column in custody}
        received = [sample.coordinate for sample in event.samples]
        if len(received) != len(expected) or set(received) != expected:
            detail = (
                f"expected the {len(custody)} custody cells of each of its {len(rows)} rows "
                f"({len(expected)}), got {len(received)} cells, {len(set(received) & expected)} of them"
            )
            return CustodyRejection.WRONG_CELLS, detail
        return None

    def _verify_fresh(
        self, data_root: DataRoot, samples: tuple[Sample, ...]
    ) -> tuple[CustodyRejection, str] | None:
        """The cells about to be stored verify against the data root (one batch)."""
        try:
            if verify_samples(data_root, samples, self._verifier):
                return None
        except DAError as error:
            return CustodyRejection.MALFORMED_CUSTODY, str(error)
        return CustodyRejection.INVALID_PROOF, "custody cells do not verify against the data root"

    def _on_custody_stored(self, event: CustodyStored) -> list[Output]:
        duty = self.duties.get(event.data_root)
        if duty is None:
            return []
        storing = duty.stage is DutyStage.STORING
        late = duty.stage is DutyStage.FAILED and duty.failure is DutyFailure.CUSTODY_NOT_STORED
        if not (storing or late):
            return []
        rows = {row for row in event.rows if 0 <= row < duty.header.row_count}
        duty.storing_rows -= rows
        duty.stored_rows |= rows
        if not duty.custody_complete:
            return []
        outputs: list[Output] = []
        if late:
            outputs = self._resume(event.data_root, duty, "custody stored late")
        duty.stage, duty.failure = DutyStage.SAMPLING, None
        holds_blob = self.me in duty.aggregators and event.data_root in self.dispersals
        asks = self._sampler.start(event.data_root, duty, self.now, holds_blob)
        if self._sampler.is_done(duty):
            return [*outputs, *self._attest(event.data_root, duty)]
        return [*outputs, *self._sampler.requests(event.data_root, duty, asks)]

    def _on_samples(self, event: SamplesReceived) -> list[Output]:
        duty = self.duties.get(event.data_root)
        if duty is None or duty.stage is not DutyStage.SAMPLING:
            return []
        # A valid answer from any custodian asked so far counts, even a late one; a failed answer
        # moves a cell on only if it came from the custodian whose turn it is.
        asked = {c for c, p in duty.pending.items() if event.sender in p.asked}
        current = {
            c for c in asked if not duty.pending[c].waiting and duty.pending[c].current == event.sender
        }
        answered = [s for s in event.samples if s.coordinate in asked]
        good = self._verified(event.data_root, duty.header, answered)
        failed = [(s.coordinate, SampleRejection.INVALID_PROOF) for s in answered if s.coordinate not in good]
        failed += [(c, SampleRejection.NOT_HELD) for c in event.not_held if c in asked]
        for coordinate in good:
            self._sampler.served(duty, coordinate)
        if any(reason is SampleRejection.INVALID_PROOF for _, reason in failed):
            duty.faulty.add(event.sender)  # an honest custodian verified its custody: never ask it again
        outputs: list[Output] = []
        moved: list[CellCoordinate] = []
        for coordinate, reason in failed:
            outputs.append(SampleRejected(event.data_root, event.sender, coordinate, reason))
            if coordinate in current and coordinate in duty.pending and coordinate not in moved:
                moved.append(coordinate)
        return outputs + self._move_on(event.data_root, duty, moved, [])

    def _on_attestation(self, attestation: Attestation) -> list[Output]:
        if attestation.data_root in self.certified:
            return self._late_attestation(attestation, self.certified[attestation.data_root])
        aggregation = self.aggregations.get(attestation.data_root)
        if aggregation is None:
            return [AttestationRejected(attestation, None, "no aggregation for this data root here")]
        result = aggregation.add(attestation)
        if not isinstance(result, Accepted):
            return [AttestationRejected(attestation, result.reason, result.detail)]
        outputs: list[Output] = [AttestationCounted(attestation, result.signed_slots, aggregation.threshold)]
        if result.certificate is not None:
            outputs += [CertificateFormed(result.certificate), PublishCertificate(result.certificate)]
            # Certified: the signatures are in the certificate; keep only the root (bounded).
            del self.aggregations[attestation.data_root]
            self.dispersals.pop(attestation.data_root, None)
            self.certified[attestation.data_root] = result.certificate.epoch
            self._bound(self.certified)
        return outputs

    def _late_attestation(self, attestation: Attestation, epoch: Epoch) -> list[Output]:
        """An attestation of a blob certified here: redundant (nothing) when its signer could have
        signed it, rejected as before certification when it names another epoch or a validator
        outside its quorum (wrong whoever receives it: the sender is charged, not let off because the
        aggregation is gone). Its signature is not checked: nothing would count it."""
        if attestation.epoch != epoch:
            detail = f"epoch {attestation.epoch}, expected {epoch}"
            return [AttestationRejected(attestation, RejectReason.WRONG_EPOCH, detail)]
        quorums = self._quorums.get(epoch)
        if quorums is None:
            return []  # the epoch's quorums are gone: nothing to judge it by
        if attestation.quorum >= len(quorums):
            detail = f"quorum {attestation.quorum} of epoch {epoch} does not exist"
            return [AttestationRejected(attestation, RejectReason.WRONG_QUORUM, detail)]
        if attestation.validator not in quorums[attestation.quorum].members:
            detail = f"validator {attestation.validator} is not in the quorum"
            return [AttestationRejected(attestation, RejectReason.NOT_A_MEMBER, detail)]
        return []  # late: the certificate formed without it

    def _on_tick(self, event: Tick) -> list[Output]:
        self.now = max(self.now, event.now)
        outputs: list[Output] = []
        for data_root in sorted(self.duties):
            duty = self.duties[data_root]
            if duty.stage is DutyStage.STORING and self.now >= duty.deadline:
                outputs += self._fail(
                    data_root, duty, DutyFailure.CUSTODY_NOT_STORED, "custody cells were not stored in time"
                )
            elif duty.stage is DutyStage.SAMPLING and self.now >= duty.deadline:
                detail = f"{len(duty.served)} of {duty.target} cells served when the sampling window ended"
                outputs += self._fail(data_root, duty, DutyFailure.SAMPLES_EXHAUSTED, detail)
            elif duty.stage is DutyStage.SAMPLING:
                timed_out, rested = self._sampler.due(duty, self.now)
                outputs += self._move_on(data_root, duty, timed_out, rested)
            elif duty.stage is DutyStage.FAILED and self.now >= duty.deadline:
                outputs += self._resume(data_root, duty, "rested")
        for data_root in sorted(self.dispersals):
            outputs += self._repush(data_root, self.dispersals[data_root])
        return outputs

    def _resume(self, data_root: DataRoot, duty: Duty, cause: str) -> list[Output]:
        """Start a failed duty again where it failed: storing (wait for the store anew) or sampling."""
        assert duty.failure is not None
        duty.resumes += 1
        outputs: list[Output] = [DutyResumed(data_root, duty.failure, cause, duty.resumes)]
        if duty.failure is DutyFailure.CUSTODY_NOT_STORED:
            duty.stage, duty.deadline = DutyStage.STORING, self.now + self.config.custody_timeout_s
            return outputs
        duty.stage, duty.failure = DutyStage.SAMPLING, None
        asks = self._sampler.resume(data_root, duty, self.now)
        return outputs + self._move_on(data_root, duty, [], asks)

    def _repush(self, data_root: DataRoot, dispersal: Dispersal) -> list[Output]:
        """An aggregator pushes custody again to members that have not attested (a push or an
        attestation may have been lost, or the member's duty failed), with a doubling wait; after
        the last re-push's wait the dispersal ends (`NOT_CERTIFIED`; the aggregation stays, so a late
        attestation can still certify it)."""
        aggregation = self.aggregations.get(data_root)
        if aggregation is None or aggregation.certificate is not None:
            del self.dispersals[data_root]
            return []
        if self.now < dispersal.pushed_at + self.config.repush_after_s * 2**dispersal.repushes:
            return []
        if dispersal.repushes >= self.config.custody_repushes:
            del self.dispersals[data_root]
            detail = (
                f"{aggregation.signed_slots} of {aggregation.threshold} slots signed after "
                f"{dispersal.repushes} re-pushes"
            )
            return [DutyFailed(data_root, DutyFailure.NOT_CERTIFIED, detail)]
        dispersal.repushes += 1
        waiting = [m for m in dispersal.quorum.members if m not in aggregation.signers]
        return self._pushes(data_root, dispersal, waiting)

    # --- helpers --------------------------------------------------------------------------------

    def _bound(self, kept: dict[DataRoot, _Kept]) -> None:
        """Drop the oldest entries of a record of finished work past `max_blobs_kept`."""
        while len(kept) > self.config.max_blobs_kept:
            del kept[next(iter(kept))]

    def _verified(
        self, data_root: DataRoot, header: BlobHeader, samples: list[GridSample]
    ) -> frozenset[CellCoordinate]:
        """Coordinates of the grid samples that verify against the duty's header (whose root is
        `data_root`): one batch, bisected only when it fails."""
        validity = compute_grid_sample_validity(data_root, header, samples, self._verifier)
        return frozenset(sample.coordinate for sample, ok in zip(samples, validity.valid, strict=True) if ok)

    def _move_on(
        self, data_root: DataRoot, duty: Duty, refused: list[CellCoordinate], asks: list[CellCoordinate]
    ) -> list[Output]:
        """Move each refused cell to its next custodian, then ask everything due; attest when enough
        cells were served; fail when the target can no longer be reached."""
        asks = list(asks)
        for coordinate in refused:
            if coordinate not in duty.pending:
                continue
            moved = self._sampler.refused(data_root, duty, coordinate, self.now)
            if isinstance(moved, Exhausted):
                return self._fail(data_root, duty, DutyFailure.SAMPLES_EXHAUSTED, moved.detail)
            asks += moved
        if self._sampler.is_done(duty):
            return self._attest(data_root, duty)
        return list(self._sampler.requests(data_root, duty, asks))

    def _attest(self, data_root: DataRoot, duty: Duty) -> list[Output]:
        message = compute_attestation_signing_root(
            self._contexts[duty.epoch].chain_id, duty.epoch, duty.quorum.index, data_root
        )
        attestation = Attestation(
            epoch=duty.epoch,
            quorum=duty.quorum.index,
            data_root=data_root,
            validator=self.me,
            signature=self._secret_key.sign(message),
        )
        del self.duties[data_root]
        self.attested[data_root] = attestation
        self._bound(self.attested)
        sends: list[Output] = [SendAttestation(to, attestation) for to in duty.aggregators]
        return [Attested(attestation), *sends]

    def _fail(self, data_root: DataRoot, duty: Duty, reason: DutyFailure, detail: str) -> list[Output]:
        """Give the duty up: it rests (doubling) and resumes, at most `duty_resumes` times; then dropped."""
        if duty.resumes >= self.config.duty_resumes:
            self.duties.pop(data_root, None)
            return [DutyFailed(data_root, reason, detail)]
        duty.stage, duty.failure = DutyStage.FAILED, reason
        duty.storing_rows.clear()  # a store not reported by now is stored again on a re-push
        duty.deadline = self.now + self.config.duty_resume_s * 2**duty.resumes
        return [DutyFailed(data_root, reason, detail, resume_at=duty.deadline)]
