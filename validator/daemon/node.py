"""The daemon's node: the composition of one validator's parts in the trio thread, and its lifecycle
(epochs, ballots, peer discovery, certificate gossip). Each part owns its state:

- `driver`: the validator core (one input at a time, queries under the same lock);
- `extensions`: encoded blobs held in memory (dispersing, recently served);
- `intake`: the sequencer flow (posted blobs, encoded, recorded, dispersed, resumed);
- `handlers`: what the network service calls (samples, headers, custody, attestations, certificates);
- `peer_book`: validator <-> peer from the registry; `sends`: pushes, attestations, sample requests;
- `effects`: the daemon's transport for the shared executor of core outputs (`validator.core.executor`);
- `desk`: what the HTTP API asks about blobs (`retrieval` rebuilds a blob from custodians);
- `payments` / `settlement`: the promise check of paid posts and the settlement of held promises.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

import structlog
import trio

from network.config import NetworkConfig
from network.server import ServerPorts
from network.service import NetworkService
from validator.certificate import bytes_to_certificate
from validator.core import MAX_CUSTODY_CELLS_PER_PUSH, CoreConfig, Tick
from validator.daemon.admission import AccountWeights, AdmissionPolicy
from validator.daemon.config import RetrievalConfig
from validator.daemon.context import NodeContext
from validator.daemon.desk import NodeDesk
from validator.daemon.driver import CoreDriver
from validator.daemon.effects import DaemonTransport, spawn_from_thread
from validator.daemon.extensions import Extensions
from validator.daemon.handlers import RequestHandlers
from validator.daemon.intake import BlobIntake
from validator.daemon.payments import PaymentGate, Settlement
from validator.daemon.peer_book import PeerBook
from validator.daemon.restart import is_within_availability_window
from validator.daemon.retention import Retention, RetentionPolicy
from validator.daemon.retrieval import BlobRetrieval
from validator.daemon.sends import Sends
from validator.errors import RegistryError, UnknownEpoch, ValidatorError
from validator.keys import SecretKey
from validator.types import Epoch
from validator.vrf import compute_ballot

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
PEER_REFRESH_SECONDS = 2.0


class Node:
    """One validator: its parts, wired once here, and the tasks that keep it going."""

    def __init__(
        self,
        context: NodeContext,
        secret_key: SecretKey,
        network_config: NetworkConfig,
        admission: AdmissionPolicy | None = None,
        retention: RetentionPolicy | None = None,
        extensions: Extensions | None = None,
        retrieval: RetrievalConfig | None = None,
        payments: PaymentGate | None = None,
        settlement: Settlement | None = None,
        weights: AccountWeights | None = None,
        custody_cells_per_push: int = MAX_CUSTODY_CELLS_PER_PUSH,
    ) -> None:
        """`retention`: the availability window and pruning schedule; `extensions`: the owner of
        encoded blobs in memory with its bounds (both: defaults); `payments`: the check of paid
        posts (None: posts are not paid); `settlement`: the automatic settlement of held promises;
        `weights`: each account's weight in fair admission (None: all equal);
        `custody_cells_per_push`: the most cells one custody push it sends carries (whole rows)."""
        self._context = context
        self._secret_key = secret_key
        self._retention_policy = retention or RetentionPolicy()
        core_config = CoreConfig(
            retention_epochs=self._retention_policy.window_epochs,
            max_custody_cells_per_push=custody_cells_per_push,
        )
        self._driver = CoreDriver(context, secret_key, context.store.attestations_sent(), core_config)
        self._extensions = extensions or Extensions(context.store)
        self._retention = Retention(
            context.store,
            self._retention_policy,
            context.registry.current_epoch,
            self._extensions.forget,
            context.metrics,
        )
        self._peers = PeerBook(context.registry)
        window = self._retention_policy.window_epochs
        handlers = RequestHandlers(context, self._driver, self._peers, self._extensions, window)
        self.service = NetworkService(
            network_config,
            ServerPorts(
                samples=handlers,
                grid_samples=handlers,
                headers=handlers,
                custody=handlers,
                attestations=handlers,
            ),
            certificate_validator=handlers,
            is_protected=self._peers.is_validator_peer,
            on_count=lambda kind: context.metrics.network_events.labels(kind=kind).inc(),
        )
        """The libp2p service; `main` runs it in the trio thread before `run` starts."""
        self._sends = Sends(self.service, self._peers, context.metrics, self._driver.process)
        self._intake = BlobIntake(
            context, self._driver, self._extensions, admission, window, payments, weights
        )
        self._retrieval = BlobRetrieval(context, self._driver, self._peers, self.service, retrieval)
        self._settlement = settlement
        self.desk = NodeDesk(context, self._intake, self._retrieval, payments)
        """What the HTTP API asks about blobs (`validator.daemon.api.BlobDesk`)."""

    @property
    def me(self) -> int:
        """This validator's index in the registry."""
        return self._context.me

    @property
    def preset_name(self) -> str:
        """The registry's preset (what `node.json` reports)."""
        return self._context.preset.name

    async def run(self, *, task_status: TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled: ticks, peer discovery, certificate gossip, ballots, the intake."""
        async with trio.open_nursery() as nursery:
            self._driver.attach(
                DaemonTransport(self._context, self._extensions, spawn_from_thread(nursery), self._sends)
            )
            await self._learn_epochs_in_use()
            await self._refresh_peers()
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._peer_refresher)
            nursery.start_soon(self._certificate_listener)
            nursery.start_soon(self._retention.run)
            if self._settlement is not None:
                nursery.start_soon(self._settlement.run)
            await nursery.start(self._retrieval.run)
            await nursery.start(self._intake.run)
            task_status.started(self)

    async def _learn_epochs_in_use(self) -> None:
        """At start: learn the current epoch and every epoch within the availability window that a
        custody duty left unfinished by a previous run refers to (unfinished posted blobs learn
        theirs as the intake resumes them). A registry that does not answer is no reason not to
        start: the node serves what it holds, and the ticker and the intake learn epochs later."""
        registry, store = self._context.registry, self._context.store
        window = self._retention_policy.window_epochs
        try:
            current = await trio.to_thread.run_sync(registry.current_epoch)
            await self._driver.ensure_epoch_known(current)
            for epoch in sorted(await trio.to_thread.run_sync(store.unattested_custody_epochs)):
                if epoch != current and is_within_availability_window(epoch, current, window):
                    await self._driver.ensure_epoch_known(epoch)
        except RegistryError as error:
            log.warning("epochs not learnt at start: the registry does not answer", error=str(error))

    async def _ticker(self) -> None:
        registry = self._context.registry
        while True:
            await trio.sleep(TICK_SECONDS)
            await self._driver.process(Tick(time.monotonic()))
            try:
                epoch = await trio.to_thread.run_sync(registry.current_epoch)
                await self._driver.ensure_epoch_known(epoch)
                await trio.to_thread.run_sync(self._cast_next_ballot, epoch)
            except RegistryError as error:  # degraded, not down: the core keeps its clock
                log.debug("tick without the registry", error=str(error))
            dispersing, headers = self._extensions.held
            self._context.metrics.extensions_held.labels(kind="dispersing").set(dispersing)
            self._context.metrics.extensions_held.labels(kind="headers").set(headers)

    def _cast_next_ballot(self, epoch: Epoch) -> None:
        """Publish this validator's ballot for the next epoch once (ballots for e are cast during e - 1)."""
        registry, me = self._context.registry, self._context.me
        following = Epoch(epoch + 1)
        try:
            context = registry.get_epoch_context(following)
        except UnknownEpoch:
            return  # before genesis: seed(1) is not fixed yet, and ballots are for epoch 0
        if any(b.validator == me for b in context.ballots):
            return
        try:
            ballot = compute_ballot(self._secret_key, me, self._context.chain_id, following, context.seed)
            registry.put_ballot(ballot)
        except ValidatorError as error:
            log.warning("ballot not cast", epoch=following, error=str(error))

    async def _peer_refresher(self) -> None:
        while True:
            await trio.sleep(PEER_REFRESH_SECONDS)
            await self._refresh_peers()

    async def _refresh_peers(self) -> None:
        """Read peers from the registry and connect to the ones not connected yet (bounded dials);
        while the registry does not answer, the peers known so far are kept."""
        try:
            await self._peers.connect_all(self.service, self._context.me)
        except RegistryError as error:
            log.debug("peers not refreshed: the registry does not answer", error=str(error))
        self._context.metrics.peers.set(len(self.service.connected_peers()))

    async def _certificate_listener(self) -> None:
        store, metrics = self._context.store, self._context.metrics
        channel = self.service.subscribe(self.service.config.certificate_topic)
        async with channel:
            async for message in channel:
                try:
                    certificate = bytes_to_certificate(message.data)
                except ValidatorError:
                    continue  # the gossip validator already rejected undecodable payloads
                try:
                    if await trio.to_thread.run_sync(store.put_certificate, certificate):
                        metrics.certificates.inc()
                except (sqlite3.OperationalError, OSError) as error:  # a full disk: not the end of the node
                    if self._context.disk is None or not self._context.disk.disk_full(error):
                        raise
                    log.error("certificate not stored: disk full", data_root=certificate.data_root.hex())
                self._extensions.release(certificate.data_root)  # certified: no more pushes of it
