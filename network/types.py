"""Typed values of the network layer (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import NewType

from da.types import CellCoordinate, GridSample, Sample

PeerName = NewType("PeerName", str)
"""A libp2p peer id in its base58 text form (`12D3KooW...`)."""

MessageId = NewType("MessageId", bytes)
"""A gossip message id: the first 20 bytes of a domain-separated SHA-256 of topic and content."""


class Verdict(Enum):
    """What a validator says about a message: deliver and forward, drop quietly, or drop and penalize."""

    ACCEPT = "accept"
    IGNORE = "ignore"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class Judgement:
    """A verdict and the rule that produced it (for logs and tests)."""

    verdict: Verdict
    reason: str


@dataclass(frozen=True, slots=True)
class VerifiedSamples:
    """A peer's answer checked against the data root: the samples that verified, the coordinates it
    does not hold, and those where it served a sample that does not verify."""

    peer: PeerName
    samples: tuple[Sample, ...]
    missing: tuple[CellCoordinate, ...]
    invalid: tuple[CellCoordinate, ...]


@dataclass(frozen=True, slots=True)
class VerifiedGridSamples:
    """A peer's answer of 2D grid cells checked against the blob's header: the samples that
    verified, the coordinates it does not hold, and those where it served a cell that does not verify."""

    peer: PeerName
    samples: tuple[GridSample, ...]
    missing: tuple[CellCoordinate, ...]
    invalid: tuple[CellCoordinate, ...]


@dataclass(frozen=True, slots=True)
class GossipMessage:
    """A validated gossip message as subscribers receive it."""

    topic: str
    data: bytes
    message_id: MessageId
    author: PeerName
    """The peer that signed and first published it (not necessarily the one that forwarded it to us)."""
