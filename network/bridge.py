"""The bridge for asyncio code: the trio host runs in its own thread behind an anyio blocking portal.

aiohttp (asyncio, main thread) awaits `bridge.call(fn, *args)`: `fn` runs as a task in the trio thread;
its result or exception comes back to the awaiting coroutine, and cancelling that coroutine (a client
that hangs up, with `handler_cancellation=True`) cancels the trio task. Shut down in the order
DESIGN.md gives: aiohttp first, then the host (`stop`), which also closes the portal and its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from types import TracebackType
from typing import TypeVar

import structlog
from anyio.from_thread import BlockingPortal, start_blocking_portal

from network.errors import ServiceNotRunning
from network.service import NetworkService

log = structlog.get_logger(__name__)
T = TypeVar("T")

STOP_TIMEOUT_SECONDS = 10.0


class TrioBridge:
    """Owns the portal thread and the `NetworkService` running in it."""

    def __init__(self, service: NetworkService) -> None:
        self.service = service
        self._portal_context: contextlib.AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._run: Future[None] | None = None

    def start(self) -> None:
        """Start the trio thread and the host; returns once the host listens (blocking call, ~50 ms).

        Errors from the host's start (a listen address in use, ...) are raised here.
        """
        if self._portal is not None:
            return
        context = start_blocking_portal(backend="trio", name="tessera-libp2p")
        portal = context.__enter__()
        try:
            self._run, _ = portal.start_task(self.service.run, name="network-service")
        except BaseException:
            context.__exit__(None, None, None)
            raise
        self._portal_context, self._portal = context, portal
        log.info("bridge started", peer=self.call_sync(lambda: self.service.peer_id))

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop the host, then the portal and its thread (blocking call; safe to repeat)."""
        portal, context, run = self._portal, self._portal_context, self._run
        if portal is None or context is None or run is None:
            return
        self._portal = self._portal_context = self._run = None
        try:
            portal.call(self.service.stop)
            try:
                run.result(timeout=timeout)
            except FutureTimeoutError:
                log.error("network service did not stop in time; cancelling it", seconds=timeout)
                run.cancel()
        finally:
            context.__exit__(None, None, None)
        log.info("bridge stopped")

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._portal is not None

    @property
    def service_run(self) -> Future[None]:
        """The service's run in the trio thread: done when it stopped or crashed (watch it to exit)."""
        if self._run is None:
            raise ServiceNotRunning("the trio bridge is not running")
        return self._run

    def _require_portal(self) -> BlockingPortal:
        if self._portal is None:
            raise ServiceNotRunning("the trio bridge is not running")
        return self._portal

    async def call(self, function: Callable[..., Awaitable[T]], *args: object) -> T:
        """Await `function(*args)` run in the trio thread (asyncio side); cancellation and errors cross."""
        future = self._require_portal().start_task_soon(function, *args)
        return await asyncio.wrap_future(future)

    def start_task(self, function: Callable[..., Awaitable[object]], name: str) -> Future[object]:
        """Start a long-running task in the trio thread (blocking until it called `task_status.started`).

        Returns the task's concurrent future; the task is cancelled when the portal stops.
        """
        future, _ = self._require_portal().start_task(function, name=name)
        return future

    def call_sync(self, function: Callable[[], T]) -> T:
        """Run a plain function in the trio thread and return its result (blocking call)."""
        return self._require_portal().call(function)

    def __enter__(self) -> TrioBridge:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
