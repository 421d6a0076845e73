"""Outputs of the validator core: messages for the shell to send or perform, and events to record."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot, RowIndex, Sample
from validator.aggregation import RejectReason
from validator.types import Attestation, Certificate, Epoch, QuorumIndex, ValidatorIndex


class CustodyRejection(enum.Enum):
    """Why pushed custody cells were refused. `blames_sender` says whether the push itself proves the
    sender wrong (REJECT on the wire) or only that this node cannot use it now (IGNORE)."""

    MALFORMED_HEADER = "malformed_header"
    MALFORMED_CUSTODY = "malformed_custody"
    UNKNOWN_QUORUM = "unknown_quorum"
    NOT_A_MEMBER = "not_a_member"
    WRONG_CELLS = "wrong_cells"
    INVALID_PROOF = "invalid_proof"
    INSUFFICIENT_STORAGE = "insufficient_storage"
    """Refused by the shell, not the core: the node's free disk is below its threshold."""

    @property
    def blames_sender(self) -> bool:
        """True when the push is wrong whoever receives it (not merely unusable by this node now)."""
        return self not in {
            CustodyRejection.UNKNOWN_QUORUM,
            CustodyRejection.NOT_A_MEMBER,
            CustodyRejection.INSUFFICIENT_STORAGE,
        }


class SampleRejection(enum.Enum):
    """Why a peer's answer for one cell did not count."""

    INVALID_PROOF = "invalid_proof"
    NOT_HELD = "not_held"


class DutyFailure(enum.Enum):
    """Why a node gave up a duty (attesting, or aggregating what it disperses)."""

    UNKNOWN_QUORUM = "unknown_quorum"
    CUSTODY_NOT_STORED = "custody_not_stored"
    SAMPLES_EXHAUSTED = "samples_exhausted"
    NOT_CERTIFIED = "not_certified"
    """The aggregator's dispersal ended (every re-push sent and waited for, or the blob's epoch left
    the retention window) without a certificate; a late attestation may still form one."""


@dataclass(frozen=True, slots=True)
class PushCustody:
    """Send member `to` the cells of `columns` (every row) of the blob, with its header: the executor
    sends them in chunks of whole rows, each its own push (`CoreConfig.max_custody_cells_per_push`)."""

    to: ValidatorIndex
    header: BlobHeader
    epoch: Epoch
    quorum: QuorumIndex
    columns: tuple[ColumnIndex, ...]


@dataclass(frozen=True, slots=True)
class StoreCustody:
    """Durably store these verified custody cells of the blob of (`epoch`, `quorum`) (whole rows of
    the member's custody), then report `CustodyStored` with their rows."""

    header: BlobHeader
    epoch: Epoch
    quorum: QuorumIndex
    samples: tuple[Sample, ...]

    @property
    def rows(self) -> tuple[RowIndex, ...]:
        """The rows these cells cover, ascending (what `CustodyStored` reports once they are stored)."""
        return tuple(sorted({RowIndex(sample.row) for sample in self.samples}))


@dataclass(frozen=True, slots=True)
class RequestSamples:
    """Ask peer `to` for the samples at `coordinates` (one batched request)."""

    to: ValidatorIndex
    data_root: DataRoot
    coordinates: tuple[CellCoordinate, ...]


@dataclass(frozen=True, slots=True)
class SendAttestation:
    """Deliver an attestation to the blob's aggregator."""

    to: ValidatorIndex
    attestation: Attestation


@dataclass(frozen=True, slots=True)
class PublishCertificate:
    """Publish a fresh certificate on gossip (and store it)."""

    certificate: Certificate


@dataclass(frozen=True, slots=True)
class CustodyRejected:
    """Event: pushed custody cells were refused, and why."""

    data_root: DataRoot
    sender: ValidatorIndex
    reason: CustodyRejection
    detail: str


@dataclass(frozen=True, slots=True)
class SampleRejected:
    """Event: a peer's sample failed verification or was not held; it will be asked elsewhere."""

    data_root: DataRoot
    sender: ValidatorIndex
    coordinate: CellCoordinate
    reason: SampleRejection


@dataclass(frozen=True, slots=True)
class Attested:
    """Event: this node signed an attestation for `data_root` (custody stored, samples verified)."""

    attestation: Attestation


@dataclass(frozen=True, slots=True)
class DutyFailed:
    """Event: this node gave up on attesting `data_root`, for good when `resume_at` is None, otherwise
    until `resume_at` (sampling resumes then) or until a new push or a late `CustodyStored`."""

    data_root: DataRoot
    reason: DutyFailure
    detail: str
    resume_at: float | None = None


@dataclass(frozen=True, slots=True)
class DutyResumed:
    """Event: a failed duty on `data_root` started again (`resumes` times so far); `cause` says why."""

    data_root: DataRoot
    reason: DutyFailure
    cause: str
    resumes: int


@dataclass(frozen=True, slots=True)
class AttestationCounted:
    """Event: an attestation counted towards a certificate; `signed_slots` so far."""

    attestation: Attestation
    signed_slots: int
    threshold: int


@dataclass(frozen=True, slots=True)
class AttestationRejected:
    """Event: an attestation did not count, with the typed reason."""

    attestation: Attestation
    reason: RejectReason | None
    detail: str


@dataclass(frozen=True, slots=True)
class CertificateFormed:
    """Event: the aggregation of `data_root` reached the threshold."""

    certificate: Certificate


Output = (
    PushCustody
    | StoreCustody
    | RequestSamples
    | SendAttestation
    | PublishCertificate
    | CustodyRejected
    | SampleRejected
    | Attested
    | DutyFailed
    | DutyResumed
    | AttestationCounted
    | AttestationRejected
    | CertificateFormed
)
