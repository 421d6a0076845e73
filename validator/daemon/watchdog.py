"""The daemon's watchdog: the HTTP API (asyncio) serves until a signal asks it to stop, or until a
part running in the trio thread (the node, the network service) ends on its own. A validator that
cannot disperse, sample or attest must not go on taking blobs: it exits 1, its supervisor restarts
it, and it resumes what it accepted."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class EndedPart:
    """A watched part that ended before the daemon was asked to stop, and why (None: it returned)."""

    name: str
    error: BaseException | None


async def serve_until_stopped(stop: asyncio.Event, parts: dict[str, Future[Any]]) -> list[EndedPart]:
    """Wait for `stop`, or for any of `parts` (concurrent futures of the trio side) to finish; the
    parts that finished on their own (empty when `stop` came first), each logged."""
    stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
    watched = {asyncio.wrap_future(future): name for name, future in parts.items()}
    try:
        done, _ = await asyncio.wait({stopping, *watched}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    ended = []
    for future, name in watched.items():
        if future in done:
            error = None if future.cancelled() else future.exception()
            log.error("validator part ended on its own; exiting", part=name, error=repr(error))
            ended.append(EndedPart(name, error))
    return ended
