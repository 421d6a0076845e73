"""The daemon's transport for the shared executor (`validator.core.executor`): durable custody, metrics
and logs for the core's events, and network sends handed to trio tasks.

Runs in the worker thread that steps the core (storage blocks there, not on the event loop); sends
are scheduled back onto the trio loop with `trio.from_thread`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
import trio

from da.header import compute_data_root
from da.types import Sample
from validator.core import (
    AttestationCounted,
    AttestationRejected,
    Attested,
    CertificateFormed,
    CustodyRejected,
    DutyFailed,
    DutyFailure,
    DutyResumed,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SampleRejected,
    StoreCustody,
)
from validator.daemon.context import NodeContext
from validator.daemon.extensions import Extensions
from validator.daemon.sends import Sends
from validator.daemon.store import BlobStatus
from validator.types import ValidatorIndex

log = structlog.get_logger(__name__)

Spawn = Callable[..., None]
"""Start an async function with its arguments as a trio task of the node (thread-safe)."""


class DaemonTransport:
    """Executes a validator core's outputs for the daemon."""

    def __init__(self, context: NodeContext, extensions: Extensions, spawn: Spawn, sends: Sends) -> None:
        self._store = context.store
        self._metrics = context.metrics
        self._extensions = extensions
        self._spawn = spawn
        self._sends = sends

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
        """The pushed columns' cells of a blob this node is dispersing, read from its stored extension
        (just those columns' cells and proofs, with the header's commitments and branches)."""
        samples = self._extensions.column_samples(compute_data_root(push.header), push.header, push.columns)
        if samples is None:
            log.warning("custody push of a blob this node no longer disperses", validator=push.to)
        return samples

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        """Durable before the core hears `CustodyStored` (a restart serves what it acknowledged)."""
        root = compute_data_root(output.header)
        count = self._store.put_custody(output.header, root, output.epoch, output.quorum, output.samples)
        self._metrics.custody_cells.inc(count)

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        """Custody pushes and attestations go out as background tasks with retries."""
        self._spawn(self._sends.deliver, to, message)

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        """The answer comes back to the core as `SamplesReceived`."""
        self._spawn(self._sends.request_samples, request)

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        """Gossip the certificate."""
        self._spawn(self._sends.publish_certificate, output.certificate)

    def record(self, node: ValidatorIndex, output: Output) -> None:
        """Store what the events change, count them, log them with fields."""
        if isinstance(output, Attested):
            self._store.put_attestation_sent(output.attestation)
            self._metrics.attestations_sent.inc()
        elif isinstance(output, AttestationCounted):
            self._metrics.attestations_received.inc()
            root = output.attestation.data_root
            self._store.update_blob(root, BlobStatus.DISPERSED, signed_slots=output.signed_slots)
        elif isinstance(output, CertificateFormed):
            certificate = output.certificate
            if self._store.put_certificate(certificate):
                self._metrics.certificates.inc()
            self._store.update_blob(
                certificate.data_root, BlobStatus.CERTIFIED, signed_slots=certificate.signed_slots
            )
            log.info(
                "certificate formed", data_root=certificate.data_root.hex(), signed=certificate.signed_slots
            )
            self._extensions.release(certificate.data_root)  # its cells stay served from the store
        elif isinstance(output, DutyFailed):
            self._metrics.errors.labels(kind="duty_failed").inc()
            if output.reason is DutyFailure.NOT_CERTIFIED:  # this node's dispersal of it is over
                self._extensions.release(output.data_root)
                self._store.update_blob(
                    output.data_root, BlobStatus.FAILED, error=f"not certified: {output.detail}"
                )
            log.warning(
                "duty failed",
                data_root=output.data_root.hex(),
                reason=output.reason.value,
                detail=output.detail,
                resumes_at=output.resume_at,
                final=output.resume_at is None,
            )
        elif isinstance(output, DutyResumed):
            self._metrics.duties_resumed.inc()
            log.info(
                "duty resumed",
                data_root=output.data_root.hex(),
                reason=output.reason.value,
                cause=output.cause,
                resumes=output.resumes,
            )
        elif isinstance(output, CustodyRejected):
            self._metrics.errors.labels(kind="custody_rejected").inc()
            log.warning(
                "custody rejected",
                data_root=output.data_root.hex(),
                sender=output.sender,
                reason=output.reason.value,
                detail=output.detail,
            )
        elif isinstance(output, SampleRejected):
            self._metrics.errors.labels(kind="sample_rejected").inc()
            log.info(
                "sample rejected",
                sender=output.sender,
                row=output.coordinate.row,
                column=output.coordinate.column,
                reason=output.reason.value,
            )
        elif isinstance(output, AttestationRejected):
            reason = output.reason.value if output.reason is not None else "no_aggregation"
            self._metrics.errors.labels(kind="attestation_rejected").inc()
            log.info(
                "attestation rejected",
                validator=output.attestation.validator,
                reason=reason,
                detail=output.detail,
            )


def spawn_from_thread(nursery: trio.Nursery) -> Spawn:
    """A `Spawn` usable from the core's worker thread: schedules the task on the trio loop."""

    def spawn(function: Callable[..., Any], *args: object) -> None:
        trio.from_thread.run_sync(nursery.start_soon, function, *args)

    return spawn
