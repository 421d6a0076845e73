"""Per-peer budget of IGNOREd gossip (pure): an IGNORE costs this node a decode and a registry lookup
but, unlike a REJECT, proves nothing against the forwarder. Each peer may forward `rate` of them per
second on average, `burst` at once; past that its messages are dropped before validation and each one
is charged (`Offence.GOSSIP_FLOOD`). Times are parameters; nothing here reads a clock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_at: float


class IgnoreBudget:
    """Token buckets per forwarding peer; a full bucket is forgotten (`prune`), and past `max_peers`
    buckets the stalest are dropped, so a fresh peer id costs one entry for a while."""

    def __init__(self, rate: float, burst: int, max_peers: int) -> None:
        if not rate > 0 or burst < 1 or max_peers < 1:
            raise ValueError(f"rate must be > 0, burst and max_peers >= 1: {rate}, {burst}, {max_peers}")
        self.rate = rate
        self.burst = burst
        self.max_peers = max_peers
        self._buckets: dict[str, _Bucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, peer: str, now: float) -> float:
        bucket = self._buckets.get(peer)
        if bucket is None:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + max(0.0, now - bucket.updated_at) * self.rate)

    def is_exhausted(self, peer: str, now: float) -> bool:
        """True if `peer` has no IGNORE left to spend at `now` (its messages are dropped unvalidated)."""
        return self._tokens(peer, now) < 1

    def charge(self, peer: str, now: float) -> None:
        """`peer` forwarded a message that was IGNOREd at `now`."""
        self._buckets[peer] = _Bucket(self._tokens(peer, now) - 1, now)
        if len(self._buckets) > self.max_peers:
            self.prune(now)

    def prune(self, now: float) -> None:
        """Forget full buckets; past `max_peers`, drop the stalest down to 90% of it."""
        for peer in [p for p in self._buckets if self._tokens(p, now) >= self.burst]:
            del self._buckets[peer]
        excess = len(self._buckets) - self.max_peers
        if excess > 0:
            stale = sorted((bucket.updated_at, peer) for peer, bucket in self._buckets.items())
            for _, peer in stale[: excess + self.max_peers // 10]:
                del self._buckets[peer]
