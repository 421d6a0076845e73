"""The node's request handlers: what the libp2p service calls (from trio worker threads) to serve
samples and headers, take custody pushes and attestations, and judge certificate gossip. They
implement the Protocols of `network.ports`. Verdicts come from the core's typed reasons
(`blames_sender`), never from matching strings."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
import trio

from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot, GridSample, RowIndex, Sample
from network.messages import CustodyPush
from network.types import PeerName, Verdict
from validator.certificate_gossip import compute_certificate_judgement
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    AttestationRejected,
    CustodyReceived,
    CustodyRejected,
    CustodyRejection,
)
from validator.custody import compute_extended_custody
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver, Process
from validator.daemon.extensions import Extensions
from validator.daemon.peer_book import PeerBook
from validator.daemon.restart import is_within_availability_window
from validator.daemon.retention import DEFAULT_RETENTION_EPOCHS
from validator.errors import InsufficientStorage, RegistryError, ValidatorError
from validator.types import Epoch, QuorumIndex
from validator.wire import ATTESTATION_BYTES, bytes_to_attestation

log = structlog.get_logger(__name__)


class RequestHandlers:
    """`SampleStore`, `GridSampleStore`, `HeaderStore`, `CustodySink`, `AttestationSink` and
    `CertificateValidator`."""

    def __init__(
        self,
        context: NodeContext,
        driver: CoreDriver,
        peers: PeerBook,
        extensions: Extensions,
        window_epochs: int = DEFAULT_RETENTION_EPOCHS,
    ) -> None:
        """`window_epochs`: the availability window (custody is taken for epochs within it)."""
        self._window_epochs = window_epochs
        self._context = context
        self._driver = driver
        self._process: Process = driver.process
        self._peers = peers
        self._extensions = extensions

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        """`SampleStore`: the custody cells this node stored, and every cell of blobs it encoded (read
        by coordinate from the extension the store keeps)."""
        self._context.metrics.sample_requests.inc()
        return self._held_samples(data_root, coordinates)

    def _held_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[Sample | None]:
        """What `get_samples` serves, without counting a request (grid requests read it too)."""
        encoded = self._extensions.get_samples(data_root, coordinates)
        if encoded is not None:
            return encoded
        return self._context.store.get_samples(data_root, coordinates)

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        """`GridSampleStore` (`/tessera/samples/2`): cells of the blob's 2D grid. Original rows are
        what `get_samples` serves; extended rows come from the custody columns' derived cells, and for
        a blob this node encoded, are derived on demand from the asked columns' original cells, read
        from its stored extension (only those columns). One request counts once."""
        self._context.metrics.sample_requests.inc()
        known = self._context.store.get_header(data_root)
        if known is None:
            return [None] * len(coordinates)
        header = known[0]
        row_count = header.row_count
        result = self._context.store.get_grid_samples(data_root, coordinates)
        originals = [
            c for c, held in zip(coordinates, result, strict=True) if held is None and c.row < row_count
        ]
        if originals:
            found = {
                sample.coordinate: sample
                for sample in self._held_samples(data_root, originals)
                if sample is not None
            }
            result = [
                held if held is not None or c not in found else _as_grid_sample(found[c])
                for c, held in zip(coordinates, result, strict=True)
            ]
        wanted = sorted(
            {
                c.column
                for c, held in zip(coordinates, result, strict=True)
                if held is None and c.row >= row_count
            }
        )
        if not wanted or self._context.store.get_blob(data_root) is None:
            return result
        column_cells = [
            CellCoordinate(RowIndex(row), ColumnIndex(column))
            for column in wanted
            for row in range(row_count)
        ]
        held_originals = [
            sample for sample in self._held_samples(data_root, column_cells) if sample is not None
        ]
        derived = {sample.coordinate: sample for sample in compute_extended_custody(header, held_originals)}
        return [
            held if held is not None else derived.get(c) for c, held in zip(coordinates, result, strict=True)
        ]

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """`HeaderStore`: headers of blobs this node took or holds custody for."""
        known = self._context.store.get_header(data_root)
        return None if known is None else known[0]

    def accept_custody(self, peer: PeerName, data_root: DataRoot, push: CustodyPush) -> Verdict:
        """`CustodySink`: hand the push to the core; ACCEPT once the cells are verified and stored.
        A push for an epoch this node has not learnt (one just begun, or an earlier one after a
        restart) is taken within the availability window, once the registry gave that epoch's
        context; IGNORE outside it. While the registry does not answer, a push for an epoch already
        learnt is judged from what this node knows, and any other is IGNOREd (it cannot judge it now).
        Below the free-disk threshold every push is IGNOREd with a typed reason."""
        epoch = Epoch(push.epoch)
        try:
            sender = self._peers.validator_of(peer)
            if sender is None or not self._is_epoch_in_window(epoch):
                return Verdict.IGNORE
            trio.from_thread.run(self._driver.ensure_epoch_known, epoch)
        except RegistryError as error:
            sender = self._peers.known_validator_of(peer)
            if sender is None or not self._driver.is_epoch_known(epoch):
                log.info("custody push not judged: registry", epoch=epoch, error=str(error))
                return Verdict.IGNORE
        if self._refused_for_disk(data_root, sender):
            return Verdict.IGNORE
        event = CustodyReceived(sender, push.header, epoch, QuorumIndex(push.quorum), push.samples)
        outputs = trio.from_thread.run(self._process, event)
        rejected = next((o for o in outputs if isinstance(o, CustodyRejected)), None)
        if rejected is None:
            # A store that failed for lack of space left the cells unstored: not acknowledged.
            disk = self._context.disk
            return Verdict.IGNORE if disk is not None and disk.write_failed_recently() else Verdict.ACCEPT
        return Verdict.REJECT if rejected.reason.blames_sender else Verdict.IGNORE

    def _is_epoch_in_window(self, epoch: Epoch) -> bool:
        """Whether work for `epoch` is still taken by the registry's clock (blocking)."""
        current = self._context.registry.current_epoch()
        if is_within_availability_window(epoch, current, self._window_epochs):
            return True
        log.info("custody push outside the availability window", epoch=epoch, current=current)
        return False

    def _refused_for_disk(self, data_root: DataRoot, sender: int) -> bool:
        """True (logged with its typed reason, counted) when the disk guard refuses new data."""
        disk = self._context.disk
        if disk is None:
            return False
        try:
            disk.check()
        except InsufficientStorage as error:
            reason = CustodyRejection.INSUFFICIENT_STORAGE
            self._context.metrics.errors.labels(kind=f"custody_{reason.value}").inc()
            log.warning(
                "custody refused",
                data_root=data_root.hex(),
                sender=sender,
                reason=reason.value,
                detail=error.detail,
            )
            return True
        return False

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
        return compute_certificate_judgement(data, self._context.registry, self._context.preset).verdict


def _as_grid_sample(sample: Sample) -> GridSample:
    return GridSample(row=sample.row, column=sample.column, cell=sample.cell, proof=sample.proof)
