"""`ValidatorCore`: the deterministic protocol state machine of one validator.

`step(input) -> outputs`. No sockets, clocks or threads: time arrives as `Tick`, randomness comes
from a secret nonce hashed with the data root, KZG checks go through the injected `CellVerifier`.
The same object runs in the daemon and, many times over, inside `fuzz/`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from da.constants import CELLS_PER_ROW
from da.errors import DAError
from da.header import compute_data_root
from da.kzg import CellVerifier
from da.samples import compute_verified_coordinates, verify_samples
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
from validator.aggregation import Accepted, AttestationAggregator
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
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SampleRejected,
    SampleRejection,
    SendAttestation,
    StoreCustody,
)
from validator.core.state import BlobAssignment, CoreConfig, Duty, DutyStage, PendingSample
from validator.custody import compute_member_custody
from validator.keys import SecretKey
from validator.presets import Preset
from validator.quorums import compute_blob_quorum, compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, EpochContext, Quorum, QuorumIndex, ValidatorIndex

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
        self.aggregations: dict[DataRoot, AttestationAggregator] = {}

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
        return []

    def _on_dispersing(self, event: BlobDispersing) -> list[Output]:
        data_root = compute_data_root(event.header)
        quorum = self.get_quorum(event.epoch, event.quorum)
        if quorum is None:
            detail = f"quorum {event.quorum} of epoch {event.epoch} is unknown"
            return [DutyFailed(data_root, DutyFailure.UNKNOWN_QUORUM, detail)]
        if data_root not in self.aggregations:
            context = self._contexts[event.epoch]
            self.aggregations[data_root] = AttestationAggregator(context, quorum, data_root, self.preset)
        custody = compute_member_custody(quorum, data_root, self.preset)
        return [
            PushCustody(member, event.header, event.epoch, event.quorum, tuple(sorted(custody[member])))
            for member in quorum.members
        ]

    def _on_custody(self, event: CustodyReceived) -> list[Output]:
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
            if event.sender not in duty.aggregators:
                duty.aggregators.append(event.sender)
            return []
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
        custody = compute_member_custody(quorum, data_root, self.preset)[self.me]
        self.duties[data_root] = Duty(
            header=event.header,
            epoch=event.epoch,
            quorum=quorum,
            aggregators=[event.sender],
            custody=custody,
            stage=DutyStage.STORING,
            deadline=self.now + self.config.custody_timeout_s,
        )
        return [StoreCustody(event.header, event.epoch, event.quorum, event.samples)]

    def _check_custody(
        self, event: CustodyReceived, data_root: DataRoot
    ) -> tuple[CustodyRejection, str] | None:
        quorum = self.get_quorum(event.epoch, event.quorum)
        if quorum is None:
            return CustodyRejection.UNKNOWN_QUORUM, f"quorum {event.quorum} of epoch {event.epoch}"
        custody = compute_member_custody(quorum, data_root, self.preset).get(self.me)
        if custody is None:
            return CustodyRejection.NOT_A_MEMBER, "this validator is not a member of the blob's quorum"
        expected = {
            CellCoordinate(RowIndex(row), column)
            for row in range(event.header.row_count)
            for column in custody
        }
        received = [sample.coordinate for sample in event.samples]
        if len(received) != len(expected) or set(received) != expected:
            detail = f"expected {len(expected)} custody cells, got {len(set(received))} of them"
            return CustodyRejection.WRONG_CELLS, detail
        if not verify_samples(data_root, event.samples, self._verifier):
            return CustodyRejection.INVALID_PROOF, "custody cells do not verify against the data root"
        return None

    def _on_custody_stored(self, event: CustodyStored) -> list[Output]:
        duty = self.duties.get(event.data_root)
        if duty is None or duty.stage is not DutyStage.STORING:
            return []
        duty.stage = DutyStage.SAMPLING
        drawn = self._draw_samples(event.data_root, duty)
        duty.reserve = drawn[self.preset.VALIDATOR_SAMPLES :][::-1]
        for coordinate in drawn[: self.preset.VALIDATOR_SAMPLES]:
            self._add_pending(event.data_root, duty, coordinate)
        if not duty.pending:
            return self._attest(event.data_root, duty)
        return self._requests(event.data_root, duty, list(duty.pending))

    def _on_samples(self, event: SamplesReceived) -> list[Output]:
        duty = self.duties.get(event.data_root)
        if duty is None or duty.stage is not DutyStage.SAMPLING:
            return []
        # A valid answer from any custodian asked so far counts, even a late one; a failed answer
        # moves a cell on to its next custodian only if it came from the one currently asked.
        asked = {c for c, p in duty.pending.items() if event.sender in p.custodians[: p.attempt + 1]}
        current = {c for c in asked if duty.pending[c].custodians[duty.pending[c].attempt] == event.sender}
        answered = [s for s in event.samples if s.coordinate in asked]
        outputs: list[Output] = []
        good = self._verified(event.data_root, answered)
        failed = [(s.coordinate, SampleRejection.INVALID_PROOF) for s in answered if s.coordinate not in good]
        failed += [(c, SampleRejection.NOT_HELD) for c in event.not_held if c in asked]
        for coordinate in good:
            duty.pending.pop(coordinate, None)
        retry: list[CellCoordinate] = []
        for coordinate, reason in failed:
            outputs.append(SampleRejected(event.data_root, event.sender, coordinate, reason))
            if coordinate in current and coordinate in duty.pending and coordinate not in retry:
                retry.append(coordinate)
        outputs += self._retry(event.data_root, duty, retry)
        if event.data_root in self.duties and not duty.pending:
            outputs += self._attest(event.data_root, duty)
        return outputs

    def _on_attestation(self, attestation: Attestation) -> list[Output]:
        aggregation = self.aggregations.get(attestation.data_root)
        if aggregation is None:
            return [AttestationRejected(attestation, None, "no aggregation for this data root here")]
        result = aggregation.add(attestation)
        if not isinstance(result, Accepted):
            return [AttestationRejected(attestation, result.reason, result.detail)]
        outputs: list[Output] = [AttestationCounted(attestation, result.signed_slots, aggregation.threshold)]
        if result.certificate is not None:
            outputs += [CertificateFormed(result.certificate), PublishCertificate(result.certificate)]
        return outputs

    def _on_tick(self, event: Tick) -> list[Output]:
        self.now = max(self.now, event.now)
        outputs: list[Output] = []
        for data_root in sorted(self.duties):
            duty = self.duties[data_root]
            if duty.stage is DutyStage.STORING and self.now >= duty.deadline:
                outputs += self._fail(
                    data_root, DutyFailure.CUSTODY_NOT_STORED, "custody cells were not stored in time"
                )
            elif duty.stage is DutyStage.SAMPLING:
                late = sorted(
                    (c for c, p in duty.pending.items() if self.now >= p.deadline),
                    key=lambda c: (c.row, c.column),
                )
                outputs += self._retry(data_root, duty, late)
        return outputs

    # --- helpers --------------------------------------------------------------------------------

    def _draw_samples(self, data_root: DataRoot, duty: Duty) -> list[CellCoordinate]:
        """`VALIDATOR_SAMPLES` distinct cells outside this member's custody that other members hold.

        The order is keyed by a secret nonce, so peers cannot predict which cells will be asked.
        """
        custody = compute_member_custody(duty.quorum, data_root, self.preset)
        held_by_others = set().union(*(columns for member, columns in custody.items() if member != self.me))
        candidates = [
            CellCoordinate(RowIndex(row), ColumnIndex(column))
            for row in range(duty.header.row_count)
            for column in range(CELLS_PER_ROW)
            if column not in duty.custody and column in held_by_others
        ]
        keyed = sorted(
            candidates,
            key=lambda c: hashlib.sha256(self._nonce + data_root + bytes([c.row, c.column])).digest(),
        )
        return keyed[: self.preset.VALIDATOR_SAMPLES + self.preset.SAMPLE_REPLACEMENTS]

    def _add_pending(self, data_root: DataRoot, duty: Duty, coordinate: CellCoordinate) -> None:
        custodians = self._custodians(duty, data_root, coordinate.column)
        duty.pending[coordinate] = PendingSample(custodians, 0, self.now + self.config.sample_timeout_s)

    def _custodians(
        self, duty: Duty, data_root: DataRoot, column: ColumnIndex
    ) -> tuple[ValidatorIndex, ...]:
        custody = compute_member_custody(duty.quorum, data_root, self.preset)
        holders = [m for m in duty.quorum.members if m != self.me and column in custody[m]]
        return tuple(holders[: self.preset.SAMPLE_RETRIES])

    def _verified(self, data_root: DataRoot, samples: list[Sample]) -> frozenset[CellCoordinate]:
        """Coordinates of the samples that verify (one batch; bisected only when it fails)."""
        return compute_verified_coordinates(data_root, samples, self._verifier)

    def _retry(self, data_root: DataRoot, duty: Duty, coordinates: list[CellCoordinate]) -> list[Output]:
        """Ask the next custodian; a cell no custodian serves is replaced, up to SAMPLE_REPLACEMENTS."""
        again: list[CellCoordinate] = []
        for coordinate in coordinates:
            pending = duty.pending[coordinate]
            pending.attempt += 1
            if pending.attempt < len(pending.custodians):
                pending.deadline = self.now + self.config.sample_timeout_s
                again.append(coordinate)
                continue
            del duty.pending[coordinate]
            if not duty.reserve:
                return self._fail(
                    data_root,
                    DutyFailure.SAMPLES_EXHAUSTED,
                    f"no custodian served a valid cell at {coordinate} and no replacement is left",
                )
            duty.replacements += 1
            replacement = duty.reserve.pop()
            self._add_pending(data_root, duty, replacement)
            again.append(replacement)
        return self._requests(data_root, duty, again)

    def _requests(self, data_root: DataRoot, duty: Duty, coordinates: list[CellCoordinate]) -> list[Output]:
        batches: dict[ValidatorIndex, list[CellCoordinate]] = {}
        for coordinate in coordinates:
            pending = duty.pending[coordinate]
            batches.setdefault(pending.custodians[pending.attempt], []).append(coordinate)
        return [RequestSamples(peer, data_root, tuple(batch)) for peer, batch in sorted(batches.items())]

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
        sends: list[Output] = [SendAttestation(to, attestation) for to in duty.aggregators]
        return [Attested(attestation), *sends]

    def _fail(self, data_root: DataRoot, reason: DutyFailure, detail: str) -> list[Output]:
        self.duties.pop(data_root, None)
        return [DutyFailed(data_root, reason, detail)]
