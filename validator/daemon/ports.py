"""The node's ports: what the libp2p service calls (from trio worker threads) to serve samples and
headers, take custody pushes and attestations, and judge certificate gossip. Verdicts come from the
core's typed reasons (`blames_sender`), never from matching strings."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import trio

from da import EncodedBlob
from da.types import BlobHeader, CellCoordinate, DataRoot, Sample
from network.messages import CustodyPush
from network.types import PeerName, Verdict
from validator.certificate_gossip import compute_certificate_judgement
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    AttestationRejected,
    CustodyReceived,
    CustodyRejected,
)
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.daemon.sends import Process
from validator.daemon.store import NodeStore
from validator.errors import ValidatorError
from validator.presets import Preset
from validator.registry import EpochSource
from validator.types import Epoch, QuorumIndex
from validator.wire import ATTESTATION_BYTES, bytes_to_attestation

REPLICA_CACHE_BLOBS = 4
"""Certified blobs whose whole extension stays in memory for serving (about 2.4 MiB per MiB of blob)."""


def _cells_of(encoded: EncodedBlob, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
    return [encoded.get_sample(c) if c.row < len(encoded.rows) else None for c in coordinates]


class NodePorts:
    """`SampleStore`, `HeaderStore`, `CustodySink`, `AttestationSink` and `CertificateValidator`."""

    def __init__(
        self,
        process: Process,
        peers: PeerBook,
        store: NodeStore,
        metrics: NodeMetrics,
        encoded: dict[DataRoot, EncodedBlob],
        registry: EpochSource,
        preset: Preset,
    ) -> None:
        self._process = process
        self._peers = peers
        self._store = store
        self._metrics = metrics
        self._encoded = encoded
        self._registry = registry
        self._preset = preset
        self._replicas: OrderedDict[DataRoot, EncodedBlob] = OrderedDict()
        """The most recently asked-for certified blobs this node encoded, rebuilt from the store."""
        self._replicas_lock = threading.Lock()

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        """`SampleStore`: the custody cells this node stored, and every cell of blobs it encoded (from
        memory while dispersing, then from the extension the store keeps)."""
        self._metrics.sample_requests.inc()
        encoded = self._encoded.get(data_root)
        if encoded is not None:
            return _cells_of(encoded, coordinates)
        held = self._store.get_samples(data_root, coordinates)
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
        rebuilt = self._store.get_extension(data_root)
        if rebuilt is not None:
            with self._replicas_lock:
                self._replicas[data_root] = rebuilt
                while len(self._replicas) > REPLICA_CACHE_BLOBS:
                    self._replicas.popitem(last=False)
        return rebuilt

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """`HeaderStore`: headers of blobs this node took or holds custody for."""
        known = self._store.get_header(data_root)
        return None if known is None else known[0]

    def accept_custody(self, peer: PeerName, data_root: DataRoot, push: CustodyPush) -> Verdict:
        """`CustodySink`: hand the push to the core; ACCEPT once the cells are verified and stored."""
        sender = self._peers.validator_of(peer)
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
        return compute_certificate_judgement(data, self._registry, self._preset).verdict
