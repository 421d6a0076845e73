"""Backing off from slow peers (pure): a timeout is not an offence. A peer that timed out is asked
again only after a pause that doubles with each consecutive timeout (up to a cap), and any answer
ends the pause. A busy honest peer is so given room instead of being banned (specs/p2p-interface.md,
Slow peers); only wrong data lowers a score."""

from __future__ import annotations

from dataclasses import dataclass

from network import constants as c
from network.errors import InvalidNetworkConfig


@dataclass(frozen=True, slots=True)
class BackoffParams:
    """The first pause after a timeout and the longest one, in seconds."""

    base_seconds: float = c.BACKOFF_BASE_MILLISECONDS / 1000
    max_seconds: float = c.BACKOFF_MAX_MILLISECONDS / 1000

    def validate(self) -> BackoffParams:
        """Return self if in range, else raise `InvalidNetworkConfig` naming the field."""
        if not self.base_seconds > 0:
            raise InvalidNetworkConfig("backoff_base_seconds", self.base_seconds, "must be > 0")
        if not self.max_seconds >= self.base_seconds:
            raise InvalidNetworkConfig("backoff_max_seconds", self.max_seconds, "must be >= base")
        return self


@dataclass(frozen=True, slots=True)
class Backoff:
    """Consecutive timeouts of one peer, and when the pause after the last one ends."""

    timeouts: int = 0
    until: float = 0.0


def compute_backoff_after_timeout(backoff: Backoff, now: float, params: BackoffParams) -> Backoff:
    """The pause after one more timeout at `now`: base * 2**(timeouts so far), at most the cap."""
    pause = min(params.base_seconds * 2**backoff.timeouts, params.max_seconds)
    return Backoff(timeouts=backoff.timeouts + 1, until=max(backoff.until, now + pause))


def compute_backoff_remaining(backoff: Backoff, now: float) -> float:
    """Seconds until `peer` may be asked again (0 when it may be asked now)."""
    return max(0.0, backoff.until - now)


class BackoffBook:
    """Every peer's backoff; a peer with no timeout since its last answer has none."""

    def __init__(self, params: BackoffParams | None = None) -> None:
        self.params = (params or BackoffParams()).validate()
        self._backoffs: dict[str, Backoff] = {}

    def timed_out(self, peer: str, now: float) -> Backoff:
        """Record a timeout of `peer`; returns its new backoff."""
        after = compute_backoff_after_timeout(self._backoffs.get(peer, Backoff()), now, self.params)
        self._backoffs[peer] = after
        return after

    def answered(self, peer: str) -> None:
        """`peer` answered: its pause ends and the next timeout starts from the base again."""
        self._backoffs.pop(peer, None)

    def __len__(self) -> int:
        return len(self._backoffs)

    def prune(self, now: float, max_peers: int) -> None:
        """Drop backoffs whose pause ended at least `max_seconds` ago (the next timeout of such a peer
        starts from the base again, as after an answer), then, past `max_peers`, those ending first
        (down to 90% of it)."""
        for peer in [p for p, b in self._backoffs.items() if now - b.until >= self.params.max_seconds]:
            del self._backoffs[peer]
        excess = len(self._backoffs) - max_peers
        if excess > 0:
            ending = sorted((backoff.until, peer) for peer, backoff in self._backoffs.items())
            for _, peer in ending[: excess + max_peers // 10]:
                del self._backoffs[peer]

    def remaining(self, peer: str, now: float) -> float:
        """Seconds to wait before asking `peer`."""
        backoff = self._backoffs.get(peer)
        return 0.0 if backoff is None else compute_backoff_remaining(backoff, now)
