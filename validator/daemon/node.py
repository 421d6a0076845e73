"""The daemon's node: owns the validator core in the trio thread and executes what it returns.

Every core input goes through `_process`, which holds one lock, so the core sees its inputs one at a
time. The core's CPU work (KZG batch checks, BLS) runs in a worker thread so the trio loop keeps
serving the network. Local outputs (storing custody, feeding our own attestation) are executed in
order under the lock; network outputs are sent by background tasks whose answers come back as new
inputs. Network ports call in from trio worker threads and wait for the outcome of their input.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog
import trio

from da import DAConfig, EncodedBlob, compute_data_root, encode_blob
from da.kzg import CkzgBackend
from da.packing import validate_blob_size
from da.pool import EncoderPool
from da.types import BlobHeader, CellCoordinate, DataRoot, Sample
from network.errors import NetworkError, PeerDisconnected, PeerUnreachable
from network.messages import CustodyPush
from network.service import NetworkService
from network.types import PeerName, Verdict
from validator.certificate import bytes_to_certificate, certificate_to_bytes, verify_certificate
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    AttestationRejected,
    Attested,
    BlobDispersing,
    CertificateFormed,
    CustodyReceived,
    CustodyRejected,
    CustodyStored,
    DutyFailed,
    EpochContextKnown,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SampleRejected,
    SamplesReceived,
    SendAttestation,
    StoreCustody,
    Tick,
    ValidatorCore,
)
from validator.daemon.metrics import NodeMetrics
from validator.daemon.store import BlobRecord, BlobStatus, NodeStore
from validator.errors import ValidatorError
from validator.keys import SecretKey
from validator.quorums import compute_blob_quorum
from validator.registry.sqlite import SqliteRegistry
from validator.types import Attestation, Epoch, QuorumIndex, ValidatorIndex
from validator.vrf import compute_ballot
from validator.wire import ATTESTATION_BYTES, attestation_to_bytes, bytes_to_attestation

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.5
PEER_REFRESH_SECONDS = 2.0
PUSH_TIMEOUT_SECONDS = 20.0
SAMPLE_REQUEST_TIMEOUT_SECONDS = 5.0
SEND_ATTEMPTS = 4
RETRY_BACKOFF_SECONDS = 1.0


REPLICA_CACHE_BLOBS = 4
"""Certified blobs whose whole extension stays in memory for serving (about 2.4 MiB per MiB of blob)."""


def _cells_of(encoded: EncodedBlob, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
    return [encoded.get_sample(c) if c.row < len(encoded.rows) else None for c in coordinates]


@dataclass
class PeerBook:
    """Validator index <-> libp2p peer, from the registry's records."""

    by_peer: dict[PeerName, ValidatorIndex] = field(default_factory=dict)
    by_index: dict[ValidatorIndex, PeerName] = field(default_factory=dict)
    addresses: dict[ValidatorIndex, tuple[str, ...]] = field(default_factory=dict)


