"""Peer scoring arithmetic (pure): offences lower a score, good answers raise it, time decays it to zero.

A peer whose score falls to `ban_threshold` is banned for `ban_seconds`: the service disconnects it and
refuses its streams. Every function takes the time as a parameter; nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from enum import Enum

from network import constants as c
from network.errors import InvalidNetworkConfig


class Offence(Enum):
    """What a peer did wrong; each has a penalty in `ScoreParams.penalties`."""

    MALFORMED_MESSAGE = "malformed_message"
    OVERSIZE_MESSAGE = "oversize_message"
    INVALID_DATA = "invalid_data"
    GOSSIP_REJECT = "gossip_reject"
    RATE_LIMITED = "rate_limited"
    GOSSIP_FLOOD = "gossip_flood"
    """More IGNOREd gossip than the per-peer budget allows (`network.gossip_budget`)."""


def _default_penalties() -> dict[Offence, float]:
    return {
        Offence.MALFORMED_MESSAGE: c.SCORE_MALFORMED_MESSAGE,
        Offence.OVERSIZE_MESSAGE: c.SCORE_OVERSIZE_MESSAGE,
        Offence.INVALID_DATA: c.SCORE_INVALID_DATA,
        Offence.GOSSIP_REJECT: c.SCORE_GOSSIP_REJECT,
        Offence.RATE_LIMITED: c.SCORE_RATE_LIMITED,
        Offence.GOSSIP_FLOOD: c.SCORE_GOSSIP_FLOOD,
    }


@dataclass(frozen=True, slots=True)
class ScoreParams:
    """Penalties (negative), the reward for a good answer, the cap, the ban rule and the decay half-life."""

    penalties: dict[Offence, float] = field(default_factory=_default_penalties)
    good_response: float = c.SCORE_GOOD_RESPONSE
    max_score: float = c.SCORE_MAX
    ban_threshold: float = c.SCORE_BAN_THRESHOLD
    ban_seconds: float = c.BAN_SECONDS
    half_life_seconds: float = c.SCORE_HALF_LIFE_SECONDS
    max_peers: int = c.MAX_SCORED_PEERS
    """Scores kept at most; past it the stalest disconnected peers' scores are dropped."""
    forget_below: float = c.SCORE_FORGET_BELOW
    """A disconnected, unbanned peer's score is dropped once its magnitude has decayed below this."""

    def validate(self) -> ScoreParams:
        """Return self if every field is in range, else raise `InvalidNetworkConfig` naming the field."""
        missing = set(Offence) - set(self.penalties)
        if missing:
            raise InvalidNetworkConfig(
                "penalties", sorted(o.value for o in missing), "every offence needs a penalty"
            )
        for offence, penalty in self.penalties.items():
            if not penalty < 0:
                raise InvalidNetworkConfig(f"penalties[{offence.value}]", penalty, "must be negative")
        if not self.good_response >= 0:
            raise InvalidNetworkConfig("good_response", self.good_response, "must be >= 0")
        if not self.max_score > 0:
            raise InvalidNetworkConfig("max_score", self.max_score, "must be > 0")
        if not self.ban_threshold < 0:
            raise InvalidNetworkConfig("ban_threshold", self.ban_threshold, "must be negative")
        if not self.ban_seconds > 0:
            raise InvalidNetworkConfig("ban_seconds", self.ban_seconds, "must be > 0")
        if not self.half_life_seconds > 0:
            raise InvalidNetworkConfig("half_life_seconds", self.half_life_seconds, "must be > 0")
        if isinstance(self.max_peers, bool) or not isinstance(self.max_peers, int) or self.max_peers < 1:
            raise InvalidNetworkConfig("max_peers", self.max_peers, "must be an integer >= 1")
        if not self.forget_below > 0:
            raise InvalidNetworkConfig("forget_below", self.forget_below, "must be > 0")
        return self


@dataclass(frozen=True, slots=True)
class PeerScore:
    """A peer's score as of `updated_at`, and the end of its ban if it is banned."""

    value: float = 0.0
    updated_at: float = 0.0
    banned_until: float | None = None


