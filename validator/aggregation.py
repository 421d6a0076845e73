"""Attestation aggregation: accept each quorum member once, reject with typed reasons, certify at 2/3.

The aggregator is deterministic and does no I/O: the daemon and the fuzzers feed it the same way.
The certificate is emitted by the `add` call that first brings the signed slots to the threshold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from da.types import DataRoot
from validator.keys import BLSSignature, aggregate_signatures, verify_signature
from validator.presets import Preset
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Certificate, EpochContext, Quorum, ValidatorIndex


class RejectReason(enum.Enum):
    """Why an attestation was not counted."""

    WRONG_EPOCH = "wrong_epoch"
    WRONG_QUORUM = "wrong_quorum"
    WRONG_DATA_ROOT = "wrong_data_root"
    NOT_A_MEMBER = "not_a_member"
    DUPLICATE = "duplicate"
    BAD_SIGNATURE = "bad_signature"

    @property
    def blames_sender(self) -> bool:
        """True when the attestation is wrong whoever receives it; a duplicate is only redundant."""
        return self is not RejectReason.DUPLICATE


@dataclass(frozen=True, slots=True)
class Accepted:
    """The attestation counted; `certificate` is set by the add that reached the threshold."""

    signed_slots: int
    certificate: Certificate | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """The attestation did not count, and why."""

    reason: RejectReason
    detail: str


class AttestationAggregator:
    """Collects attestations for one (epoch, quorum, data root) and forms the certificate."""

    def __init__(self, context: EpochContext, quorum: Quorum, data_root: DataRoot, preset: Preset) -> None:
        self.context = context
        self.quorum = quorum
        self.data_root = data_root
        self.preset = preset
        self.threshold = preset.certificate_threshold(len(quorum.slots))
        self._message = compute_attestation_signing_root(
            context.chain_id, quorum.epoch, quorum.index, data_root
        )
        self._weights = {member: len(quorum.slots_of(member)) for member in quorum.members}
        self._signatures: dict[ValidatorIndex, BLSSignature] = {}
        self.certificate: Certificate | None = None

    @property
    def signed_slots(self) -> int:
        """Slots held by the members whose attestations were accepted."""
        return sum(self._weights[member] for member in self._signatures)

    @property
    def signers(self) -> frozenset[ValidatorIndex]:
        """Members whose attestations were accepted."""
        return frozenset(self._signatures)

    def add(self, attestation: Attestation) -> Accepted | Rejected:
        """Count `attestation` once if it is valid for this aggregation; otherwise say why not."""
        rejection = self._check(attestation)
        if rejection is not None:
            return rejection
        self._signatures[attestation.validator] = attestation.signature
        certificate = None
        if self.certificate is None and self.signed_slots >= self.threshold:
            certificate = self.certificate = self._form_certificate()
        return Accepted(self.signed_slots, certificate)

    def _check(self, attestation: Attestation) -> Rejected | None:
        if attestation.epoch != self.quorum.epoch:
            return Rejected(
                RejectReason.WRONG_EPOCH, f"epoch {attestation.epoch}, expected {self.quorum.epoch}"
            )
        if attestation.quorum != self.quorum.index:
            return Rejected(
                RejectReason.WRONG_QUORUM, f"quorum {attestation.quorum}, expected {self.quorum.index}"
            )
        if attestation.data_root != self.data_root:
            return Rejected(RejectReason.WRONG_DATA_ROOT, "attestation is for another data root")
        if attestation.validator not in self._weights:
            return Rejected(
                RejectReason.NOT_A_MEMBER, f"validator {attestation.validator} is not in the quorum"
            )
        if attestation.validator in self._signatures:
            return Rejected(RejectReason.DUPLICATE, f"validator {attestation.validator} already counted")
        record = self.context.get_validator(attestation.validator)
        if record is None or not verify_signature(record.pubkey, self._message, attestation.signature):
            return Rejected(
                RejectReason.BAD_SIGNATURE, f"signature of validator {attestation.validator} is invalid"
            )
        return None

    def _form_certificate(self) -> Certificate:
        signers = tuple(slot.validator in self._signatures for slot in self.quorum.slots)
        ordered = [self._signatures[member] for member in self.quorum.members if member in self._signatures]
        return Certificate(
            data_root=self.data_root,
            epoch=self.quorum.epoch,
            quorum=self.quorum.index,
            signers=signers,
            signature=aggregate_signatures(ordered),
        )
