"""The daemon's node: owns the validator core in the trio thread and its lifecycle (epochs, ballots,
peer discovery, certificate gossip), and wires the roles around it:

- `intake`: the sequencer flow (posted blobs, encoded, recorded, dispersed, resumed);
- `ports`: what the network service calls (samples, headers, custody, attestations, certificates);
- `peer_book`: validator <-> peer from the registry; `sends`: pushes, attestations, sample requests;
- `effects`: the daemon's transport for the shared executor of core outputs (`validator.core.executor`).

Every core input goes through `process`, which holds one lock, so the core sees its inputs one at a
time; the core and the executor run in a worker thread, so KZG checks, BLS and storage never block
the trio loop. Ports call in from trio worker threads and wait for the outcome of their input.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
import trio

from da import DAConfig, EncodedBlob
from da.kzg import CkzgBackend
from da.pool import EncoderPool
from da.types import DataRoot
from network.service import NetworkService
from network.types import PeerName
from validator.certificate import bytes_to_certificate
from validator.core import (
    EpochContextKnown,
    Input,
    Output,
    Tick,
    ValidatorCore,
)
from validator.core.executor import run_until_quiet
from validator.daemon.admission import AdmissionPolicy
from validator.daemon.effects import DaemonTransport, spawn_from_thread
from validator.daemon.intake import BlobIntake
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.daemon.ports import NodePorts
from validator.daemon.sends import Sends
from validator.daemon.store import BlobRecord, NodeStore
from validator.errors import UnknownEpoch, ValidatorError
from validator.keys import SecretKey
from validator.registry import ValidatorRegistry, get_registry_preset
from validator.types import Epoch, ValidatorIndex
from validator.vrf import compute_ballot

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
PEER_REFRESH_SECONDS = 2.0


class Node:
    """One validator: core, store, registry, network service, encoder."""

    def __init__(
        self,
        me: ValidatorIndex,
        secret_key: SecretKey,
        registry: ValidatorRegistry,
        store: NodeStore,
        kzg: CkzgBackend,
        service: NetworkService | None,
        metrics: NodeMetrics,
        pool: EncoderPool | None = None,
        max_blob_bytes: int = 2 * 1024 * 1024,
        admission: AdmissionPolicy | None = None,
    ) -> None:
        self.me = me
        self._secret_key = secret_key
        self.registry = registry
        self.store = store
        self.kzg = kzg
        self._service = service
        self.metrics = metrics
        self.pool = pool
        info = registry.get_info()
        self.preset = get_registry_preset(registry)
        self.chain_id = info.chain_id
        self.core = ValidatorCore(
            me,
            secret_key,
            self.preset,
            kzg,
            nonce=secret_key.sign(b"tessera-sampling-nonce"),
            attested=store.attestations_sent(),
        )
        self.peers = PeerBook(registry)
        self._lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._sends: Sends | None = None
        self._transport: DaemonTransport | None = None
        self.encoded: dict[DataRoot, EncodedBlob] = {}
        """Blobs this node encoded and is dispersing (dropped once certified)."""
        self._epochs_known: set[Epoch] = set()
        self.started = trio.Event()
        self.ports = NodePorts(self.process, self.peers, store, metrics, self.encoded, registry, self.preset)
        """What the network service calls: sample and header stores, custody and attestation sinks,
        the certificate validator."""
        self.intake = BlobIntake(self, DAConfig(max_blob_bytes=max_blob_bytes).validate(), admission)
        """The sequencer flow: blobs posted to this node, encoded, recorded and dispersed."""

    @property
    def service(self) -> NetworkService:
        """The libp2p service (set once it exists: it is built with this node as its ports)."""
        if self._service is None:
            raise RuntimeError("the node has no network service yet")
        return self._service

    @service.setter
    def service(self, service: NetworkService) -> None:
        self._service = service

    # --- lifecycle --------------------------------------------------------------------------------

    async def run(self, *, task_status: TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled: ticks, peer discovery, certificate gossip, ballots, resumed blobs."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._sends = Sends(self.service, self.peers, self.metrics, self.process)
            self._transport = DaemonTransport(
                self.store, self.metrics, self.encoded, spawn_from_thread(nursery), self._sends
            )
            await self._learn_epoch(self.registry.current_epoch())
            await self._refresh_peers()
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._peer_refresher)
            nursery.start_soon(self._certificate_listener)
            nursery.start_soon(self.intake.run_encoder)
            for record in await trio.to_thread.run_sync(self.store.unfinished_blobs):
                nursery.start_soon(self.intake.resume_blob, record)
            self.started.set()
            task_status.started(self)

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(TICK_SECONDS)
            epoch = await trio.to_thread.run_sync(self.registry.current_epoch)
            await self.ensure_epoch_known(epoch)
            await self.process(Tick(time.monotonic()))
            await trio.to_thread.run_sync(self._cast_next_ballot, epoch)

    async def ensure_epoch_known(self, epoch: Epoch) -> None:
        """Feed the core `epoch`'s context if it has not had it yet."""
        if epoch not in self._epochs_known:
            await self._learn_epoch(epoch)

    async def _learn_epoch(self, epoch: Epoch) -> None:
        context = await trio.to_thread.run_sync(self.registry.get_epoch_context, epoch)
        await self.process(EpochContextKnown(context))
        self._epochs_known.add(epoch)
        log.info("epoch known", epoch=epoch, validators=len(context.validators), ballots=len(context.ballots))

    def _cast_next_ballot(self, epoch: Epoch) -> None:
        """Publish this validator's ballot for the next epoch once (ballots for e are cast during e - 1)."""
        following = Epoch(epoch + 1)
        try:
            context = self.registry.get_epoch_context(following)
        except UnknownEpoch:
            return  # before genesis: seed(1) is not fixed yet, and ballots are for epoch 0
        if any(b.validator == self.me for b in context.ballots):
            return
        try:
            ballot = compute_ballot(self._secret_key, self.me, self.chain_id, following, context.seed)
            self.registry.put_ballot(ballot, epoch)
        except ValidatorError as error:
            log.warning("ballot not cast", epoch=following, error=str(error))

    async def _peer_refresher(self) -> None:
        while True:
            await trio.sleep(PEER_REFRESH_SECONDS)
            await self._refresh_peers()

    async def _refresh_peers(self) -> None:
        """Read peers from the registry and connect to the ones not connected yet (bounded dials)."""
        await self.peers.connect_all(self.service, self.me)
        self.metrics.peers.set(len(self.service.connected_peers()))

    # --- the core ------------------------------------------------------------------------------------

    async def process(self, first: Input) -> list[Output]:
        """Feed one input (and the local inputs it causes) to the core, executing every output in the
        core's worker thread; return everything it produced."""
        if self._transport is None:
            raise RuntimeError("the node is not running")
        transport = self._transport
        async with self._lock:
            return await trio.to_thread.run_sync(lambda: run_until_quiet(self.core, first, transport))

    def outbound_limiter(self, peer: PeerName) -> trio.CapacityLimiter:
        """Our concurrent requests to `peer` (retrieval shares the limit with pushes and attestations)."""
        if self._sends is None:
            raise RuntimeError("the node is not running")
        return self._sends.outbound_limiter(peer)

    def spawn(self, function: object, *args: object) -> None:
        """Run an async function as a background task of the node."""
        if self._nursery is None:
            raise RuntimeError("the node is not running")
        self._nursery.start_soon(function, *args)  # type: ignore[arg-type]

    async def _certificate_listener(self) -> None:
        channel = self.service.subscribe(self.service.config.certificate_topic)
        async with channel:
            async for message in channel:
                try:
                    certificate = bytes_to_certificate(message.data)
                except ValidatorError:
                    continue  # the gossip validator already rejected undecodable payloads
                if await trio.to_thread.run_sync(self.store.put_certificate, certificate):
                    self.metrics.certificates.inc()

    async def submit_blob(self, data: bytes) -> BlobRecord:
        """Accept a sequencer's blob (see `intake.BlobIntake.submit_blob`)."""
        return await self.intake.submit_blob(data)
