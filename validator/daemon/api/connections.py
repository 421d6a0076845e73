"""The API's connections, each bounded: how many are open, how long one may sit without a request,
how many requests one may carry.

aiohttp gives the per-connection timers: its `keepalive_timeout` closes a connection that has not
delivered a complete request head within that time of opening or of its previous response (an idle
keep-alive connection and a slow-header one alike), and `lingering_time` bounds how long a body the
handler did not read is drained. What aiohttp lacks is a cap on connections and on requests per
connection; `ConnectionGate` adds both, as a protocol wrapper around aiohttp's own request handler
(`GatedSite` serves through it) and a middleware that sees every request.

At the cap a new connection displaces the connection idle the longest (one with no request in
progress: waiting for its first or next request head); only when every open connection is inside a
request is the new one refused, with a minimal `503` and `Retry-After`. Idle connections are what a
flood of sockets holds, so the node keeps answering new clients while the flood lasts.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from validator.daemon.api.errors import Handler

log = structlog.get_logger(__name__)

REFUSED_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 90\r\n\r\n"
    b'{"error": {"code": "service_unavailable", "message": "too many connections; retry soon"}}'
)
"""What a connection refused at the cap reads before it is closed (the JSON error of `errors`)."""


@dataclass(slots=True)
class _Connection:
    """One open connection as the gate sees it."""

    transport: asyncio.Transport
    opened: float
    requests: int = 0
    in_request: int = 0


@dataclass(slots=True)
class GateStats:
    """Counters of one gate since it started (a snapshot)."""

    open: int = 0
    accepted: int = 0
    displaced: int = 0
    refused: int = 0
    closed_at_request_limit: int = 0


@dataclass(slots=True, eq=False)
class ConnectionGate:
    """Owns the set of open API connections (bounded by `max_connections`) and each one's request
    count (bounded by `max_requests_per_connection`); entries leave when their connection closes."""

    max_connections: int
    max_requests_per_connection: int
    _open: dict[RequestHandler, _Connection] = field(default_factory=dict)
    _idle: OrderedDict[RequestHandler, None] = field(default_factory=OrderedDict)
    """Open connections with no request in progress, longest idle first."""
    stats: GateStats = field(default_factory=GateStats)

    def admit(self, handler: RequestHandler, transport: asyncio.Transport) -> bool:
        """Take a new connection; at the cap, close the longest-idle one to make room, or return
        False (refused) when every open connection is inside a request."""
        if len(self._open) >= self.max_connections:
            if not self._idle:
                self.stats.refused += 1
                return False
            oldest, _ = self._idle.popitem(last=False)
            self.stats.displaced += 1
            oldest.force_close()  # its connection_lost removes it from `_open`
            self._open.pop(oldest, None)
        self._open[handler] = _Connection(transport, time.monotonic())
        self._idle[handler] = None
        self.stats.accepted += 1
        self.stats.open = len(self._open)
        return True

    def closed(self, handler: RequestHandler) -> None:
        """Forget a connection that closed."""
        self._open.pop(handler, None)
        self._idle.pop(handler, None)
        self.stats.open = len(self._open)

    def request_started(self, handler: RequestHandler) -> bool:
        """Note a request on `handler`'s connection; True when it is the last the connection may
        carry (its response then says `Connection: close`)."""
        connection = self._open.get(handler)
        if connection is None:
            return False
        connection.requests += 1
        connection.in_request += 1
        self._idle.pop(handler, None)
        return connection.requests >= self.max_requests_per_connection

    def request_ended(self, handler: RequestHandler) -> None:
        """The request's handler returned: the connection is idle again (most recently)."""
        connection = self._open.get(handler)
        if connection is None:
            return
        connection.in_request -= 1
        if connection.in_request == 0:
            self._idle[handler] = None

    @property
    def open_connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    def collect(self) -> Iterator[Metric]:
        """The gate's figures as Prometheus metrics (a collector: read when /metrics is served)."""
        yield GaugeMetricFamily("tessera_api_connections", "Open API connections", value=len(self._open))
        counters = {
            "accepted": "API connections taken",
            "displaced": "Idle API connections closed to make room at the cap",
            "refused": "API connections refused at the cap (every connection inside a request)",
            "closed_at_request_limit": "API connections closed after their last allowed request",
        }
        for name, text in counters.items():
            yield CounterMetricFamily(
                f"tessera_api_connections_{name}", text, value=getattr(self.stats, name)
            )

    def render(self) -> bytes:
        """The gate's metrics in the Prometheus text exposition."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return generate_latest(registry)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Count the request on its connection, which is not idle (not displaceable) until its
        answer is written; the last request allowed answers `Connection: close`."""
        protocol = request.protocol
        if not isinstance(protocol, RequestHandler):
            return await handler(request)
        last = self.request_started(protocol)
        try:
            response = await handler(request)
            if last:
                self.stats.closed_at_request_limit += 1
                response.force_close()
            await response.prepare(request)  # aiohttp's own prepare and write_eof are then no-ops
            await response.write_eof()
        finally:
            self.request_ended(protocol)
        return response


class _GatedProtocol(asyncio.Protocol):
    """aiohttp's request handler for one connection, admitted (or refused) by the gate first."""

    def __init__(self, server: web.Server, gate: ConnectionGate) -> None:
        self._server = server
        self._gate = gate
        self._handler: RequestHandler | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            transport.close()
            return
        handler = self._server()
        if not self._gate.admit(handler, transport):
            log.info("api connection refused: at the cap", open=self._gate.open_connections)
            transport.write(REFUSED_RESPONSE)
            transport.close()
            return
        self._handler = handler
        handler.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._handler is not None:
            self._gate.closed(self._handler)
            self._handler.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._handler is not None:
            self._handler.data_received(data)

    def eof_received(self) -> bool | None:
        if self._handler is not None:
            self._handler.eof_received()  # aiohttp's handler keeps the transport open (returns None)
        return None

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()


class GatedSite(web.BaseSite):
    """A TCP site (as aiohttp's `TCPSite`) whose every connection goes through `gate` first."""

    __slots__ = ("_gate", "_host", "_port")

    def __init__(
        self, runner: web.BaseRunner, host: str, port: int, gate: ConnectionGate, backlog: int
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._gate = gate

    @property
    def name(self) -> str:
        """The URL this site serves."""
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        """Listen on host:port; each accepted socket gets a gated protocol over the runner's server."""
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("the runner is not set up")
        gate = self._gate
        self._server = await asyncio.get_running_loop().create_server(
            lambda: _GatedProtocol(server, gate),
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
        )
