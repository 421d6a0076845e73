"""The one owner of encoded blobs held in memory (the extended matrix of each, about 2.4 MiB per MiB
of blob): blobs this node disperses, held from encoding until certified or until their dispersal
fails (the core's `NOT_CERTIFIED`, or an unknown quorum), at most `max_dispersing` of them (the
intake refuses posts past it, and past an account's fair share of them: each is held for the account
that posted it), and a small LRU of blobs it encoded, rebuilt from the store when
their cells are asked for. Pruned blobs are forgotten.

Intake (trio thread), the core's transport (its worker thread) and the request handlers (trio
worker threads) reach them only through these methods, under one lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from da import EncodedBlob
from da.types import CellCoordinate, DataRoot, Sample
from validator.daemon.store import NodeStore

RECENT_BLOBS = 4
"""Certified blobs whose whole extension stays in memory for serving."""
MAX_DISPERSING = 32
"""Encoded blobs held while they are dispersed (2.4 MiB each per MiB of blob)."""


class Extensions:
    """Encoded blobs: held while dispersing, then recently served ones (bounded by `recent`)."""

    def __init__(
        self, store: NodeStore, recent: int = RECENT_BLOBS, max_dispersing: int = MAX_DISPERSING
    ) -> None:
        self._store = store
        self._recent_bound = recent
        self.max_dispersing = max_dispersing
        self._lock = threading.Lock()
        self._dispersing: dict[DataRoot, EncodedBlob] = {}
        self._owners: dict[DataRoot, str] = {}
        """The account each blob dispersing is held for (the same keys as `_dispersing`)."""
        self._per_account: dict[str, int] = {}
        """Blobs dispersing per account; accounts holding none are absent."""
        self._recent: OrderedDict[DataRoot, EncodedBlob] = OrderedDict()

    def hold(self, encoded: EncodedBlob, account: str) -> None:
        """Keep `encoded` in memory while it is dispersed (custody pushes read its columns), for
        `account` (a blob held already stays its first account's)."""
        with self._lock:
            if encoded.data_root not in self._owners:
                self._owners[encoded.data_root] = account
                self._per_account[account] = self._per_account.get(account, 0) + 1
            self._dispersing[encoded.data_root] = encoded

    def release(self, data_root: DataRoot) -> None:
        """Dispersal of `data_root` is over (certified, or failed): its cells are served from the
        store now."""
        with self._lock:
            self._drop_dispersing(data_root)

    def _drop_dispersing(self, data_root: DataRoot) -> None:
        """Under the lock: `data_root` is no longer dispersing, nor counted for its account."""
        self._dispersing.pop(data_root, None)
        account = self._owners.pop(data_root, None)
        if account is None:
            return
        held = self._per_account[account]
        if held == 1:
            del self._per_account[account]
        else:
            self._per_account[account] = held - 1

    def dispersing_per_account(self) -> dict[str, int]:
        """How many blobs each account has dispersing (a snapshot; accounts with none absent)."""
        with self._lock:
            return dict(self._per_account)

    def forget(self, data_roots: Sequence[DataRoot]) -> None:
        """These blobs were pruned: hold none of them any more."""
        with self._lock:
            for data_root in data_roots:
                self._drop_dispersing(data_root)
                self._recent.pop(data_root, None)

    @property
    def held(self) -> tuple[int, int]:
        """(dispersing, recent): how many blobs each map holds."""
        with self._lock:
            return len(self._dispersing), len(self._recent)

    def dispersing(self, data_root: DataRoot) -> EncodedBlob | None:
        """The blob being dispersed under `data_root`, if this node holds it."""
        with self._lock:
            return self._dispersing.get(data_root)

    def cached_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[Sample | None] | None:
        """The asked cells from memory (a blob dispersing or recently served); None if not held."""
        encoded = self._held(data_root)
        return None if encoded is None else _cells_of(encoded, coordinates)

    def get_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[Sample | None] | None:
        """Every asked cell of a blob this node encoded (from memory, or rebuilt from the stored
        extension and kept as recent), None per cell outside its matrix; None if it has no
        extension of it."""
        encoded = self._held(data_root)
        if encoded is None:
            encoded = self._store.get_extension(data_root)  # blocking read: outside the lock
            if encoded is None:
                return None
            if self._recent_bound == 0:
                return _cells_of(encoded, coordinates)
            with self._lock:
                self._recent[data_root] = encoded
                while len(self._recent) > self._recent_bound:
                    self._recent.popitem(last=False)
        return _cells_of(encoded, coordinates)

    def _held(self, data_root: DataRoot) -> EncodedBlob | None:
        with self._lock:
            encoded = self._dispersing.get(data_root)
            if encoded is None:
                encoded = self._recent.get(data_root)
                if encoded is not None:
                    self._recent.move_to_end(data_root)
            return encoded


def _cells_of(encoded: EncodedBlob, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
    rows = len(encoded.rows)
    return [encoded.get_sample(c) if c.row < rows else None for c in coordinates]
