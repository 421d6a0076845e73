"""The routes of `das light follow --http` and their OpenAPI document, from one table.

`GET /v1/status` (counts, lag, peers), `GET /v1/blobs/{data_root}` (queued, sampling with progress,
or the stored result) and `GET /v1/openapi.json` (this document). The transport (`status_http`)
answers 405 with `Allow: GET` for other methods, 431 for an oversized request head and 500 when a
route fails; those codes are in the document too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from da.errors import InvalidDataRoot
from da.header import hex_to_data_root
from sampling.client.status_http import MAX_REQUEST_HEAD_BYTES, JsonAnswer, error_body
from validator.openapi import RouteDoc, build_openapi

if TYPE_CHECKING:
    from sampling.client.follow import Follower

STATUS_ERROR_CODES: dict[str, int] = {
    "bad_request": 400,
    "invalid_argument": 400,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_too_large": 431,
    "internal_error": 500,
}
"""Every error code the status API answers with, and its HTTP status."""

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_NUMBER = {"type": "number"}
_COUNTS = {"type": "object", "additionalProperties": _INTEGER}

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["topic", "peer_id", "followed", "finished", "queued", "sampling", "lag", "peers"],
    "properties": {
        "topic": _STRING,
        "peer_id": _STRING,
        "uptime_s": _NUMBER,
        "target": _NUMBER,
        "followed": _INTEGER,
        "finished": _INTEGER,
        "finished_total": _INTEGER,
        "skipped_finished": _INTEGER,
        "failed": _INTEGER,
        "queued": _INTEGER,
        "sampling": _INTEGER,
        "lag": {
            "type": "object",
            "properties": {"count": _INTEGER, "seconds": _NUMBER, "dropped": _INTEGER},
        },
        "gossip_dropped": _INTEGER,
        "peers": {
            "type": "object",
            "properties": {"connected": _INTEGER, "ids": {"type": "array", "items": _STRING}},
        },
    },
}

BLOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data_root", "status", "confidence", "column_failures"],
    "properties": {
        "data_root": _STRING,
        "status": {"type": "string", "enum": ["queued", "sampling", "available", "unavailable"]},
        "confidence": _NUMBER,
        "target": _NUMBER,
        "verified": _INTEGER,
        "needed": {"type": ["integer", "null"]},
        "invalid": _INTEGER,
        "missing": _INTEGER,
        "column_failures": _COUNTS,
        "finished_at": _NUMBER,
    },
}

_TRANSPORT_ERRORS = ("request_too_large", "internal_error")
Handler = Callable[["Follower", dict[str, str]], Awaitable[JsonAnswer]]


async def _status(follower: Follower, _: dict[str, str]) -> JsonAnswer:
    return 200, await follower.status()


async def _blob(follower: Follower, parameters: dict[str, str]) -> JsonAnswer:
    try:
        root = hex_to_data_root(parameters["data_root"])
    except InvalidDataRoot:
        return 400, error_body("invalid_argument", "expected /v1/blobs/0x<64 hex digits>")
    found = await follower.blob_status(root)
    if found is None:
        return 404, error_body("not_found", f"0x{root.hex()} was never seen by this client")
    return 200, found


async def _openapi(_: Follower, __: dict[str, str]) -> JsonAnswer:
    return 200, STATUS_OPENAPI


STATUS_ROUTES: tuple[tuple[RouteDoc, Handler], ...] = (
    (
        RouteDoc(
            "GET",
            "/v1/status",
            "getStatus",
            "Counts, lag and peers of this follower",
            STATUS_SCHEMA,
            errors=_TRANSPORT_ERRORS,
        ),
        _status,
    ),
    (
        RouteDoc(
            "GET",
            "/v1/blobs/{data_root}",
            "getBlobResult",
            "A data root's sampling: queued, in progress, or its stored result",
            BLOB_SCHEMA,
            errors=("invalid_argument", "not_found", *_TRANSPORT_ERRORS),
        ),
        _blob,
    ),
    (
        RouteDoc(
            "GET",
            "/v1/openapi.json",
            "getOpenApi",
            "This OpenAPI description",
            {"type": "object"},
            errors=_TRANSPORT_ERRORS,
        ),
        _openapi,
    ),
)
"""Every route: its OpenAPI description and its handler."""

STATUS_OPENAPI = build_openapi(
    [doc for doc, _ in STATUS_ROUTES],
    "1",
    MAX_REQUEST_HEAD_BYTES,
    STATUS_ERROR_CODES,
    "Tessera light client status API",
)
"""The status API's OpenAPI document (no route reads a body: the size is the request head's bound)."""


def _match(template: str, path: str) -> dict[str, str] | None:
    """The path parameters if `path` fits `template` (`{name}` segments match any one segment)."""
    wanted, given = template.strip("/").split("/"), path.strip("/").split("/")
    if len(wanted) != len(given):
        return None
    parameters: dict[str, str] = {}
    for part, value in zip(wanted, given, strict=True):
        if part.startswith("{") and part.endswith("}"):
            if not value:
                return None
            parameters[part[1:-1]] = value
        elif part != value:
            return None
    return parameters


def make_router(follower: Follower) -> Callable[[str], Awaitable[JsonAnswer]]:
    """The status API's router over `follower`, dispatching by `STATUS_ROUTES`."""

    async def route(path: str) -> JsonAnswer:
        for doc, handler in STATUS_ROUTES:
            parameters = _match(doc.path, path)
            if parameters is not None:
                return await handler(follower, parameters)
        return 404, error_body("not_found", f"no route for {path}")

    return route
