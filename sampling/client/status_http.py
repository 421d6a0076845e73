"""The JSON status API of `das light follow`: a small ASGI app served by Hypercorn's trio worker.

GET only; request bodies are never read. HTTP parsing, keep-alive (HTTP/1.1, and HTTP/2 with prior
knowledge or h2c) and protocol errors are Hypercorn's: a request head too large for the parser gets
431 and a malformed request 400, both with an empty body, from the server itself. Everything the
app answers is JSON, with the error shape of the node API (`{"error": {"code": ..., "message": ...}}`):
431 for a head over `MAX_REQUEST_HEAD_BYTES`, 405 for other methods, 500 when a route fails, and
whatever the router returns. Reads are bounded in time (`REQUEST_TIMEOUT_SECONDS`), routes running
at once are capped (`MAX_CONCURRENT_ROUTES`), and a cancelled server shuts down gracefully (its
`shutdown_trigger`) within `SHUTDOWN_SECONDS`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
import trio
from hypercorn.config import Config
from hypercorn.logging import Logger
from hypercorn.trio import serve

from sampling.client.errors import StatusServerError

if TYPE_CHECKING:
    from hypercorn.typing import (
        ASGIReceiveCallable,
        ASGISendCallable,
        HTTPScope,
        ResponseSummary,
        Scope,
        WWWScope,
    )
    from trio_typing import TaskStatus

log = structlog.get_logger(__name__)

MAX_REQUEST_HEAD_BYTES = 8192
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_CONCURRENT_ROUTES = 32
STARTUP_SECONDS = 5.0
SHUTDOWN_SECONDS = 2.0
"""Bound on a graceful shutdown: in-flight requests are answered, idle connections closed."""

JsonAnswer = tuple[int, dict[str, Any]]
Router = Callable[[str], Awaitable[JsonAnswer]]
"""Maps a GET path (query string removed, not percent-decoded) to an HTTP status and a JSON body."""


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON error shape shared with the node API."""
    return {"error": {"code": code, "message": message}}


