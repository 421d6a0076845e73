"""The validator core's state types: its configuration, a member's duty on one blob and its stages,
and where a posted blob goes (`BlobAssignment`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from da.types import BlobHeader, CellCoordinate, ColumnIndex
from validator.types import Epoch, Quorum, QuorumIndex, ValidatorIndex


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Timeouts of the core, in seconds of `Tick` time."""

    sample_timeout_s: float = 2.0
    custody_timeout_s: float = 30.0


class DutyStage(enum.Enum):
    """Where a member's duty on one blob stands."""

    STORING = "storing"
    SAMPLING = "sampling"


@dataclass(frozen=True, slots=True)
class BlobAssignment:
    """Where a blob posted now goes: its quorum and the signed slots its certificate needs."""

    epoch: Epoch
    quorum: QuorumIndex
    threshold: int


@dataclass
class PendingSample:
    """A cell being asked: its custodians in asking order, the one asked now, and its deadline."""

    custodians: tuple[ValidatorIndex, ...]
    attempt: int
    deadline: float


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
    pending: dict[CellCoordinate, PendingSample] = field(default_factory=dict)
    reserve: list[CellCoordinate] = field(default_factory=list)
    replacements: int = 0
