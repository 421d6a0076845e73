"""The daemon's view of its registry's health. Every read the daemon makes of the registry goes
through `WatchedRegistry`, which tells `RegistryHealth` whether the registry answered: the node keeps
serving while it does not (what it knows stays usable), `GET /v1/health` says `registry: stale` and
`tessera_registry_stale` is 1, until a read succeeds again (specs/validator.md, Restarts and a
failing registry)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog

from validator.daemon.metrics import NodeMetrics
from validator.errors import RegistryError, RegistryUnavailable, UnknownEpoch
from validator.registry import ValidatorRegistry
from validator.registry.port import RegistryInfo
from validator.types import Ballot, Epoch, EpochContext

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """A snapshot of the registry's health: `stale` from the first failed read until one succeeds;
    `stale_seconds` how long that has lasted, `failures` the failed reads since, `error` the last."""

    stale: bool
    stale_seconds: float = 0.0
    failures: int = 0
    error: str | None = None


class RegistryHealth:
    """Whether the registry answers (one per node; updated from any thread under its lock)."""

    def __init__(self, metrics: NodeMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._stale_since: float | None = None
        self._failures = 0
        self._error: str | None = None
        metrics.registry_stale.set(0)

    def answered(self) -> None:
        """A read succeeded (or the registry answered with a refusal): it is fresh again."""
        with self._lock:
            was_stale, failures = self._stale_since is not None, self._failures
            self._stale_since, self._failures, self._error = None, 0, None
        if was_stale:
            self._metrics.registry_stale.set(0)
            log.info("registry answers again", failed_reads=failures)

    def failed(self, error: BaseException) -> None:
        """A read failed: the registry is stale from now (or still)."""
        with self._lock:
            became_stale = self._stale_since is None
            if became_stale:
                self._stale_since = self._clock()
            self._failures += 1
            self._error = f"{type(error).__name__}: {error}"
        self._metrics.errors.labels(kind="registry_unavailable").inc()
        if became_stale:
            self._metrics.registry_stale.set(1)
            log.warning("registry stale: serving from what is known", error=str(error))

    def status(self) -> RegistryStatus:
        """The current snapshot."""
        with self._lock:
            if self._stale_since is None:
                return RegistryStatus(stale=False)
            return RegistryStatus(True, self._clock() - self._stale_since, self._failures, self._error)


class WatchedRegistry:
    """A `ValidatorRegistry` that reports every read's outcome to `health`. A backend exception
    that is not a `RegistryError` is raised as `RegistryUnavailable` (so callers handle one type);
    `UnknownEpoch` is an answer, not a failure."""

    def __init__(self, registry: ValidatorRegistry, health: RegistryHealth) -> None:
        self._registry = registry
        self._health = health

    def _read(self, what: str, read: Callable[[], T]) -> T:
        try:
            value = read()
        except UnknownEpoch:
            self._health.answered()
            raise
        except RegistryError as error:
            self._health.failed(error)
            raise
        except Exception as error:  # a backend's untyped failure becomes the port's type
            self._health.failed(error)
            raise RegistryUnavailable(f"{what}: {type(error).__name__}: {error}") from error
        self._health.answered()
        return value

    def get_info(self) -> RegistryInfo:
        """The registry's genesis facts."""
        return self._read("registry info", self._registry.get_info)

    def current_epoch(self) -> Epoch:
        """The epoch now, by the registry's clock."""
        return self._read("current epoch", self._registry.current_epoch)

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """The context of `epoch` (`UnknownEpoch` when it is not fixed yet)."""
        return self._read(f"context of epoch {epoch}", lambda: self._registry.get_epoch_context(epoch))

    def put_ballot(self, ballot: Ballot) -> None:
        """Cast a ballot; a refusal (`RegistryError`) says nothing about freshness and is raised as is."""
        try:
            self._registry.put_ballot(ballot)
        except RegistryError:
            raise
        except Exception as error:  # a backend's untyped failure becomes the port's type
            self._health.failed(error)
            raise RegistryUnavailable(f"ballot: {type(error).__name__}: {error}") from error
