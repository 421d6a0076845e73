"""JSON errors with stable codes: `{"error": {"code": "...", "message": "..."}}` for every failure.

The codes are part of the interface (clients branch on them); the messages are for people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import structlog
from aiohttp import web

from network.errors import (
    InvalidResponse,
    MalformedMessage,
    NetworkError,
    PeerBanned,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
    RemoteError,
    ServiceNotRunning,
)
from validator.errors import ValidatorError

log = structlog.get_logger(__name__)

ERROR_CODES: dict[str, int] = {
    "bad_request": 400,
    "invalid_argument": 400,
    "not_found": 404,
    "unknown_peer": 404,
    "method_not_allowed": 405,
    "request_too_large": 413,
    "unsupported_media_type": 415,
    "malformed_upload": 400,
    "upload_truncated": 400,
    "row_count_mismatch": 400,
    "data_root_mismatch": 422,
    "commitment_mismatch": 422,
    "invalid_cell_proof": 422,
    "too_many_requests": 429,
    "internal_error": 500,
    "peer_unreachable": 502,
    "remote_error": 502,
    "invalid_response": 502,
    "peer_banned": 503,
    "service_unavailable": 503,
    "peer_timeout": 504,
}
"""Every error code the API returns, with its HTTP status."""

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}

_NETWORK_CODES: tuple[tuple[type[NetworkError], str], ...] = (
    (PeerTimeout, "peer_timeout"),
    (PeerUnreachable, "peer_unreachable"),
    (PeerDisconnected, "peer_unreachable"),
    (PeerBanned, "peer_banned"),
    (RemoteError, "remote_error"),
    (InvalidResponse, "invalid_response"),
    (MalformedMessage, "invalid_response"),
    (ServiceNotRunning, "service_unavailable"),
)


class InvalidApiConfig(ValidatorError):
    """Raised when an `ApiConfig` field is out of range; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid API config {field}={value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class ApiError(ValidatorError):
    """Raised by handlers for a failure with a stable `code` (one of `ERROR_CODES`)."""

    def __init__(
        self,
        code: str,
        message: str,
        retry_after: int | None = None,
        where: Mapping[str, int] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown API error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code]
        self.message = message
        self.retry_after = retry_after
        self.where = dict(where or {})
        """Where in the request the fault is (an upload's first bad `row` and `column`)."""


def error_response(
    code: str,
    message: str,
    retry_after: int | None = None,
    allow: str | None = None,
    where: Mapping[str, int] | None = None,
) -> web.Response:
    """The JSON body and status of an error (with `where` the fault is, when known), a Retry-After
    header when the client should wait and an Allow header (RFC 9110) on a 405."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if allow is not None:
        headers["Allow"] = allow
    return web.json_response(
        {"error": {"code": code, "message": message, **(where or {})}},
        status=ERROR_CODES[code],
        headers=headers or None,
    )


def network_error_code(error: NetworkError) -> str:
    """The API code for a network-layer error."""
    for kind, code in _NETWORK_CODES:
        if isinstance(error, kind):
            return code
    return "internal_error"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error with a stable code (never an HTML page or a traceback)."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error.code, error.message, error.retry_after, where=error.where)
    except NetworkError as error:
        return error_response(network_error_code(error), str(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _HTTP_CODES.get(error.status, "bad_request" if error.status < 500 else "internal_error")
        return error_response(code, error.reason, allow=error.headers.get("Allow"))
    except Exception:
        log.exception("API handler failed", path=request.path, method=request.method)
        return error_response("internal_error", "internal error")
