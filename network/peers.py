"""The peer guard: records offences and good answers in the `ScoreBook` and asks the service to ban;
records timeouts in the `BackoffBook` (a slow peer is waited for, not punished)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from network.backoff import Backoff, BackoffBook, BackoffParams
from network.errors import PeerBanned
from network.scoring import Offence, ScoreBook, ScoreParams
from network.types import PeerName

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
"""Wall-clock seconds (time.time in production; tests may pass their own)."""


class PeerGuard:
    """Scores peers; calls `on_ban(peer)` once when a peer crosses the ban threshold."""

    def __init__(
        self,
        params: ScoreParams,
        clock: Clock,
        on_ban: Callable[[PeerName], None],
        backoff: BackoffParams | None = None,
    ) -> None:
        self.book = ScoreBook(params)
        self.backoffs = BackoffBook(backoff)
        self._clock = clock
        self._on_ban = on_ban
        self._connected: dict[PeerName, int] = {}
        """Open connections per peer (the service's notifee tells): a connected peer's score is kept."""

    def peer_connected(self, peer: PeerName) -> None:
        """A connection to `peer` opened."""
        self._connected[peer] = self._connected.get(peer, 0) + 1

    def peer_disconnected(self, peer: PeerName) -> None:
        """A connection to `peer` closed; once it has none, its state may be pruned."""
        left = self._connected.get(peer, 0) - 1
        if left > 0:
            self._connected[peer] = left
        else:
            self._connected.pop(peer, None)

    def prune(self) -> list[str]:
        """Drop what disconnected peers no longer need (faded scores, ended backoffs), and past the
        bound the stalest; returns the peers whose scores were dropped. The service runs it
        periodically (`NetworkConfig.maintenance_seconds`) and whenever the book passes its bound."""
        now = self._clock()
        self.backoffs.prune(now, self.book.params.max_peers)
        return self.book.prune(now, self._connected)

    @property
    def tracked(self) -> int:
        """Peers with a score or a backoff held (for metrics and tests)."""
        return len(self.book) + len(self.backoffs)

    def _bound(self) -> None:
        if len(self.book) > self.book.params.max_peers:
            self.prune()

    def timed_out(self, peer: PeerName) -> Backoff:
        """`peer` did not answer in time: back off from it (its score is untouched)."""
        backoff = self.backoffs.timed_out(peer, self._clock())
        if len(self.backoffs) > self.book.params.max_peers:
            self.backoffs.prune(self._clock(), self.book.params.max_peers)
        log.info(
            "peer slow, backing off", peer=peer, timeouts=backoff.timeouts, until=round(backoff.until, 3)
        )
        return backoff

    def answered(self, peer: PeerName) -> None:
        """`peer` answered (whatever the answer): its backoff ends."""
        self.backoffs.answered(peer)

    def backoff_seconds(self, peer: PeerName) -> float:
        """Seconds to wait before the next request to `peer`."""
        return self.backoffs.remaining(peer, self._clock())

    def penalize(self, peer: PeerName, offence: Offence) -> None:
        """Lower `peer`'s score for `offence`; ban it if it falls to the threshold."""
        change = self.book.penalize(peer, offence, self._clock())
        self._bound()
        log.info("peer penalized", peer=peer, offence=offence.value, score=round(change.score.value, 2))
        if change.newly_banned:
            log.warning("peer banned", peer=peer, until=change.score.banned_until)
            self._on_ban(peer)

    def reward(self, peer: PeerName) -> None:
        """Raise `peer`'s score after a good answer."""
        self.book.reward(peer, self._clock())
        self._bound()

    def is_banned(self, peer: PeerName) -> bool:
        """True while `peer` is banned."""
        return self.book.is_banned(peer, self._clock())

    def check_not_banned(self, peer: PeerName) -> None:
        """Raise `PeerBanned` if `peer` is banned."""
        score = self.book.get(peer)
        if self.book.is_banned(peer, self._clock()) and score.banned_until is not None:
            raise PeerBanned(peer, score.banned_until)

    def score(self, peer: PeerName) -> float:
        """`peer`'s current (decayed) score."""
        return self.book.value(peer, self._clock())
