"""`das light follow`: sample every certificate announced on gossip, persist the results, show the lag.

One owner (`Follower`, in the trio thread) holds the state; its tasks are:

- the certificate drain: reads the gossip subscription (already validated against the registry by
  `RegistryCertificateValidator`) and pushes data roots into the bounded `sampling.Backlog`, which
  drops the oldest when full. It never awaits anything but the next message, so it never blocks;
- `workers` samplers: take the oldest waiting root, get its header, run sampling rounds, store the
  result (`sampling.ResultStore`, in a worker thread);
- the persister: writes arrivals to the store's pending table in batches, so a restart resumes them;
  a root with a stored result is never sampled again.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
import trio

from da.errors import DAError
from da.kzg import CellVerifier
from da.types import ColumnIndex, DataRoot
from network.errors import NetworkError
from network.service import NetworkService
from network.types import GossipMessage, PeerName
from sampling.backlog import Backlog
from sampling.client.assignment import RegistryView
from sampling.client.defaults import (
    DEFAULT_FOLLOW_BACKLOG,
    DEFAULT_FOLLOW_WORKERS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PARALLEL_REQUESTS,
    DEFAULT_PEER_TIMEOUT_SECONDS,
    DEFAULT_TARGET_CONFIDENCE,
    ROOT_DEADLINE_SECONDS,
)
from sampling.client.directory import CustodyDirectory, is_peer_id, split_multiaddr
from sampling.client.errors import LightClientError
from sampling.client.headers import fetch_header_from_peers
from sampling.client.rounds import RoundRunner, SamplingStats
from sampling.errors import SamplingError
from sampling.sampler import Sampler, SamplingSummary
from sampling.store import PendingRoot, ResultStore, StoredResult
from validator.certificate import bytes_to_certificate
from validator.errors import MalformedCertificate, ValidatorError
from validator.types import Epoch

if TYPE_CHECKING:
    from trio_typing import TaskStatus

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FollowOptions:
    """How `follow` samples (see `das light follow --help`)."""

    target: float = DEFAULT_TARGET_CONFIDENCE
    timeout: float = DEFAULT_PEER_TIMEOUT_SECONDS
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    parallel: int = DEFAULT_PARALLEL_REQUESTS
    workers: int = DEFAULT_FOLLOW_WORKERS
    """Data roots sampled at once."""
    backlog: int = DEFAULT_FOLLOW_BACKLOG
    """Roots waiting at most; beyond it the oldest is dropped (and counted as lag)."""
    root_deadline: float = ROOT_DEADLINE_SECONDS
    """Seconds one root may take before its open cells count as missing."""


@dataclass
class ActiveRoot:
    """A root being sampled: a snapshot of its progress for the status API."""

    started_at: float
    summary: SamplingSummary | None = None
    column_failures: dict[ColumnIndex, int] = field(default_factory=dict)


ResultCallback = Callable[[StoredResult, float, SamplingStats | None], None]
"""Called with each stored result, the seconds it took, and the network stats of its run."""


class Follower:
    """Follows the certificate topic of one network; call `run` inside the service's trio run."""

    def __init__(
        self,
        service: NetworkService,
        view: RegistryView,
        store: ResultStore,
        verifier: CellVerifier,
        options: FollowOptions | None = None,
        *,
        bootstrap: tuple[PeerName, ...] = (),
        on_result: ResultCallback | None = None,
        on_skipped: Callable[[DataRoot], None] | None = None,
        clock: Callable[[], float] = time.time,
        chooser: random.Random | None = None,
    ) -> None:
        self._service = service
        self._view = view
        self._store = store
        self._verifier = verifier
        self.options = options or FollowOptions()
        self._bootstrap = bootstrap
        self._on_result = on_result
        self._on_skipped = on_skipped
        self._clock = clock
        self._chooser = chooser if chooser is not None else secrets.SystemRandom()
        self.backlog: Backlog[bytes] = Backlog(self.options.backlog)
        self.active: dict[DataRoot, ActiveRoot] = {}
        self._work = trio.lowlevel.ParkingLot()
        self._to_persist = trio.lowlevel.ParkingLot()
        self._pending_added: list[PendingRoot] = []
        self._pending_removed: list[DataRoot] = []
        self.started_at = clock()
        self.resumed: tuple[DataRoot, ...] = ()
        """Roots taken from the store's pending table when `run` started (a worker may have taken
        them out of the backlog already, so `len(backlog)` does not count them)."""
        self.followed = 0
        """Certificates accepted from gossip (or resumed) during this run."""
        self.finished = 0
        """Roots sampled to the end during this run."""
        self.skipped_finished = 0
        """Roots received again after their result was stored: not sampled again."""
        self.failed = 0
        """Roots that could not be sampled at all (no header, certificate no longer verifies)."""

    # --- tasks ----------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Resume pending roots, subscribe, and sample until cancelled."""
        certificates = self._service.subscribe(self._service.config.certificate_topic)
        pending_roots = await trio.to_thread.run_sync(self._store.get_pending)
        self.resumed = tuple(pending.data_root for pending in pending_roots)
        for pending in pending_roots:
            self.offer(pending.data_root, pending.payload, pending.arrived_at, persist=False)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._drain_certificates, certificates)
                nursery.start_soon(self._persist)
                for _ in range(self.options.workers):
                    nursery.start_soon(self._worker)
                task_status.started()
        finally:
            self._flush_pending()

    def _flush_pending(self) -> None:
        """Write arrivals not yet persisted (on the way out: a short synchronous write)."""
        added, self._pending_added = self._pending_added, []
        removed, self._pending_removed = self._pending_removed, []
        if added or removed:
            self._store.update_pending(added, removed)

    async def _drain_certificates(self, channel: trio.MemoryReceiveChannel[GossipMessage]) -> None:
        async with channel:
            async for message in channel:
                try:
                    data_root = bytes_to_certificate(message.data).data_root
                except MalformedCertificate:
                    continue  # gossip validation rejects these; a defensive net
                self.offer(data_root, message.data, self._clock())

    def offer(self, data_root: DataRoot, certificate: bytes, now: float, *, persist: bool = True) -> None:
        """Queue a root with its (verified) certificate; synchronous, so the gossip drain never waits.

        When the backlog is full the oldest waiting root is dropped (and forgotten by the store's
        pending table); a worker and the persister are woken.
        """
        if data_root in self.backlog:
            return
        self.followed += 1
        dropped = self.backlog.push(data_root, certificate, now)
        if dropped is not None:
            lag = self.backlog.lag(now)
            log.warning(
                "backlog full, oldest root dropped", dropped=dropped.hex(), lag=lag.count, total=lag.dropped
            )
            self._pending_removed.append(dropped)
        if persist:
            self._pending_added.append(PendingRoot(data_root, certificate, now))
        if dropped is not None or persist:
            self._to_persist.unpark()
        self._work.unpark()

    async def _persist(self) -> None:
        while True:
            if not self._pending_added and not self._pending_removed:
                await self._to_persist.park()
                continue
            added, self._pending_added = self._pending_added, []
            removed, self._pending_removed = self._pending_removed, []
            await trio.to_thread.run_sync(self._store.update_pending, added, removed)

    async def _worker(self) -> None:
        while True:
            waiting = self.backlog.pop(self._clock())
            if waiting is None:
                await self._work.park()
                continue
            try:
                await self._sample_root(waiting.data_root, waiting.item)
            finally:
                self.active.pop(waiting.data_root, None)
                self.backlog.done(waiting.data_root)

    async def _sample_root(self, data_root: DataRoot, certificate: bytes) -> None:
        started = time.perf_counter()
        if await trio.to_thread.run_sync(self._store.is_finished, data_root):
            self.skipped_finished += 1
            log.info("already sampled, skipped", data_root=data_root.hex())
            if self._on_skipped is not None:
                self._on_skipped(data_root)
            return
        self.active[data_root] = ActiveRoot(self._clock())
        try:
            result, stats = await self._sample(data_root, certificate, self.active[data_root])
        except (NetworkError, SamplingError, ValidatorError, DAError) as error:
            # One root that cannot be sampled (no header anywhere, a certificate that no longer
            # verifies) must not stop the others; it is forgotten, not retried.
            self.failed += 1
            log.warning("cannot sample", data_root=data_root.hex(), error=str(error))
            await trio.to_thread.run_sync(self._store.update_pending, [], [data_root])
            return
        self.finished += 1
        if self._on_result is not None:
            self._on_result(result, time.perf_counter() - started, stats)

    async def _sample(
        self, data_root: DataRoot, certificate: bytes, state: ActiveRoot
    ) -> tuple[StoredResult, SamplingStats]:
        assignment = self._view.certify_bytes(certificate)
        directory = CustodyDirectory(assignment, self._view.preset, self._chooser)
        directory.install(self._service.host)
        peers = [*directory.peers, *self._bootstrap]
        header, _ = await fetch_header_from_peers(self._service, data_root, peers)
        sampler = Sampler(
            header.row_count,
            self.options.target,
            self._chooser,
            max_attempts=self.options.max_attempts,
            columns=directory.served_columns,
            grid=True,
        )

        def progress(summary: SamplingSummary, stats: SamplingStats) -> None:
            state.summary = summary
            state.column_failures = sampler.failures_by_column()

        runner = RoundRunner(
            self._service,
            directory,
            self._verifier,
            parallel=self.options.parallel,
            progress=progress,
            header=header,
        )
        summary = await runner.run(sampler, deadline=trio.current_time() + self.options.root_deadline)
        result = await trio.to_thread.run_sync(
            self._store.put, data_root, summary, sampler.failures_by_column()
        )
        return result, runner.stats

    # --- status ---------------------------------------------------------------------------------

    async def status(self) -> dict[str, Any]:
        """`GET /v1/status`: counts, lag and peers."""
        now = self._clock()
        lag = self.backlog.lag(now)
        oldest_active = min((state.started_at for state in self.active.values()), default=now)
        peers = self._service.connected_peers()
        return {
            "topic": self._service.config.certificate_topic,
            "peer_id": self._service.peer_id,
            "uptime_s": round(now - self.started_at, 3),
            "target": self.options.target,
            "followed": self.followed,
            "finished": self.finished,
            "finished_total": await trio.to_thread.run_sync(self._store.count),
            "skipped_finished": self.skipped_finished,
            "failed": self.failed,
            "queued": lag.count,
            "sampling": len(self.active),
            "lag": {
                "count": lag.count + len(self.active),
                "seconds": round(max(lag.seconds, now - oldest_active), 3),
                "dropped": lag.dropped,
            },
            "gossip_dropped": sum(self._service.gossip.dropped.values()),
            "peers": {"connected": len(peers), "ids": peers},
        }

    async def blob_status(self, data_root: DataRoot) -> dict[str, Any] | None:
        """`GET /v1/blobs/{root}`: queued, sampling (with progress) or the stored result; None if unknown."""
        root = "0x" + data_root.hex()
        active = self.active.get(data_root)
        if active is not None:
            summary = active.summary
            return {
                "data_root": root,
                "status": "sampling",
                "confidence": 0.0 if summary is None else summary.confidence,
                "verified": 0 if summary is None else summary.verified,
                "needed": None if summary is None else summary.needed,
                "column_failures": {str(k): v for k, v in sorted(active.column_failures.items())},
            }
        if self.backlog.is_waiting(data_root):
            return {"data_root": root, "status": "queued", "confidence": 0.0, "column_failures": {}}
        stored = await trio.to_thread.run_sync(self._store.get, data_root)
        if stored is None:
            return None
        return result_to_json(stored)


