"""What the DA server answers for each outcome, as op-alt-da's client acts on it (specs/altda.md,
"Status codes"). Pure: an error in, (HTTP status, JSON body) out.

- put: 200 with the commitment; 503 when no certificate could be had in time (the batcher falls
  back to Ethereum DA); 413 for an oversize payload, 400 for an empty one (the batcher retries any
  other non-200); 408 when the payload does not arrive in time.
- get: 200 with the payload; 404 when no validator gives the bytes (derivation waits and asks
  again); 418 `{"StatusCode": n, "Msg": ...}` when the commitment must be dropped (`DropCode`);
  503 when the certificate or the L1 block cannot be judged yet (asked again).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from altda.derivation import CertificatePending, CommitmentRejected
from altda.errors import (
    AltDAError,
    BlobNotFound,
    BodyTimeout,
    DAUnavailable,
    L1Unavailable,
    PayloadRefused,
    ServerBusy,
)
from altda.payload import MalformedPayload

TEAPOT = 418
"""op-alt-da's "drop this commitment" status."""


class BadRequest(AltDAError):
    """Raised for a request the server cannot take as sent (a query parameter that is not a number,
    a `/put/0x...` with a precomputed commitment)."""


def drop_body(code: int, message: str) -> dict[str, Any]:
    """The body of a 418: op-alt-da's field names."""
    return {"StatusCode": code, "Msg": message}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The body of every other error."""
    return {"error": {"code": code, "message": message}}


def answer_for(error: AltDAError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and JSON body for a failed put or get."""
    if isinstance(error, CommitmentRejected):
        return TEAPOT, drop_body(int(error.code), error.reason)
    if isinstance(error, PayloadRefused):
        if error.code == "request_too_large":
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, error_body("request_too_large", str(error))
        return HTTPStatus.BAD_REQUEST, error_body("invalid_argument", str(error))
    if isinstance(error, DAUnavailable):
        return HTTPStatus.SERVICE_UNAVAILABLE, error_body("da_unavailable", str(error))
    if isinstance(error, BlobNotFound):
        return HTTPStatus.NOT_FOUND, error_body("not_found", str(error))
    if isinstance(error, CertificatePending | L1Unavailable):
        return HTTPStatus.SERVICE_UNAVAILABLE, error_body("not_yet_checkable", str(error))
    if isinstance(error, BodyTimeout):
        return HTTPStatus.REQUEST_TIMEOUT, error_body("request_timeout", str(error))
    if isinstance(error, ServerBusy):
        return HTTPStatus.TOO_MANY_REQUESTS, error_body("too_many_requests", str(error))
    if isinstance(error, MalformedPayload | BadRequest):
        return HTTPStatus.BAD_REQUEST, error_body("invalid_argument", str(error))
    return HTTPStatus.INTERNAL_SERVER_ERROR, error_body("internal_error", str(error))