def compute_decayed_value(score: PeerScore, now: float, half_life_seconds: float) -> float:
    """The score's value at `now`: halved every `half_life_seconds` (never grows back past zero)."""
    elapsed = max(0.0, now - score.updated_at)
    return score.value * math.pow(0.5, elapsed / half_life_seconds)


def is_banned(score: PeerScore, now: float) -> bool:
    """True while the peer's ban lasts."""
    return score.banned_until is not None and now < score.banned_until


def apply_offence(score: PeerScore, offence: Offence, now: float, params: ScoreParams) -> PeerScore:
    """The score after `offence` at `now`; bans the peer if it reaches the threshold."""
    value = compute_decayed_value(score, now, params.half_life_seconds) + params.penalties[offence]
    banned_until = score.banned_until if is_banned(score, now) else None
    if value <= params.ban_threshold:
        banned_until = now + params.ban_seconds
    return PeerScore(value=value, updated_at=now, banned_until=banned_until)


def apply_good_response(score: PeerScore, now: float, params: ScoreParams) -> PeerScore:
    """The score after a good answer at `now`, capped at `max_score`."""
    value = min(
        params.max_score, compute_decayed_value(score, now, params.half_life_seconds) + params.good_response
    )
    return replace(score, value=value, updated_at=now)


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """What recording an event did: the new score, and whether it started a ban."""

    peer: str
    score: PeerScore
    newly_banned: bool


def is_forgettable(score: PeerScore, now: float, params: ScoreParams) -> bool:
    """True if dropping `score` loses nothing: no ban lasts and its value has decayed to near zero (a
    negative score is so kept until it has faded, and reconnecting does not clear it)."""
    if is_banned(score, now):
        return False
    return abs(compute_decayed_value(score, now, params.half_life_seconds)) < params.forget_below


class ScoreBook:
    """The scores of peers seen lately; the one owner of that state (the service calls it from trio).

    Bounded: `prune` drops what disconnected peers no longer need, and past `params.max_peers` entries
    the disconnected peers updated longest ago are dropped first (a fresh peer id costs at most one
    entry, for a while).
    """

    def __init__(self, params: ScoreParams | None = None) -> None:
        self.params = (params or ScoreParams()).validate()
        self._scores: dict[str, PeerScore] = {}

    def __len__(self) -> int:
        return len(self._scores)

    def prune(self, now: float, connected: Collection[str]) -> list[str]:
        """Drop the scores of disconnected peers that `is_forgettable`, then, past `max_peers`, those of
        disconnected peers oldest first (down to 90% of it); returns the peers dropped."""
        dropped = [
            peer
            for peer, score in self._scores.items()
            if peer not in connected and is_forgettable(score, now, self.params)
        ]
        for peer in dropped:
            del self._scores[peer]
        excess = len(self._scores) - self.params.max_peers
        if excess > 0:  # down to 90% of the bound, so that a flood sorts once per max_peers // 10 ids
            excess += self.params.max_peers // 10
            stale = sorted(
                (score.updated_at, peer) for peer, score in self._scores.items() if peer not in connected
            )
            for _, peer in stale[:excess]:
                del self._scores[peer]
                dropped.append(peer)
        return dropped

    def get(self, peer: str) -> PeerScore:
        """The recorded score of `peer` (zero for a peer never seen)."""
        return self._scores.get(peer, PeerScore())

    def value(self, peer: str, now: float) -> float:
        """The decayed score of `peer` at `now`."""
        return compute_decayed_value(self.get(peer), now, self.params.half_life_seconds)

    def penalize(self, peer: str, offence: Offence, now: float) -> ScoreChange:
        """Record `offence` by `peer` at `now`."""
        before = self.get(peer)
        after = apply_offence(before, offence, now, self.params)
        self._scores[peer] = after
        return ScoreChange(peer, after, newly_banned=is_banned(after, now) and not is_banned(before, now))

    def reward(self, peer: str, now: float) -> ScoreChange:
        """Record a good answer from `peer` at `now`."""
        after = apply_good_response(self.get(peer), now, self.params)
        self._scores[peer] = after
        return ScoreChange(peer, after, newly_banned=False)

    def is_banned(self, peer: str, now: float) -> bool:
        """True while `peer` is banned."""
        return is_banned(self.get(peer), now)
