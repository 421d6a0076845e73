"""The `follow` backlog: data roots waiting to be sampled, bounded, keeping the newest. Pure, no I/O.

Certificates arrive from gossip faster than they can be sampled during a burst. The backlog never
refuses an arrival (the gossip drain must never block): when it is full, the *oldest* waiting root
is dropped and counted, so the client keeps up with what is new and reports how far behind it is.
Roots are handed out oldest first. Time is a parameter (`now`, seconds); nothing here reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from da.types import DataRoot
from sampling.errors import InvalidSamplingParameter

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Lag:
    """How far behind the client is: roots waiting, and how long the oldest has waited."""

    count: int
    seconds: float
    dropped: int


@dataclass(frozen=True, slots=True)
class Waiting(Generic[T]):
    """One waiting root, what came with it, and when it arrived."""

    data_root: DataRoot
    item: T
    arrived_at: float


class Backlog(Generic[T]):
    """A bounded FIFO of data roots; a root already waiting or in progress is not added twice."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise InvalidSamplingParameter("capacity", capacity, "a backlog holds at least 1 root")
        self.capacity = capacity
        self._waiting: OrderedDict[DataRoot, Waiting[T]] = OrderedDict()
        self._active: dict[DataRoot, float] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def __contains__(self, root: object) -> bool:
        return root in self._waiting or root in self._active

    def push(self, data_root: DataRoot, item: T, now: float) -> DataRoot | None:
        """Add a root (ignored if already waiting or active); returns the root dropped to make room."""
        if data_root in self:
            return None
        dropped: DataRoot | None = None
        if len(self._waiting) >= self.capacity:
            dropped, _ = self._waiting.popitem(last=False)
            self.dropped += 1
        self._waiting[data_root] = Waiting(data_root, item, now)
        return dropped

    def pop(self, now: float) -> Waiting[T] | None:
        """The oldest waiting root, now marked active; None when nothing waits."""
        if not self._waiting:
            return None
        _, waiting = self._waiting.popitem(last=False)
        self._active[waiting.data_root] = now
        return waiting

    def done(self, data_root: DataRoot) -> None:
        """The active root is finished (or abandoned); it may be pushed again later."""
        self._active.pop(data_root, None)

    def is_waiting(self, data_root: DataRoot) -> bool:
        """True while `data_root` waits to be sampled."""
        return data_root in self._waiting

    @property
    def active(self) -> frozenset[DataRoot]:
        """Roots being sampled now."""
        return frozenset(self._active)

    def lag(self, now: float) -> Lag:
        """Waiting count, the oldest wait in seconds, and how many roots were dropped in all."""
        oldest = next(iter(self._waiting.values()), None)
        seconds = 0.0 if oldest is None else max(0.0, now - oldest.arrived_at)
        return Lag(count=len(self._waiting), seconds=seconds, dropped=self.dropped)
