"""Inputs of the validator core: received messages, timer ticks and local actions (data, no logic)."""

from __future__ import annotations

from dataclasses import dataclass

from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, RowIndex, Sample
from validator.types import Attestation, Epoch, EpochContext, QuorumIndex, ValidatorIndex


@dataclass(frozen=True, slots=True)
class EpochContextKnown:
    """The registry's view of an epoch is final (its ballots are frozen): quorums can be formed."""

    context: EpochContext


@dataclass(frozen=True, slots=True)
class BlobDispersing:
    """Local action on the aggregator: a sequencer's blob was encoded; disperse it to its quorum."""

    header: BlobHeader
    epoch: Epoch
    quorum: QuorumIndex


@dataclass(frozen=True, slots=True)
class CustodyReceived:
    """An aggregator pushed this member a chunk of its custody cells for a blob: for each row the
    chunk covers, the cells of the member's custody columns (specs/validator.md, Custody)."""

    sender: ValidatorIndex
    header: BlobHeader
    epoch: Epoch
    quorum: QuorumIndex
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class CustodyStored:
    """The shell has durably stored the custody cells of `rows` of `data_root` (after the
    `StoreCustody` of those rows)."""

    data_root: DataRoot
    rows: tuple[RowIndex, ...]


@dataclass(frozen=True, slots=True)
class SamplesReceived:
    """A peer answered a sample request: the cells of the blob's 2D grid it holds (rows 0..2R-1,
    checked against the duty's header) and the coordinates it does not."""

    sender: ValidatorIndex
    data_root: DataRoot
    samples: tuple[GridSample, ...]
    not_held: tuple[CellCoordinate, ...] = ()


@dataclass(frozen=True, slots=True)
class AttestationReceived:
    """A quorum member sent its attestation to this node (the aggregator)."""

    attestation: Attestation


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: the core's only clock."""

    now: float


Input = (
    EpochContextKnown
    | BlobDispersing
    | CustodyReceived
    | CustodyStored
    | SamplesReceived
    | AttestationReceived
    | Tick
)