def result_to_json(result: StoredResult) -> dict[str, Any]:
    """A stored result as the status API shows it."""
    return {
        "data_root": "0x" + result.data_root.hex(),
        "status": result.status,
        "confidence": result.confidence,
        "target": result.target,
        "verified": result.verified,
        "invalid": result.invalid,
        "missing": result.missing,
        "column_failures": {str(k): v for k, v in sorted(result.column_failures.items())},
        "finished_at": result.finished_at,
    }


async def connect_registry_peers(
    service: NetworkService, view: RegistryView, epoch: Epoch, limit: int
) -> int:
    """Connect to up to `limit` validators of `epoch` (random ones), for gossip; returns how many answered."""
    try:
        records = list(view.get_context(epoch).validators)
    except LightClientError as error:
        log.warning("no registry peers", error=str(error))
        return 0
    secrets.SystemRandom().shuffle(records)
    connected = 0

    async def connect(peer: str, addresses: tuple[str, ...]) -> None:
        nonlocal connected
        for address in addresses:
            try:
                _, dialable = split_multiaddr(address, PeerName(peer))
                await service.connect(f"{dialable}/p2p/{peer}")
            except (ValueError, NetworkError) as error:
                log.info("registry peer unreachable", peer=peer, error=str(error))
                continue
            connected += 1
            return

    async with trio.open_nursery() as nursery:
        for record in records[:limit]:
            if is_peer_id(record.peer_id) and record.peer_id != service.peer_id:
                nursery.start_soon(connect, record.peer_id, record.multiaddrs)
    return connected
