"""The validator core's state types: its configuration, a member's duty on one blob and its stages,
a cell being sampled, the aggregator's record of a blob it disperses, and where a posted blob goes
(`BlobAssignment`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Final

from da.types import BlobHeader, CellCoordinate, ColumnIndex, RowIndex
from validator.core.outputs import DutyFailure
from validator.errors import InvalidCoreConfig
from validator.types import Epoch, Quorum, QuorumIndex, ValidatorIndex

MAX_CUSTODY_CELLS_PER_PUSH: Final = 1024
"""The most cells one custody push carries by default: the wire's `MAX_CUSTODY_SAMPLES_PER_PUSH`
(network/constants.py; a test keeps them equal). The core may not import network/, so the value
lives here too."""


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Timeouts and backoffs of the core, in seconds of `Tick` time (specs/validator.md, Core).

    `sample_timeout_s`: how long one sample request may go unanswered. `custody_timeout_s`: how long
    custody may take to be stored. `sample_window_s`: how long sampling may take before the duty fails
    (long enough for two rounds of timeouts over a full rotation and a rest). `sample_backoff_s`
    (doubling per round, at most `max_sample_backoff_s`): the pause before a cell's custodians are
    asked again after each of them refused or timed out.
    `duty_resume_s` (doubling per resume): how long a failed duty rests before it resumes, at most
    `duty_resumes` times. `repush_after_s`: how long an aggregator waits for a member's attestation
    before it pushes the member its custody again, at most `custody_repushes` times.
    `max_custody_cells_per_push`: the most cells one custody push carries; a member's custody goes
    out in chunks of whole rows, `max(1, max_custody_cells_per_push // len(columns))` rows each.
    """

    sample_timeout_s: float = 2.0
    custody_timeout_s: float = 30.0
    sample_window_s: float = 60.0
    sample_backoff_s: float = 0.5
    max_sample_backoff_s: float = 8.0
    duty_resume_s: float = 30.0
    duty_resumes: int = 3
    repush_after_s: float = 45.0
    custody_repushes: int = 3
    max_custody_cells_per_push: int = MAX_CUSTODY_CELLS_PER_PUSH
    retention_epochs: int = 24
    """Epochs after a blob's own that the core keeps anything of it (duties, dispersals,
    aggregations, attestations, certified roots) and of an epoch's context and quorums; dropped when a
    newer epoch's context arrives (specs/validator.md, Resources and retention)."""
    max_blobs_kept: int = 65_536
    """Upper bound of each per-blob record of finished work (`attested`, `certified`): past it the
    oldest is dropped first (a dropped attestation is signed again if asked: same message, same
    signature)."""

    def __post_init__(self) -> None:
        for name in (
            "sample_timeout_s",
            "custody_timeout_s",
            "sample_window_s",
            "sample_backoff_s",
            "duty_resume_s",
            "repush_after_s",
        ):
            if not getattr(self, name) > 0:
                raise InvalidCoreConfig(name, getattr(self, name), "must be > 0")
        if self.max_sample_backoff_s < self.sample_backoff_s:
            raise InvalidCoreConfig(
                "max_sample_backoff_s", self.max_sample_backoff_s, "must be >= sample_backoff_s"
            )
        for name in ("duty_resumes", "custody_repushes"):
            if getattr(self, name) < 0:
                raise InvalidCoreConfig(name, getattr(self, name), "must be >= 0")
        for name in ("retention_epochs", "max_blobs_kept", "max_custody_cells_per_push"):
            if getattr(self, name) < 1:
                raise InvalidCoreConfig(name, getattr(self, name), "must be >= 1")


class DutyStage(enum.Enum):
    """Where a member's duty on one blob stands."""

    STORING = "storing"
    """Custody arrives in row-complete chunks; each is stored as it comes, until every row is."""
    SAMPLING = "sampling"
    FAILED = "failed"
    """Given up for now; resumes on a new push, a late `CustodyStored` or (sampling) after a rest."""


@dataclass(frozen=True, slots=True)
class BlobAssignment:
    """Where a blob posted now goes: its quorum and the signed slots its certificate needs."""

    epoch: Epoch
    quorum: QuorumIndex
    threshold: int


@dataclass
class PendingSample:
    """A cell being sampled: its custodians in this member's asking order (a rotation), the one whose
    turn it is, the full rounds of refusals so far, whom it has asked, and its deadline: the answer's
    timeout while `waiting` is False, the end of a backoff while it is True."""

    custodians: tuple[ValidatorIndex, ...]
    turn: int
    deadline: float
    rounds: int = 0
    tried: int = 0
    """Custodians that refused it since its last rest."""
    waiting: bool = False
    asked: set[ValidatorIndex] = field(default_factory=set)
    spared: bool = False
    """True once this cell brought a reserve cell into play (each cell does so at most once)."""

    @property
    def current(self) -> ValidatorIndex:
        """The custodian whose turn it is."""
        return self.custodians[self.turn]


@dataclass
class Duty:
    """A member's work on one blob: custody, then sampling, then the attestation."""

    header: BlobHeader
    epoch: Epoch
    quorum: Quorum
    aggregators: list[ValidatorIndex]
    custody: frozenset[ColumnIndex]
    stage: DutyStage
    deadline: float
    """STORING: custody must be stored by then; SAMPLING: the window's end; FAILED: the next resume."""
    pending: dict[CellCoordinate, PendingSample] = field(default_factory=dict)
    reserve: list[CellCoordinate] = field(default_factory=list)
    served: set[CellCoordinate] = field(default_factory=set)
    target: int = 0
    """Distinct cells that must be served before the member attests."""
    faulty: set[ValidatorIndex] = field(default_factory=set)
    """Custodians that served an invalid cell: never asked again in this duty."""
    failure: DutyFailure | None = None
    resumes: int = 0
    stored_rows: set[RowIndex] = field(default_factory=set)
    """Rows whose custody cells the shell reported stored (`CustodyStored`): at most `row_count`."""
    storing_rows: set[RowIndex] = field(default_factory=set)
    """Rows handed to the shell in a `StoreCustody` and not yet reported stored (emptied when
    storing fails, so a re-push stores them again)."""

    @property
    def custody_complete(self) -> bool:
        """Every row's custody cells are stored."""
        return len(self.stored_rows) >= self.header.row_count


@dataclass
class Dispersal:
    """What an aggregator pushed for one blob, so it can push again to members that did not attest."""

    header: BlobHeader
    epoch: Epoch
    quorum: Quorum
    pushed_at: float
    repushes: int = 0
