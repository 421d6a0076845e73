"""One turn at a time per account for work that shares one server (`AccountTurns`): the header a
raw post needs is computed on the encoder pool, which serves in arrival order; with one header per
account in the pool at a time, an account posting on many connections has one header ahead of
another account's, not as many as its share of the queue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class AccountTurns:
    """A lock per account with work waiting or running (owned by the intake, in the trio thread).
    An entry lives while some task holds or waits for its lock; those tasks each hold a place of a
    bounded queue, so the map is bounded by that queue's capacity."""

    def __init__(self) -> None:
        self._turns: dict[str, tuple[trio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, account: str) -> AsyncIterator[None]:
        """Wait until no other task of `account` is inside, then hold the turn for the block."""
        lock, users = self._turns.get(account, (trio.Lock(), 0))
        self._turns[account] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[account]
            if users == 1:
                del self._turns[account]
            else:
                self._turns[account] = (lock, users - 1)

    def __len__(self) -> int:
        """Accounts with a task inside or waiting."""
        return len(self._turns)
