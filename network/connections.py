"""The connection manager's rules (pure): which connections a node keeps, given who they are from.

Validators (peers the registry lists; the daemon says which through `is_protected`) and the peers
this node dialled itself are always admitted and never pruned. Every other connection counts
against a total cap and a cap per remote IP; a connection past either cap is closed at once,
except that at the total cap the longest-idle unprotected connection (no open stream for at least
`idle_seconds`) makes room for the new one. An unprotected connection with no open stream for
`idle_seconds` is pruned. Times are parameters: nothing here reads a clock
(`specs/p2p-interface.md`, Connection manager).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from network import constants as c
from network.errors import InvalidNetworkConfig
from network.types import PeerName

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The connection manager's bounds (defaults and reasons: specs/validator.md, Resources and retention)."""

    max_connections: int = c.MAX_UNPROTECTED_CONNECTIONS
    """Connections to peers that are not validators (light clients, followers), in and out."""
    max_connections_per_ip: int = c.MAX_UNPROTECTED_CONNECTIONS_PER_IP
    """Of those, from one remote IP address."""
    max_sockets: int = c.MAX_SOCKETS
    """Every connection, validators' included, and every inbound socket still in its handshake: py-libp2p's
    own hard cap (its `max_connections`), a backstop above the two caps above."""
    idle_seconds: float = c.IDLE_CONNECTION_SECONDS
    """An unprotected connection with no open stream for this long is closed."""

    def validate(self) -> ConnectionLimits:
        """Return self if in range, else raise `InvalidNetworkConfig` naming the field."""
        for name in ("max_connections", "max_connections_per_ip", "max_sockets"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidNetworkConfig(name, value, "must be an integer >= 1")
        if self.max_connections_per_ip > self.max_connections:
            raise InvalidNetworkConfig(
                "max_connections_per_ip", self.max_connections_per_ip, "must be <= max_connections"
            )
        if self.max_sockets <= self.max_connections:
            raise InvalidNetworkConfig(
                "max_sockets", self.max_sockets, "must be above max_connections (validators need room)"
            )
        if isinstance(self.idle_seconds, bool) or not self.idle_seconds > 0:
            raise InvalidNetworkConfig("idle_seconds", self.idle_seconds, "must be a positive number")
        return self


class Admission(Enum):
    """What becomes of a new connection."""

    PROTECTED = "protected"
    """A validator's: kept whatever the counts."""
    ADMITTED = "admitted"
    REFUSED_PER_IP = "refused_per_ip"
    REFUSED_TOTAL = "refused_total"


@dataclass(frozen=True, slots=True)
class Decision(Generic[K]):
    """The admission of one connection, and the idle connection closed to make room for it (if any)."""

    admission: Admission
    evicted: K | None = None

    @property
    def kept(self) -> bool:
        """True if the new connection stays open."""
        return self.admission in (Admission.PROTECTED, Admission.ADMITTED)


@dataclass(slots=True)
class _Entry:
    peer: PeerName
    ip: str | None
    protected: bool
    idle_since: float | None


class ConnectionBook(Generic[K]):
    """The open connections by key (the service uses the connection objects), their peers and IPs,
    and since when each has had no stream; the one owner of that state (the service's trio thread)."""

    def __init__(self, limits: ConnectionLimits, is_protected: Callable[[PeerName], bool]) -> None:
        self.limits = limits.validate()
        self._is_protected = is_protected
        self._entries: dict[K, _Entry] = {}
        self._per_ip: dict[str, int] = {}
        self._unprotected = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def unprotected(self) -> int:
        """Open connections to peers that are not validators."""
        return self._unprotected

    def connections(self) -> list[K]:
        """The open connections recorded."""
        return list(self._entries)

    def count_from(self, ip: str) -> int:
        """Open unprotected connections from `ip`."""
        return self._per_ip.get(ip, 0)

    def connected(
        self, key: K, peer: PeerName, ip: str | None, now: float, *, dialled: bool = False
    ) -> Decision[K]:
        """Decide on a new connection; a kept one is recorded (an evicted one is forgotten: close it).
        A connection this node `dialled` is kept like a validator's: the caps bound what others open."""
        if key in self._entries:
            return Decision(Admission.PROTECTED if self._entries[key].protected else Admission.ADMITTED)
        if dialled or self._is_protected(peer):
            self._entries[key] = _Entry(peer, ip, protected=True, idle_since=None)
            return Decision(Admission.PROTECTED)
        if ip is not None and self.count_from(ip) >= self.limits.max_connections_per_ip:
            return Decision(Admission.REFUSED_PER_IP)
        evicted: K | None = None
        if self._unprotected >= self.limits.max_connections:
            evicted = self._longest_idle(now)
            if evicted is None:
                return Decision(Admission.REFUSED_TOTAL)
            self.disconnected(evicted)
        self._entries[key] = _Entry(peer, ip, protected=False, idle_since=now)
        self._unprotected += 1
        if ip is not None:
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        return Decision(Admission.ADMITTED, evicted)

    def is_stranger(self, key: K) -> bool:
        """True unless `key` is a validator's connection or one we dialled (a refused, evicted or
        pruned connection is no longer recorded: a stranger's too)."""
        entry = self._entries.get(key)
        return entry is None or not entry.protected

    def disconnected(self, key: K) -> None:
        """Forget a closed connection (unknown keys are ignored: a refused one was never recorded)."""
        entry = self._entries.pop(key, None)
        if entry is None or entry.protected:
            return
        self._unprotected -= 1
        if entry.ip is not None:
            left = self._per_ip[entry.ip] - 1
            if left:
                self._per_ip[entry.ip] = left
            else:
                del self._per_ip[entry.ip]

    def observe(self, key: K, open_streams: int, now: float) -> None:
        """Note how many streams `key` has open at `now` (an idle period starts when none is seen)."""
        entry = self._entries.get(key)
        if entry is None:
            return
        if open_streams:
            entry.idle_since = None
        elif entry.idle_since is None:
            entry.idle_since = now

    def compute_idle(self, now: float) -> list[K]:
        """Unprotected connections idle for at least `idle_seconds` at `now`: to be closed."""
        return [
            key
            for key, entry in self._entries.items()
            if not entry.protected
            and entry.idle_since is not None
            and now - entry.idle_since >= self.limits.idle_seconds
        ]

    def _longest_idle(self, now: float) -> K | None:
        idle = [
            (entry.idle_since, index, key)
            for index, (key, entry) in enumerate(self._entries.items())
            if not entry.protected
            and entry.idle_since is not None
            and now - entry.idle_since >= self.limits.idle_seconds
        ]
        return min(idle)[2] if idle else None


class EventCounter:
    """What the network layer refused or dropped, by kind (`connection_refused_per_ip`,
    `gossip_validation_dropped`, ...; specs/p2p-interface.md lists them). `on_count` mirrors each
    event into the owner's metrics (thread-safe Prometheus counters in the daemon)."""

    def __init__(self, on_count: Callable[[str], None] | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self._on_count = on_count

    def add(self, kind: str) -> None:
        """Count one event of `kind`."""
        self.counts[kind] += 1
        if self._on_count is not None:
            self._on_count(kind)

    def __getitem__(self, kind: str) -> int:
        return self.counts[kind]