class _ServerLog(Logger):
    """Hypercorn's own records, re-emitted through structlog with key/value fields.

    No stdlib handlers and no access log. Hypercorn's info and debug records ("Running on ...")
    go out at debug: the status URL is reported by the caller.
    """

    def __init__(self, config: Config) -> None:  # the base would set up stdlib loggers
        self.access_log_format = config.access_log_format
        self.access_logger = None
        self.error_logger = None

    @staticmethod
    def _emit(level: int, message: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            text = message % args if args else message
        except (TypeError, ValueError):
            text = message
        fields: dict[str, Any] = {"message": text}
        if kwargs.get("exc_info"):
            fields["exc_info"] = kwargs["exc_info"]
        log.log(level if level >= logging.WARNING else logging.DEBUG, "status server", **fields)

    async def access(self, request: WWWScope, response: ResponseSummary, request_time: float) -> None:
        return

    async def critical(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.CRITICAL, message, args, kwargs)

    async def error(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.ERROR, message, args, kwargs)

    async def warning(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.WARNING, message, args, kwargs)

    async def info(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.INFO, message, args, kwargs)

    async def debug(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.DEBUG, message, args, kwargs)

    async def exception(self, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.ERROR, message, args, {**kwargs, "exc_info": True})

    async def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> None:
        self._emit(level, message, args, kwargs)


def _json_response(status: int, body: dict[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    payload = json.dumps(body, sort_keys=True).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
        (b"cache-control", b"no-store"),
    ]
    return status, headers, payload


def _head_size(scope: HTTPScope) -> int:
    """About the size of the request head: h11 only bounds a head still arriving, not one read whole."""
    target = len(scope["raw_path"]) + len(scope["query_string"]) + 1
    return target + sum(len(name) + len(value) + 4 for name, value in scope["headers"])


class StatusApp:
    """The ASGI app: `router` behind GET, JSON errors for the rest, lifespan events acknowledged."""

    def __init__(self, router: Router) -> None:
        self._router = router
        self._limiter = trio.CapacityLimiter(MAX_CONCURRENT_ROUTES)

    async def __call__(self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        """One ASGI connection scope."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, send)
        else:  # a websocket upgrade: refused (Hypercorn answers 403)
            await send({"type": "websocket.close", "code": 1008, "reason": None})

    @staticmethod
    async def _lifespan(receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: HTTPScope, send: ASGISendCallable) -> None:
        extra: list[tuple[bytes, bytes]] = []
        try:
            path = scope["raw_path"].decode("ascii")
        except UnicodeDecodeError:
            status, body = 400, error_body("bad_request", "the request path is not ASCII")
        else:
            if _head_size(scope) > MAX_REQUEST_HEAD_BYTES:
                status, body = 431, error_body("request_too_large", "request head over 8 KiB")
            elif scope["method"] != "GET":
                status, body = 405, error_body("method_not_allowed", "only GET is served")
                extra.append((b"allow", b"GET"))
            else:
                status, body = await self._route(path)
        status, headers, payload = _json_response(status, body)
        await send({"type": "http.response.start", "status": status, "headers": headers + extra})
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    async def _route(self, path: str) -> JsonAnswer:
        async with self._limiter:
            try:
                return await self._router(path)
            except Exception as error:
                log.exception("status route failed", path=path)
                return 500, error_body("internal_error", type(error).__name__)


def _config(binds: list[str]) -> Config:
    config = Config()
    config.bind = binds
    config.logger_class = _ServerLog
    config.accesslog = None
    config.errorlog = None
    config.include_server_header = False
    config.h11_max_incomplete_size = MAX_REQUEST_HEAD_BYTES
    config.h2_max_header_list_size = MAX_REQUEST_HEAD_BYTES
    config.h2_max_concurrent_streams = MAX_CONCURRENT_ROUTES
    config.read_timeout = int(REQUEST_TIMEOUT_SECONDS)
    config.keep_alive_timeout = REQUEST_TIMEOUT_SECONDS
    config.startup_timeout = STARTUP_SECONDS
    config.graceful_timeout = SHUTDOWN_SECONDS / 2
    config.shutdown_timeout = SHUTDOWN_SECONDS / 2
    return config


class _Startup:
    """The `task_status` handed to Hypercorn: it reports the server up, or that it returned without."""

    def __init__(self) -> None:
        self.settled = trio.Event()
        self.up = False

    def started(self, value: list[str] | None = None) -> None:
        self.up = True
        self.settled.set()


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def serve_status(
    router: Router,
    host: str,
    port: int,
    *,
    task_status: TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `router` on host:port (0 picks a free port) until cancelled; reports the bound address.

    The sockets are bound here, as `trio.open_tcp_listeners` does (an `OSError` such as a port in
    use comes out as is), kept open, and Hypercorn serves duplicates of them. Hypercorn runs
    shielded: a cancellation, at any point, sets its `shutdown_trigger`, and the graceful shutdown
    that follows is bounded by `SHUTDOWN_SECONDS` (startup by `STARTUP_SECONDS`).

    Hypercorn's trio worker lets an error in one connection end the whole server; for the known
    one (a `KeyError` on HTTP/2 data for a stream already answered, pgjones/hypercorn#329) the
    server is restarted on the same sockets, so a client cannot take down `das light follow`.
    """
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    address = (str(bound[0]), int(bound[1]))
    stop = trio.Event()
    startup = _Startup()
    server_scope = trio.CancelScope(shield=True, deadline=trio.current_time() + STARTUP_SECONDS)

    async def run_server() -> None:
        with server_scope:
            while not stop.is_set():
                config = _config([f"fd://{os.dup(listener.socket.fileno())}" for listener in listeners])
                try:
                    await serve(StatusApp(router), config, shutdown_trigger=stop.wait, task_status=startup)
                except* KeyError as crash:
                    log.error("status server crashed, restarting", error=repr(_first_leaf(crash)))
        startup.settled.set()  # returned (stopped, or startup timed out): nobody waits in vain

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_server)
            try:
                await startup.settled.wait()
                if not startup.up:
                    raise StatusServerError(f"the status server did not start within {STARTUP_SECONDS} s")
                server_scope.deadline = math.inf
                log.debug("status server listening", host=address[0], port=address[1])
                task_status.started(address)
                await trio.sleep_forever()
            finally:
                stop.set()
                server_scope.deadline = min(server_scope.deadline, trio.current_time() + SHUTDOWN_SECONDS)
    finally:
        for listener in listeners:
            listener.socket.close()
