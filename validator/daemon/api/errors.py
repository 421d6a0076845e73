"""JSON errors with stable codes: `{"error": {"code": "...", "message": "..."}}` for every failure.

The codes are part of the interface (clients branch on them); the messages are for people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

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
from validator.errors import RegistryError, ValidatorError
from validator.redaction import redact_urls

log = structlog.get_logger(__name__)

ERROR_CODES: dict[str, int] = {
    "bad_request": 400,
    "invalid_argument": 400,
    "malformed_upload": 400,
    "upload_truncated": 400,
    "row_count_mismatch": 400,
    "malformed_payment": 400,
    "bad_payment_signature": 401,
    "payment_required": 402,
    "wrong_payee": 402,
    "promise_expired": 402,
    "promise_root_mismatch": 402,
    "billed_size_mismatch": 402,
    "promise_replayed": 402,
    "insufficient_increment": 402,
    "insufficient_escrow": 402,
    "not_found": 404,
    "unknown_peer": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "not_certified": 409,
    "gone": 410,
    "request_too_large": 413,
    "unsupported_media_type": 415,
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
    "insufficient_storage": 507,
}
"""Every error code the API returns, with its HTTP status."""

_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
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
        details: Mapping[str, Any] | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown API error code {code!r}")
        super().__init__(message)
        self.code = code
        self.status = ERROR_CODES[code]
        self.message = message
        self.retry_after = retry_after
        self.details = dict(details or {})
        """The error's own fields beside `code` and `message` (an upload's first bad `row` and
        `column`, a `gone` blob's `epoch` and `expired_at`, a `not_certified` blob's `blob` status)."""


def error_response(
    code: str,
    message: str,
    retry_after: int | None = None,
    allow: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> web.Response:
    """The JSON body and status of an error (`details`: its own fields, in the error object), a
    Retry-After header when the client should wait and an Allow header (RFC 9110) on a 405."""
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if allow is not None:
        headers["Allow"] = allow
    fields = {name: value for name, value in (details or {}).items() if name not in ("code", "message")}
    return web.json_response(
        {"error": {"code": code, "message": redact_urls(message), **fields}},
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
        return error_response(error.code, error.message, error.retry_after, details=error.details)
    except NetworkError as error:
        return error_response(network_error_code(error), str(error))
    except RegistryError as error:  # degraded, not broken: the registry did not answer this time
        return error_response("service_unavailable", f"the registry does not answer: {error}")
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = _HTTP_CODES.get(error.status, "bad_request" if error.status < 500 else "internal_error")
        return error_response(code, error.reason, allow=error.headers.get("Allow"))
    except Exception:
        log.exception("API handler failed", path=request.path, method=request.method)
        return error_response("internal_error", "internal error")
