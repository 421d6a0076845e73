"""The daemon's node: owns the validator core in the trio thread and executes what it returns.

Every core input goes through `_process`, which holds one lock, so the core sees its inputs one at a
time. The core and the shared executor (`validator.core.executor`, with the daemon's transport in
`effects`) run in a worker thread, so KZG checks, BLS and storage never block the trio loop; network
sends (`sends`) run as background tasks whose answers come back as new inputs. Network ports call in
from trio worker threads and wait for the outcome of their input.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog
import trio

from da import DAConfig, EncodedBlob, compute_data_root, encode_blob
from da.kzg import CkzgBackend
from da.packing import validate_blob_size
from da.pool import EncoderPool
from da.types import BlobHeader, CellCoordinate, DataRoot, Sample
from network.messages import CustodyPush
from network.service import NetworkService
from network.types import PeerName, Verdict
from validator.certificate import bytes_to_certificate
from validator.certificate_gossip import validate_certificate_gossip
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    AttestationRejected,
    BlobDispersing,
    CustodyReceived,
    CustodyRejected,
    DutyFailed,
    EpochContextKnown,
    Input,
    Output,
    Tick,
    ValidatorCore,
)
from validator.core.executor import run_until_quiet
from validator.daemon.effects import DaemonTransport, spawn_from_thread
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.daemon.sends import Sends
from validator.daemon.store import BlobRecord, BlobStatus, NodeStore
from validator.errors import ValidatorError
from validator.keys import SecretKey
from validator.presets import get_preset
from validator.registry import ValidatorRegistry
from validator.types import Epoch, QuorumIndex, ValidatorIndex
from validator.vrf import compute_ballot
from validator.wire import ATTESTATION_BYTES, bytes_to_attestation

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
PEER_REFRESH_SECONDS = 2.0


REPLICA_CACHE_BLOBS = 4
"""Certified blobs whose whole extension stays in memory for serving (about 2.4 MiB per MiB of blob)."""


def _cells_of(encoded: EncodedBlob, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
    return [encoded.get_sample(c) if c.row < len(encoded.rows) else None for c in coordinates]


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
    ) -> None:
        self.me = me
        self._secret_key = secret_key
        self.registry = registry
        self.store = store
        self.kzg = kzg
        self._service = service
        self.metrics = metrics
        self.pool = pool
        self.da_config = DAConfig(max_blob_bytes=max_blob_bytes).validate()
        info = registry.get_info()
        self.preset = get_preset(info.preset)
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
        self._encoded: dict[DataRoot, EncodedBlob] = {}
        """Blobs this node encoded and is dispersing (dropped once certified)."""
        self._replicas: OrderedDict[DataRoot, EncodedBlob] = OrderedDict()
        """The most recently asked-for certified blobs this node encoded, rebuilt from the store."""
        self._replicas_lock = threading.Lock()
        self._epochs_known: set[Epoch] = set()
        self.started = trio.Event()

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
            self._sends = Sends(self.service, self.peers, self.metrics, self._process)
            self._transport = DaemonTransport(
                self.store, self.metrics, self._encoded, spawn_from_thread(nursery), self._sends
            )
            await self._learn_epoch(self.registry.current_epoch())
            await self._refresh_peers()
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._peer_refresher)
            nursery.start_soon(self._certificate_listener)
            for record in await trio.to_thread.run_sync(self.store.unfinished_blobs):
                nursery.start_soon(self._resume_blob, record)
            self.started.set()
            task_status.started(self)

    async def _ticker(self) -> None:
        while True:
            await trio.sleep(TICK_SECONDS)
            epoch = await trio.to_thread.run_sync(self.registry.current_epoch)
            if epoch not in self._epochs_known:
                await self._learn_epoch(epoch)
            await self._process(Tick(time.monotonic()))
            await trio.to_thread.run_sync(self._cast_next_ballot, epoch)

    async def _learn_epoch(self, epoch: Epoch) -> None:
        context = await trio.to_thread.run_sync(self.registry.get_epoch_context, epoch)
        await self._process(EpochContextKnown(context))
        self._epochs_known.add(epoch)
        log.info("epoch known", epoch=epoch, validators=len(context.validators), ballots=len(context.ballots))

    def _cast_next_ballot(self, epoch: Epoch) -> None:
        """Publish this validator's ballot for the next epoch once (ballots for e are cast during e - 1)."""
        following = Epoch(epoch + 1)
        context = self.registry.get_epoch_context(following)
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

    async def _process(self, first: Input) -> list[Output]:
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

    def _spawn(self, function: object, *args: object) -> None:
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

    # --- sequencer flow -------------------------------------------------------------------------------

    async def submit_blob(self, data: bytes) -> BlobRecord:
        """Accept a sequencer's blob: encode, record, disperse; posting the same bytes again is a no-op."""
        validate_blob_size(len(data), self.da_config)
        existing = await trio.to_thread.run_sync(self.store.find_blob_by_content, data)
        if existing is not None:
            return existing
        started = time.perf_counter()
        encoded = await trio.to_thread.run_sync(self._encode, data)
        self.metrics.encode_seconds.observe(time.perf_counter() - started)
        epoch = await trio.to_thread.run_sync(self.registry.current_epoch)
        if epoch not in self._epochs_known:
            await self._learn_epoch(epoch)
        assignment = self.core.assign_blob(encoded.data_root, epoch)
        if assignment is None:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        quorum = assignment.quorum
        record = await trio.to_thread.run_sync(
            self.store.add_blob,
            data,
            encoded.header,
            encoded.data_root,
            epoch,
            quorum,
            assignment.threshold,
            encoded.rows,
        )
        self.metrics.blobs_accepted.inc()
        self._encoded[encoded.data_root] = encoded
        self._spawn(self._disperse, encoded.header, epoch, quorum)
        log.info(
            "blob accepted", data_root=encoded.data_root.hex(), bytes=len(data), epoch=epoch, quorum=quorum
        )
        return record

    def _encode(self, data: bytes) -> EncodedBlob:
        if self.pool is not None:
            return self.pool.encode_blob(data)
        return encode_blob(data, self.kzg, self.da_config)

    async def _disperse(self, header: BlobHeader, epoch: Epoch, quorum: QuorumIndex) -> None:
        outputs = await self._process(BlobDispersing(header, epoch, quorum))
        if any(isinstance(o, DutyFailed) for o in outputs):
            await trio.to_thread.run_sync(
                lambda: self.store.update_blob(
                    compute_data_root(header), BlobStatus.FAILED, error="dispersal failed"
                )
            )

    async def _resume_blob(self, record: BlobRecord) -> None:
        """After a restart: encode a blob that was not certified again and disperse it again."""
        data = await trio.to_thread.run_sync(self.store.get_blob_data, record.data_root)
        if data is None:
            return
        encoded = await trio.to_thread.run_sync(self.store.get_extension, record.data_root)
        if encoded is None:  # stored before extensions were kept
            encoded = await trio.to_thread.run_sync(self._encode, data)
        self._encoded[encoded.data_root] = encoded
        log.info("resuming blob", data_root=record.data_root.hex(), status=record.status.value)
        await self._disperse(encoded.header, record.epoch, record.quorum)

    # --- ports (called from trio worker threads) -------------------------------------------------------

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        """`SampleStore`: the custody cells this node stored, and every cell of blobs it encoded (from
        memory while dispersing, then from the extension the store keeps)."""
        self.metrics.sample_requests.inc()
        encoded = self._encoded.get(data_root)
        if encoded is not None:
            return _cells_of(encoded, coordinates)
        held = self.store.get_samples(data_root, coordinates)
        if all(sample is not None for sample in held):
            return held
        replica = self._replica(data_root)
        if replica is None:
            return held
        return _cells_of(replica, coordinates)

    def _replica(self, data_root: DataRoot) -> EncodedBlob | None:
        """A certified blob this node encoded, from a small LRU cache or rebuilt from the store."""
        with self._replicas_lock:
            cached = self._replicas.get(data_root)
            if cached is not None:
                self._replicas.move_to_end(data_root)
                return cached
        rebuilt = self.store.get_extension(data_root)
        if rebuilt is not None:
            with self._replicas_lock:
                self._replicas[data_root] = rebuilt
                while len(self._replicas) > REPLICA_CACHE_BLOBS:
                    self._replicas.popitem(last=False)
        return rebuilt

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """`HeaderStore`: headers of blobs this node took or holds custody for."""
        known = self.store.get_header(data_root)
        return None if known is None else known[0]

    def accept_custody(self, peer: PeerName, data_root: DataRoot, push: CustodyPush) -> Verdict:
        """`CustodySink`: hand the push to the core; ACCEPT once the cells are verified and stored."""
        sender = self.peers.validator_of(peer)
        if sender is None:
            return Verdict.IGNORE
        event = CustodyReceived(
            sender, push.header, Epoch(push.epoch), QuorumIndex(push.quorum), push.samples
        )
        outputs = trio.from_thread.run(self._process, event)
        rejected = next((o for o in outputs if isinstance(o, CustodyRejected)), None)
        if rejected is None:
            return Verdict.ACCEPT
        return Verdict.REJECT if rejected.reason.blames_sender else Verdict.IGNORE

    max_attestation_bytes = ATTESTATION_BYTES

    def accept_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        """`AttestationSink`: decode and count; REJECT what does not decode or verify."""
        try:
            decoded = bytes_to_attestation(attestation)
        except ValidatorError:
            return Verdict.REJECT
        outputs = trio.from_thread.run(self._process, AttestationReceived(decoded))
        if any(isinstance(o, AttestationCounted) for o in outputs):
            return Verdict.ACCEPT
        rejected = next((o for o in outputs if isinstance(o, AttestationRejected)), None)
        if rejected is None or rejected.reason is None or not rejected.reason.blames_sender:
            return Verdict.IGNORE
        return Verdict.REJECT

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        """`CertificateValidator` for gossip: the rules of specs/validator.md (Certificate gossip
        validation), shared with the light client."""
        return validate_certificate_gossip(data, self.registry, self.preset).verdict
