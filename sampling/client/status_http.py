"""A minimal JSON-only HTTP/1.1 server on trio streams, for `das light follow`'s status API.

GET only, no request bodies, one request per connection (`Connection: close`). Every read is
bounded in size (`MAX_REQUEST_HEAD_BYTES`) and time (`REQUEST_TIMEOUT_SECONDS`), and connections
served at once are capped; anything else gets a JSON error
(`{"error": {"code": ..., "message": ...}}`, the codes of the node API).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import structlog
import trio

if TYPE_CHECKING:
    from trio_typing import TaskStatus

log = structlog.get_logger(__name__)

MAX_REQUEST_HEAD_BYTES = 8192
REQUEST_TIMEOUT_SECONDS = 5.0
MAX_CONNECTIONS = 32

JsonAnswer = tuple[int, dict[str, Any]]
Router = Callable[[str], Awaitable[JsonAnswer]]
"""Maps a GET path (query string removed) to an HTTP status and a JSON body."""


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON error shape shared with the node API."""
    return {"error": {"code": code, "message": message}}


def encode_response(status: int, body: dict[str, Any]) -> bytes:
    """A complete HTTP/1.1 response carrying `body` as JSON."""
    payload = json.dumps(body, sort_keys=True).encode()
    reason = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + payload


def parse_request_line(head: bytes) -> tuple[str, str] | None:
    """(method, path without query) of a request head, or None when it is not HTTP/1.x."""
    line = head.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return None
    try:
        method, target = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not target.startswith("/"):
        return None
    return method, target.split("?", 1)[0]


async def _read_head(stream: trio.SocketStream) -> bytes | None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await stream.receive_some(4096)
        if not chunk:
            return None
        head += chunk
        if len(head) > MAX_REQUEST_HEAD_BYTES:
            return b""
    return head


async def _answer(stream: trio.SocketStream, router: Router) -> None:
    head: bytes | None = None
    with trio.move_on_after(REQUEST_TIMEOUT_SECONDS):
        head = await _read_head(stream)
    if head is None:
        return  # closed or too slow: nothing worth answering
    request = parse_request_line(head) if head else None
    if not head:
        status, body = 431, error_body("request_too_large", "request head over 8 KiB")
    elif request is None:
        status, body = 400, error_body("bad_request", "not an HTTP/1.x request")
    elif request[0] != "GET":
        status, body = 405, error_body("method_not_allowed", "only GET is served")
    else:
        try:
            status, body = await router(request[1])
        except Exception as error:
            log.exception("status route failed", path=request[1])
            status, body = 500, error_body("internal_error", type(error).__name__)
    with trio.move_on_after(REQUEST_TIMEOUT_SECONDS):
        await stream.send_all(encode_response(status, body))


async def serve_status(
    router: Router,
    host: str,
    port: int,
    *,
    task_status: TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `router` on host:port (0 picks a free port) until cancelled; reports the bound address."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    limiter = trio.CapacityLimiter(MAX_CONNECTIONS)

    async def handle(stream: trio.SocketStream) -> None:
        async with limiter, stream:
            try:
                await _answer(stream, router)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                return

    task_status.started((str(bound[0]), int(bound[1])))
    await trio.serve_listeners(handle, listeners)
