"""The daemon's node: the composition of one validator's parts in the trio thread, and its lifecycle
(epochs, ballots, peer discovery, certificate gossip). Each part owns its state:

- `driver`: the validator core (one input at a time, queries under the same lock);
- `extensions`: encoded blobs held in memory (dispersing, recently served);
- `intake`: the sequencer flow (posted blobs, encoded, recorded, dispersed, resumed);
- `handlers`: what the network service calls (samples, headers, custody, attestations, certificates);
- `peer_book`: validator <-> peer from the registry; `sends`: pushes, attestations, sample requests;
- `effects`: the daemon's transport for the shared executor of core outputs (`validator.core.executor`);
- `desk`: what the HTTP API asks about blobs (`retrieval` rebuilds a blob from custodians).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
import trio

from network.config import NetworkConfig
from network.server import ServerPorts
from network.service import NetworkService
from validator.certificate import bytes_to_certificate
from validator.core import Tick
from validator.daemon.admission import AdmissionPolicy
from validator.daemon.context import NodeContext
from validator.daemon.desk import NodeDesk
from validator.daemon.driver import CoreDriver
from validator.daemon.effects import DaemonTransport, spawn_from_thread
from validator.daemon.extensions import Extensions
from validator.daemon.handlers import RequestHandlers
from validator.daemon.intake import BlobIntake
from validator.daemon.peer_book import PeerBook
from validator.daemon.retrieval import BlobRetrieval
from validator.daemon.sends import Sends
from validator.errors import UnknownEpoch, ValidatorError
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
    ) -> None:
        self._context = context
        self._secret_key = secret_key
        self._driver = CoreDriver(context, secret_key, context.store.attestations_sent())
        self._extensions = Extensions(context.store)
        self._peers = PeerBook(context.registry)
        handlers = RequestHandlers(context, self._driver.process, self._peers, self._extensions)
        self.service = NetworkService(
            network_config,
            ServerPorts(samples=handlers, headers=handlers, custody=handlers, attestations=handlers),
            certificate_validator=handlers,
            is_protected=self._peers.is_validator_peer,
            on_count=lambda kind: context.metrics.network_events.labels(kind=kind).inc(),
        )
        """The libp2p service; `main` runs it in the trio thread before `run` starts."""
        self._sends = Sends(self.service, self._peers, context.metrics, self._driver.process)
        self._intake = BlobIntake(context, self._driver, self._extensions, admission)
        retrieval = BlobRetrieval(context, self._driver, self._peers, self.service, self._sends)
        self.desk = NodeDesk(context, self._intake, retrieval)
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
            await self._driver.ensure_epoch_known(
                await trio.to_thread.run_sync(self._context.registry.current_epoch)
            )
            await self._refresh_peers()
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._peer_refresher)
            nursery.start_soon(self._certificate_listener)
            await nursery.start(self._intake.run)
            task_status.started(self)

    async def _ticker(self) -> None:
        registry = self._context.registry
        while True:
            await trio.sleep(TICK_SECONDS)
            epoch = await trio.to_thread.run_sync(registry.current_epoch)
            await self._driver.ensure_epoch_known(epoch)
            await self._driver.process(Tick(time.monotonic()))
            await trio.to_thread.run_sync(self._cast_next_ballot, epoch)

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
        """Read peers from the registry and connect to the ones not connected yet (bounded dials)."""
        await self._peers.connect_all(self.service, self._context.me)
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
                if await trio.to_thread.run_sync(store.put_certificate, certificate):
                    metrics.certificates.inc()
                self._extensions.release(certificate.data_root)  # certified: no more pushes of it
