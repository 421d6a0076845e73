"""The daemon's network sends (trio tasks): custody pushes and attestations with retries and backoff,
sample requests whose answers go back to the core, certificate gossip. All requests to one peer share
one outbound limit, so a burst of honest work is queued here instead of being refused as abuse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
import trio

from da.types import CellCoordinate, GridSample
from network.errors import NetworkError, PeerDisconnected, PeerUnreachable
from network.service import NetworkService
from network.types import PeerName
from validator.certificate import certificate_to_bytes
from validator.core import (
    AttestationReceived,
    CustodyReceived,
    Input,
    RequestSamples,
    SamplesReceived,
)
from validator.daemon.driver import Process
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.types import Certificate, ValidatorIndex
from validator.wire import attestation_to_bytes

log = structlog.get_logger(__name__)

PUSH_TIMEOUT_SECONDS = 20.0
SAMPLE_REQUEST_TIMEOUT_SECONDS = 5.0
SEND_ATTEMPTS = 4
RETRY_BACKOFF_SECONDS = 1.0


class Sends:
    """Sends of one node over its libp2p service."""

    def __init__(
        self, service: NetworkService, peers: PeerBook, metrics: NodeMetrics, process: Process
    ) -> None:
        self._service = service
        self._peers = peers
        self._metrics = metrics
        self._process = process
        self._outbound: dict[PeerName, trio.CapacityLimiter] = {}
        """Per peer with a send in flight or waiting: dropped when its last one ends."""

    @asynccontextmanager
    async def outbound_slot(self, peer: PeerName) -> AsyncIterator[None]:
        """One of our concurrent requests to `peer`, bounded below its per-peer limit. The peer's
        limiter lives only while some send holds or waits for it, so the map never outgrows the
        sends in flight."""
        limiter = self._outbound.get(peer)
        if limiter is None:
            capacity = max(1, self._service.config.max_concurrent_requests_per_peer // 2)
            limiter = self._outbound[peer] = trio.CapacityLimiter(capacity)
        try:
            async with limiter:
                yield
        finally:
            if not limiter.borrowed_tokens and not limiter.statistics().tasks_waiting:
                self._outbound.pop(peer, None)

    @property
    def peers_with_limiters(self) -> int:
        """Peers with an outbound limiter held (a send in flight or waiting)."""
        return len(self._outbound)

    async def deliver(self, to: ValidatorIndex, message: Input) -> None:
        """A custody push or an attestation to validator `to`, retried with backoff."""
        peer = await self._peers.peer_of(to)
        if peer is None:
            log.warning("no address for validator", validator=to, message=type(message).__name__)
            return
        if isinstance(message, CustodyReceived):
            push = message

            async def push_once() -> None:
                verdict = await self._service.push_custody(
                    peer, push.header, push.samples, push.epoch, push.quorum
                )
                log.info("custody pushed", validator=to, cells=len(push.samples), verdict=verdict.value)

            await self._with_retries(peer, push_once, "custody push failed", "push_failed", validator=to)
        elif isinstance(message, AttestationReceived):
            payload = attestation_to_bytes(message.attestation)

            async def send_once() -> None:
                await self._service.send_attestation(peer, payload)

            await self._with_retries(
                peer, send_once, "attestation not delivered", "attestation_send_failed", aggregator=to
            )
        else:
            log.error("no wire form for this input", message=type(message).__name__)

    async def _with_retries(
        self,
        peer: PeerName,
        send: Callable[[], Awaitable[None]],
        failure_event: str,
        failure_kind: str,
        **fields: object,
    ) -> None:
        """`send` up to `SEND_ATTEMPTS` times with backoff inside the outbound limit; after a failed
        stream the next attempt goes over a fresh connection (see `PeerBook.connect`)."""
        stream_failed = False
        for attempt in range(SEND_ATTEMPTS):
            try:
                async with self.outbound_slot(peer):
                    with trio.fail_after(PUSH_TIMEOUT_SECONDS):
                        await self._peers.connect(self._service, peer, fresh=stream_failed)
                        await send()
                return
            except (NetworkError, trio.TooSlowError) as error:
                stream_failed = isinstance(error, PeerUnreachable | PeerDisconnected)
                log.warning(
                    failure_event, **fields, attempt=attempt + 1, error=str(error) or type(error).__name__
                )
                await trio.sleep(RETRY_BACKOFF_SECONDS * (attempt + 1))
        self._metrics.errors.labels(kind=failure_kind).inc()

    async def request_samples(self, request: RequestSamples) -> None:
        """Ask once; whatever comes back (or nothing) goes to the core as `SamplesReceived`."""
        peer = await self._peers.peer_of(request.to)
        samples: list[GridSample] = []
        missing: list[CellCoordinate] = list(request.coordinates)
        if peer is not None:
            try:
                async with self.outbound_slot(peer):
                    with trio.fail_after(SAMPLE_REQUEST_TIMEOUT_SECONDS):
                        await self._peers.connect(self._service, peer, fresh=False)
                        response = await self._service.request_grid_samples(
                            peer, request.data_root, request.coordinates
                        )
                samples = [s for s in response.results if s is not None]
                missing = [c for c, s in zip(request.coordinates, response.results, strict=True) if s is None]
            except (NetworkError, trio.TooSlowError) as error:
                log.info(
                    "sample request failed", validator=request.to, error=str(error) or type(error).__name__
                )
        await self._process(SamplesReceived(request.to, request.data_root, tuple(samples), tuple(missing)))

    async def publish_certificate(self, certificate: Certificate) -> None:
        """Gossip a fresh certificate; a failure is logged (the certificate is stored either way)."""
        try:
            await self._service.publish_certificate(certificate_to_bytes(certificate))
        except NetworkError as error:
            log.warning("certificate not published", error=str(error))