class Node:
    """One validator: core, store, registry, network service, encoder."""

    def __init__(
        self,
        me: ValidatorIndex,
        secret_key: SecretKey,
        registry: SqliteRegistry,
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
        self.preset = registry.preset
        self.chain_id = registry.get_info().chain_id
        self.core = ValidatorCore(
            me, secret_key, self.preset, kzg, nonce=secret_key.sign(b"tessera-sampling-nonce")
        )
        self.peers = PeerBook()
        self._lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        self._encoded: dict[DataRoot, EncodedBlob] = {}
        """Blobs this node encoded and is dispersing (dropped once certified)."""
        self._replicas: OrderedDict[DataRoot, EncodedBlob] = OrderedDict()
        """The most recently asked-for certified blobs this node encoded, rebuilt from the store."""
        self._replicas_lock = threading.Lock()
        self._outbound: dict[PeerName, trio.CapacityLimiter] = {}
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
        for attestation_root in await trio.to_thread.run_sync(self._restored_attestations):
            self.core.attested[attestation_root[0]] = attestation_root[1]
        await self._learn_epoch(self.registry.current_epoch())
        await self._refresh_peers()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self._ticker)
            nursery.start_soon(self._peer_refresher)
            nursery.start_soon(self._certificate_listener)
            for record in await trio.to_thread.run_sync(self.store.unfinished_blobs):
                nursery.start_soon(self._resume_blob, record)
            self.started.set()
            task_status.started(self)

    def _restored_attestations(self) -> list[tuple[DataRoot, Attestation]]:
        return [(attestation.data_root, attestation) for attestation in self.store.attestations_sent()]

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
        if any(b.validator == self.me for b in self.registry.get_epoch_context(following).ballots):
            return
        try:
            ballot = compute_ballot(
                self._secret_key, self.me, self.chain_id, following, self.registry.get_seed(following)
            )
            self.registry.put_ballot(ballot, epoch)
        except ValidatorError as error:
            log.warning("ballot not cast", epoch=following, error=str(error))

    async def _peer_refresher(self) -> None:
        while True:
            await trio.sleep(PEER_REFRESH_SECONDS)
            await self._refresh_peers()

    def _read_peer_book(self) -> list[tuple[ValidatorIndex, str, tuple[str, ...]]]:
        """Refresh index <-> peer from the registry (blocking: call from a thread); returns the records."""
        records = self._registry_records()
        for index, peer_id, addrs in records:
            if peer_id:
                self.peers.by_peer[PeerName(peer_id)] = index
                self.peers.by_index[index] = PeerName(peer_id)
                self.peers.addresses[index] = addrs
        return records

    async def _peer_of(self, index: ValidatorIndex) -> PeerName | None:
        """The peer of validator `index`, re-reading the registry once if it is not known yet."""
        if index not in self.peers.by_index:
            await trio.to_thread.run_sync(self._read_peer_book)
        return self.peers.by_index.get(index)

    def _validator_of(self, peer: PeerName) -> ValidatorIndex | None:
        """The validator behind `peer` (blocking: called from port threads), re-reading on a miss."""
        if peer not in self.peers.by_peer:
            self._read_peer_book()
        return self.peers.by_peer.get(peer)

    async def _refresh_peers(self) -> None:
        """Read peers from the registry and connect to the ones not connected yet (bounded dials)."""
        records = await trio.to_thread.run_sync(self._read_peer_book)
        connected = set(self.service.connected_peers())
        for index, peer_id, addrs in records:
            if not peer_id:
                continue
            if index == self.me or PeerName(peer_id) in connected:
                continue
            for address in addrs:
                try:
                    await self.service.connect(address)
                    break
                except NetworkError as error:
                    log.debug("peer not reachable yet", validator=index, address=address, error=str(error))
        self.metrics.peers.set(len(self.service.connected_peers()))

    def _registry_records(self) -> list[tuple[ValidatorIndex, str, tuple[str, ...]]]:
        context = self.registry.get_epoch_context(self.registry.current_epoch())
        return [(r.index, r.peer_id, r.multiaddrs) for r in context.validators]

    # --- the core ------------------------------------------------------------------------------------

    async def _process(self, first: Input) -> list[Output]:
        """Feed one input (and the local inputs it causes) to the core; return everything it produced."""
        produced: list[Output] = []
        async with self._lock:
            queue: list[Input] = [first]
            while queue:
                outputs = await trio.to_thread.run_sync(self.core.step, queue.pop(0))
                for output in outputs:
                    produced.append(output)
                    queue += await self._execute(output)
        return produced

    async def _execute(self, output: Output) -> list[Input]:
        """Carry out one output; return follow-up inputs that are local to this node."""
        if isinstance(output, StoreCustody):
            root = compute_data_root(output.header)
            duty = self.core.duties.get(root)
            epoch, quorum = (duty.epoch, duty.quorum.index) if duty else (Epoch(0), QuorumIndex(0))
            count = await trio.to_thread.run_sync(
                self.store.put_custody, output.header, root, epoch, quorum, output.samples
            )
            self.metrics.custody_cells.inc(count)
            return [CustodyStored(root)]
        if isinstance(output, PushCustody):
            samples = self._custody_samples(output)
            if output.to == self.me:
                return [CustodyReceived(self.me, output.header, output.epoch, output.quorum, samples)]
            self._spawn(self._push_custody, output, samples)
            return []
        if isinstance(output, RequestSamples):
            self._spawn(self._request_samples, output)
            return []
        if isinstance(output, Attested):
            await trio.to_thread.run_sync(self.store.put_attestation_sent, output.attestation)
            self.metrics.attestations_sent.inc()
            return []
        if isinstance(output, SendAttestation):
            if output.to == self.me:
                return [AttestationReceived(output.attestation)]
            self._spawn(self._send_attestation, output)
            return []
        if isinstance(output, AttestationCounted):
            self.metrics.attestations_received.inc()
            await trio.to_thread.run_sync(
                lambda: self.store.update_blob(
                    output.attestation.data_root, BlobStatus.DISPERSED, signed_slots=output.signed_slots
                )
            )
            return []
        if isinstance(output, (CertificateFormed, PublishCertificate)):
            return await self._on_certificate(output)
        self._record_event(output)
        return []

    def _record_event(self, output: Output) -> None:
        if isinstance(output, DutyFailed):
            self.metrics.errors.labels(kind="duty_failed").inc()
            log.warning("duty failed", data_root=output.data_root.hex(), reason=output.reason)
        elif isinstance(output, CustodyRejected):
            self.metrics.errors.labels(kind="custody_rejected").inc()
            log.warning(
                "custody rejected",
                data_root=output.data_root.hex(),
                sender=output.sender,
                reason=output.reason,
            )
        elif isinstance(output, SampleRejected):
            self.metrics.errors.labels(kind="sample_rejected").inc()
            log.info(
                "sample rejected",
                sender=output.sender,
                row=output.coordinate.row,
                column=output.coordinate.column,
                reason=output.reason,
            )
        elif isinstance(output, AttestationRejected):
            self.metrics.errors.labels(kind="attestation_rejected").inc()
            log.info("attestation rejected", validator=output.attestation.validator, detail=output.detail)

    async def _on_certificate(self, output: CertificateFormed | PublishCertificate) -> list[Input]:
        certificate = output.certificate
        if isinstance(output, CertificateFormed):
            stored = await trio.to_thread.run_sync(self.store.put_certificate, certificate)
            if stored:
                self.metrics.certificates.inc()
            await trio.to_thread.run_sync(
                lambda: self.store.update_blob(
                    certificate.data_root, BlobStatus.CERTIFIED, signed_slots=certificate.signed_slots
                )
            )
            log.info(
                "certificate formed", data_root=certificate.data_root.hex(), signed=certificate.signed_slots
            )
            self._encoded.pop(certificate.data_root, None)  # its cells stay served from the store
            return []
        self._spawn(self._publish_certificate, certificate_to_bytes(certificate))
        return []

    def outbound_limiter(self, peer: PeerName) -> trio.CapacityLimiter:
        """Bound our concurrent requests to one peer below its per-peer limit, so a burst of honest
        work (many blobs at once) is queued here instead of being refused and scored as abuse."""
        limiter = self._outbound.get(peer)
        if limiter is None:
            capacity = max(1, self.service.config.max_concurrent_requests_per_peer // 2)
            limiter = self._outbound[peer] = trio.CapacityLimiter(capacity)
        return limiter

    def _spawn(self, function: object, *args: object) -> None:
        if self._nursery is None:
            raise RuntimeError("the node is not running")
        self._nursery.start_soon(function, *args)  # type: ignore[arg-type]

    def _custody_samples(self, push: PushCustody) -> tuple[Sample, ...]:
        encoded = self._encoded[compute_data_root(push.header)]
        return tuple(sample for column in push.columns for sample in encoded.get_column(column))

    # --- network sends (background tasks) -----------------------------------------------------------

    async def _push_custody(self, push: PushCustody, samples: tuple[Sample, ...]) -> None:
        peer = await self._peer_of(push.to)
        if peer is None:
            log.warning("no address for quorum member", validator=push.to)
            return

        async def push_once() -> None:
            verdict = await self.service.push_custody(peer, push.header, samples, push.epoch, push.quorum)
            log.info("custody pushed", validator=push.to, cells=len(samples), verdict=verdict.value)

        await self._send_with_retries(
            peer, push_once, "custody push failed", "push_failed", validator=push.to
        )

    async def _send_with_retries(
        self,
        peer: PeerName,
        send: Callable[[], Awaitable[None]],
        failure_event: str,
        failure_kind: str,
        **fields: object,
    ) -> None:
        """`send` to `peer` up to `SEND_ATTEMPTS` times with backoff, inside our per-peer outbound limit;
        after a failed stream the next attempt goes over a fresh connection (see `_connect`)."""
        stream_failed = False
        for attempt in range(SEND_ATTEMPTS):
            try:
                async with self.outbound_limiter(peer):
                    with trio.fail_after(PUSH_TIMEOUT_SECONDS):
                        await self._connect(peer, fresh=stream_failed)
                        await send()
                return
            except (NetworkError, trio.TooSlowError) as error:
                stream_failed = isinstance(error, PeerUnreachable | PeerDisconnected)
                log.warning(
                    failure_event, **fields, attempt=attempt + 1, error=str(error) or type(error).__name__
                )
                await trio.sleep(RETRY_BACKOFF_SECONDS * (attempt + 1))
        self.metrics.errors.labels(kind=failure_kind).inc()

    async def _connect(self, peer: PeerName, *, fresh: bool) -> None:
        """Dial `peer` if needed; `fresh` after a failed stream: a new connection, since the old one may
        be half-closed (every later stream on it would fail alike, and the send would be lost)."""
        try:
            if fresh:
                await self.service.reconnect(peer)
            else:
                await self.service.ensure_connected(peer)
        except PeerUnreachable:  # none of the addresses it had: the registry's may be newer
            index = self.peers.by_peer.get(peer)
            for address in self.peers.addresses.get(index, ()) if index is not None else ():
                with contextlib.suppress(NetworkError):
                    await self.service.connect(address)
                    return
            raise

    async def _request_samples(self, request: RequestSamples) -> None:
        peer = await self._peer_of(request.to)
        samples: list[Sample] = []
        missing: list[CellCoordinate] = list(request.coordinates)
        if peer is not None:
            try:
                async with self.outbound_limiter(peer):  # with pushes and attestations: all our requests
                    with trio.fail_after(SAMPLE_REQUEST_TIMEOUT_SECONDS):
                        await self._connect(peer, fresh=False)
                        response = await self.service.request_samples(
                            peer, request.data_root, request.coordinates
                        )
                samples = [s for s in response.results if s is not None]
                missing = [c for c, s in zip(request.coordinates, response.results, strict=True) if s is None]
            except (NetworkError, trio.TooSlowError) as error:
                log.info(
                    "sample request failed", validator=request.to, error=str(error) or type(error).__name__
                )
        await self._process(SamplesReceived(request.to, request.data_root, tuple(samples), tuple(missing)))

    async def _send_attestation(self, send: SendAttestation) -> None:
        peer = await self._peer_of(send.to)
        if peer is None:
            log.warning("no address for aggregator", validator=send.to)
            return

        async def send_once() -> None:
            await self.service.send_attestation(peer, attestation_to_bytes(send.attestation))

        await self._send_with_retries(
            peer, send_once, "attestation not delivered", "attestation_send_failed", aggregator=send.to
        )

    async def _publish_certificate(self, certificate: bytes) -> None:
        try:
            await self.service.publish_certificate(certificate)
        except NetworkError as error:
            log.warning("certificate not published", error=str(error))

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
        quorums = self.core.get_quorums(epoch)
        if not quorums:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        seed = await trio.to_thread.run_sync(self.registry.get_seed, epoch)
        quorum = compute_blob_quorum(encoded.data_root, seed, len(quorums))
        threshold = self.preset.certificate_threshold(len(quorums[quorum].slots))
        record = await trio.to_thread.run_sync(
            self.store.add_blob,
            data,
            encoded.header,
            encoded.data_root,
            epoch,
            quorum,
            threshold,
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
        sender = self._validator_of(peer)
        if sender is None:
            return Verdict.IGNORE
        event = CustodyReceived(
            sender, push.header, Epoch(push.epoch), QuorumIndex(push.quorum), push.samples
        )
        outputs = trio.from_thread.run(self._process, event)
        if any(isinstance(o, CustodyRejected) for o in outputs):
            reason = next(o.reason for o in outputs if isinstance(o, CustodyRejected))
            return Verdict.IGNORE if "not a member" in reason or "unknown" in reason else Verdict.REJECT
        return Verdict.ACCEPT

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
        if rejected is None or rejected.reason is None or rejected.reason.value == "duplicate":
            return Verdict.IGNORE
        return Verdict.REJECT

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        """`CertificateValidator` for gossip: a certificate that verifies against the registry."""
        try:
            certificate = bytes_to_certificate(data)
            context = self.registry.get_epoch_context(certificate.epoch)
        except ValidatorError:
            return Verdict.REJECT
        return (
            Verdict.ACCEPT if verify_certificate(certificate, context, self.preset).valid else Verdict.REJECT
        )
