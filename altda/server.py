"""`das altda serve`: the OP Stack Alt-DA server over Tessera validators (aiohttp).

`POST /put` (and `/put/`): the raw payload in, the raw commitment out once a validator has certified
it and this server has verified the certificate. `GET /get/0x{commitment}[?l1_inclusion_block_number=N]`:
the payload, after the derivation rule of `altda.derivation` (parse, recency, certificate) and the
bytes checked against the data root. `GET /health`, `GET /metrics`. Blocking work (validators' APIs,
the registry, the header computation in the pool's worker process) runs in worker threads; the
read cache is owned by the handlers on the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from altda.cache import PayloadCache
from altda.commitment import compute_commitment
from altda.config import AltDAConfig
from altda.derivation import (
    CertificateChecker,
    CommitmentRejected,
    DropCode,
    EpochClock,
    HeaderOf,
    check_blob,
    check_certificate,
    check_recency,
    parse_commitment,
)
from altda.errors import AltDAError, BodyTimeout, PayloadRefused, ServerBusy
from altda.l1 import L1Clock
from altda.payload import wrap_payload
from altda.status import BadRequest, answer_for
from altda.upstream import Validators
from da.errors import DAError
from da.header import compute_data_root
from validator.certificate import bytes_to_certificate

log = structlog.get_logger(__name__)

OCTET_STREAM = "application/octet-stream"
T = TypeVar("T")
RETRY_AFTER_S = 1
MAX_BLOCK_NUMBER_DIGITS = 20
"""Longest `l1_inclusion_block_number` taken (2**64 has 20 digits); `"²".isdigit()` is True, so
ASCII digits are asked for too."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class AltDAMetrics:
    """The server's counters (its own registry, no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.puts = Counter("tessera_altda_puts", "Puts by outcome", ["outcome"], registry=self.registry)
        self.gets = Counter("tessera_altda_gets", "Gets by outcome", ["outcome"], registry=self.registry)
        self.put_seconds = Histogram(
            "tessera_altda_put_seconds", "Payload in to commitment out", registry=self.registry
        )
        self.cache_hits = Counter(
            "tessera_altda_cache_hits", "Gets answered from the cache", registry=self.registry
        )
        self.cache_bytes = Gauge(
            "tessera_altda_cache_bytes", "Payload bytes in the read cache", registry=self.registry
        )


@dataclass(slots=True)
class AltDAService:
    """What the handlers use: the config, the validators, the checks, the cache and the metrics."""

    config: AltDAConfig
    validators: Validators
    checker: CertificateChecker
    clock: EpochClock
    header_of: HeaderOf
    l1: L1Clock | None
    cache: PayloadCache
    metrics: AltDAMetrics
    workers: ThreadPoolExecutor = field(init=False)
    """The threads blocking calls run in, one per request served at once (`max_in_flight`)."""
    in_flight: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.workers = ThreadPoolExecutor(self.config.max_in_flight, thread_name_prefix="altda")

    def close(self) -> None:
        """Stop the worker threads (after the server has stopped taking requests)."""
        self.workers.shutdown(wait=False, cancel_futures=True)

    @contextlib.contextmanager
    def admitted(self) -> Iterator[None]:
        """Hold one of the `max_in_flight` places for a request; `ServerBusy` when none is free."""
        if self.in_flight >= self.config.max_in_flight:
            raise ServerBusy(f"{self.in_flight} requests in flight, at most {self.config.max_in_flight}")
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on a worker thread. A request cancelled meanwhile (its client hung up)
        keeps its place until the thread is free, so the places count the threads really busy."""
        future = asyncio.get_running_loop().run_in_executor(self.workers, function, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            if not future.cancelled() and future.exception() is not None:  # retrieved: nobody awaits it
                log.info("altda request ended after its client left", error=str(future.exception()))
            raise

    async def put(self, payload: bytes) -> bytes:
        """The commitment of `payload`, once certified and verified."""
        blob = wrap_payload(payload)
        try:  # the data root, computed here, so no validator can swap it
            root = compute_data_root(await self._run(self.header_of, blob))
        except DAError as error:
            raise PayloadRefused("request_too_large", str(error)) from error
        certified = await self._run(self.validators.certify, blob, root, self.config.certify_timeout_s)
        commitment = compute_commitment(bytes_to_certificate(certified.certificate))
        log.info("altda put", node=certified.node, attempts=certified.attempts, bytes=len(payload),
                 data_root="0x" + commitment[3:35].hex())  # fmt: skip
        return commitment

    async def get(self, text: str, l1_block: int | None) -> bytes:
        """The payload a commitment (0x-hex) names, after every check of the derivation rule."""
        raw = _hex_bytes(text)
        commitment = parse_commitment(raw)
        if l1_block is not None and self.l1 is not None:
            l1_time = await self._run(self.l1.block_time, l1_block)
            check_recency(commitment, l1_time, self.clock, self.config.recency_window_s)
        cached = self.cache.get(raw)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return cached
        await self._run(check_certificate, commitment, self.checker)

        def accept(blob: bytes) -> bytes:
            return check_blob(commitment, blob, self.header_of)

        payload: bytes = await self._run(self.validators.fetch, commitment.data_root, accept)
        self.cache.put(raw, payload)
        self.metrics.cache_bytes.set(self.cache.size_bytes)
        return payload


def _hex_bytes(text: str) -> bytes:
    """The commitment bytes of a path segment; a text that is not 0x-hex is a commitment that does
    not parse (dropped, code 1)."""
    try:
        if text.startswith("0x"):
            return bytes.fromhex(text[2:])
    except ValueError as error:
        raise CommitmentRejected(DropCode.PARSE, f"the commitment is not hex: {error}") from error
    raise CommitmentRejected(DropCode.PARSE, "the commitment must be 0x-prefixed hex")


SERVICE_KEY: web.AppKey[AltDAService] = web.AppKey("altda", AltDAService)


def _error(error: AltDAError) -> web.Response:
    status, body = answer_for(error)
    headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(error, ServerBusy) else None
    return web.json_response(body, status=int(status), headers=headers)


async def read_payload(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The whole body of a put: `PayloadRefused` `request_too_large` (413) once it declares or sends
    more than `limit` bytes, `BodyTimeout` (408) when it is not whole within `timeout_s`."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadRefused("request_too_large", f"the body declares {declared} bytes, at most {limit}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise PayloadRefused("request_too_large", f"the body passed {limit} bytes")
                chunks.append(chunk)
    except TimeoutError as error:
        raise BodyTimeout(f"the body did not arrive within {timeout_s:g} s ({size} bytes came)") from error
    return b"".join(chunks)


async def handle_put(request: web.Request) -> web.StreamResponse:
    """POST /put: payload in, commitment out."""
    service = request.app[SERVICE_KEY]
    started = time.monotonic()
    try:
        if request.match_info.get("tail"):
            raise BadRequest("Tessera makes its own commitments: POST /put with the payload, no commitment")
        # read before taking a place: a slow client holds no place while its bytes trickle in
        payload = await read_payload(request, service.config.max_payload_bytes, service.config.body_timeout_s)
        with service.admitted():
            commitment = await service.put(payload)
    except AltDAError as error:
        outcome = type(error).__name__
        service.metrics.puts.labels(outcome).inc()
        log.info("altda put refused", error=str(error), outcome=outcome)
        return _error(error)
    service.metrics.puts.labels("ok").inc()
    service.metrics.put_seconds.observe(time.monotonic() - started)
    return web.Response(body=commitment, content_type=OCTET_STREAM)


async def handle_get(request: web.Request) -> web.StreamResponse:
    """GET /get/0x{commitment}: the payload."""
    service = request.app[SERVICE_KEY]
    try:
        l1_block = _l1_block(request)
        with service.admitted():
            payload = await service.get(request.match_info["commitment"], l1_block)
    except AltDAError as error:
        outcome = type(error).__name__
        service.metrics.gets.labels(outcome).inc()
        log.info("altda get refused", error=str(error), outcome=outcome)
        return _error(error)
    service.metrics.gets.labels("ok").inc()
    return web.Response(body=payload, content_type=OCTET_STREAM)


def _l1_block(request: web.Request) -> int | None:
    value = request.query.get("l1_inclusion_block_number")
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_BLOCK_NUMBER_DIGITS):
        raise BadRequest(f"l1_inclusion_block_number must be a block number, not {value!r}")
    return int(value)


async def handle_health(request: web.Request) -> web.StreamResponse:
    """GET /health: the server runs (and which validators it uses)."""
    service = request.app[SERVICE_KEY]
    return web.json_response({"status": "ok", "nodes": list(service.validators.urls)})


async def handle_metrics(request: web.Request) -> web.StreamResponse:
    """GET /metrics: Prometheus text exposition."""
    body = generate_latest(request.app[SERVICE_KEY].metrics.registry)
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


@web.middleware
async def _json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An oversize body is a JSON 413 (aiohttp raises it while reading); a failure no handler maps
    (a registry RPC down, a bug) is logged in full and a JSON 500 naming only the error's type (its
    text may carry an RPC URL's API key), which op-batcher and op-node retry."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge as error:
        return web.json_response({"error": {"code": "request_too_large", "message": error.text}}, status=413)
    except web.HTTPException:
        raise
    except Exception as error:
        log.exception("altda request failed", path=request.path, method=request.method)
        # the error's text may name an RPC URL with its API key: only its type goes out
        body = {"error": {"code": "internal_error", "message": f"internal error ({type(error).__name__})"}}
        return web.json_response(body, status=500)


def build_app(service: AltDAService) -> web.Application:
    """The aiohttp application: bodies bounded by the largest payload."""
    app = web.Application(client_max_size=service.config.max_payload_bytes, middlewares=[_json_errors])
    app[SERVICE_KEY] = service
    app.router.add_post("/put", handle_put)
    app.router.add_post("/put/{tail:.*}", handle_put)
    app.router.add_get("/get/{commitment}", handle_get)
    app.router.add_get("/health", handle_health)
    app.router.add_get("/metrics", handle_metrics)
    return app


@dataclass(slots=True)
class RunningServer:
    """A started Alt-DA server: its runner and the URL it listens on."""

    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        """Stop accepting requests, cancel those in flight, release the socket."""
        await self.runner.cleanup()


async def start_server(service: AltDAService) -> RunningServer:
    """Serve `build_app(service)` on the service's host and port (0: chosen by the OS), with handler
    cancellation on (a client that hangs up cancels its request's work)."""
    runner = web.AppRunner(build_app(service), handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, service.config.host, service.config.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    return RunningServer(runner, f"http://{host}:{port}")
