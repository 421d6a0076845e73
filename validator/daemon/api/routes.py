"""The node API's one route table: every route's OpenAPI description beside its handler. The server
(`api.app.build_app`) and its OpenAPI document are both built from it, so they cannot drift."""

from __future__ import annotations

from typing import Any

from validator.daemon.api import views as h
from validator.daemon.api.errors import Handler
from validator.daemon.store import BlobFailure
from validator.openapi import PEER_ID_PATTERN, RouteDoc

OCTET_STREAM = h.OCTET_STREAM
_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
BLOB_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "data_root": _STRING,
        "status": {
            "type": "string",
            "enum": ["received", "encoded", "dispersed", "certified", "failed", "custody"],
        },
        "epoch": _INTEGER,
        "quorum": _INTEGER,
        "signed_slots": _INTEGER,
        "threshold": _INTEGER,
        "byte_length": _INTEGER,
        "error": {"type": ["string", "null"]},
        "failure": {"type": ["string", "null"], "enum": [*(f.value for f in BlobFailure), None]},
    },
}


_NUMBER = {"type": "number"}
_ROOT = "/v1/blobs/{data_root}"
_BLOB_ERRORS = ("invalid_argument", "not_found")
_BINARY = {"type": "string", "format": "binary"}
_FROM_BODY = "$response.body#/data_root"
_LOCATION = (
    "the status resource of the blob, /v1/blobs/0x{data_root}",
    {"type": "string", "pattern": "^/v1/blobs/0x[0-9a-f]{64}$"},
)
_NOT_CERTIFIED = {"blob": BLOB_STATUS_SCHEMA}
"""A `not_certified` (409) error carries the blob's current status."""

_GONE = {
    "expired_at": {
        "type": "string",
        "format": "date-time",
        "description": "when this node pruned the blob's data (its availability window ended)",
    },
    "epoch": {"type": "integer", "description": "the blob's epoch"},
}
"""A `gone` (410) error says which epoch the blob had and when its data was pruned."""

_ROW = {"row": {"type": "integer", "description": "the upload's first bad row"}}
_CELL = {**_ROW, "column": {"type": "integer", "description": "the first bad cell's column"}}
_UPLOAD_REFUSALS = {"commitment_mismatch": _ROW, "invalid_cell_proof": _CELL}
"""Where a refused upload is first wrong, in its error."""

_AMOUNT = {"type": "string", "pattern": "^[0-9]+$", "description": "wei, in decimal"}
_ADDRESS = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}
_PAYMENT_REFUSALS: dict[str, dict[str, Any]] = {
    "malformed_payment": {"field": {"type": "string", "description": "the first bad field of the header"}},
    "payment_required": {
        "payee": _ADDRESS,
        "chain_id": _INTEGER,
        "verifying_contract": _ADDRESS,
        "price_per_byte": _AMOUNT,
        "min_billed_bytes": _INTEGER,
    },
    "insufficient_increment": {"cost": _AMOUNT, "held": _AMOUNT},
    "insufficient_escrow": {"outstanding": _AMOUNT, "covered": _AMOUNT},
}
"""What a refused promise's error says: the first bad field, the terms to pay by, what is missing."""
_PAYMENT_CODES = (
    "malformed_payment",
    "bad_payment_signature",
    "payment_required",
    "wrong_payee",
    "promise_expired",
    "promise_root_mismatch",
    "billed_size_mismatch",
    "promise_replayed",
    "insufficient_increment",
    "insufficient_escrow",
)
_PAYMENT_HEADER_DOC = (
    "a payment promise signed by the sequencer's Ethereum key (EIP-712; specs/validator.md, Payments): "
    "account=0x..,node=0x..,data_root=0x..,billed_bytes=N,cumulative=N,expiry=N,signature=0x..; "
    "required when the node's payments are on (GET /v1/payments)",
    # No pattern: a node with payments off ignores the header whatever it holds; one with payments on
    # refuses a header that does not parse (400 malformed_payment, naming the field).
    {"type": "string"},
)

ROUTES: tuple[tuple[RouteDoc, Handler], ...] = (
    (
        RouteDoc(
            "GET",
            "/v1/health",
            "getHealth",
            "Liveness of the API and the p2p service; whether the registry answers (`stale`: the node "
            "serves from what it knows) and the encoder (for raw posts) is ready",
            {
                "type": "object",
                "properties": {
                    "status": _STRING,
                    "registry": {"type": "string", "enum": ["ok", "stale"]},
                    "registry_stale_seconds": _NUMBER,
                    "registry_error": {"type": ["string", "null"]},
                    "encoder": {
                        "type": "object",
                        "properties": {"workers": _INTEGER, "ready": {"type": "boolean"}},
                    },
                },
            },
            errors=("service_unavailable",),
        ),
        h.health,
    ),
    (
        RouteDoc(
            "GET",
            "/v1/node/identity",
            "getIdentity",
            "This node's peer id and addresses",
            {
                "type": "object",
                "properties": {
                    "peer_id": _STRING,
                    "network": _STRING,
                    "listen_addrs": {"type": "array", "items": _STRING},
                },
            },
            errors=("service_unavailable",),
        ),
        h.identity,
    ),
    (
        RouteDoc(
            "GET",
            "/v1/node/peers",
            "getPeers",
            "Connected peers and their scores",
            {
                "type": "object",
                "properties": {
                    "peers": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"peer_id": _STRING, "score": _NUMBER}},
                    }
                },
            },
            errors=("service_unavailable",),
        ),
        h.peers,
    ),
    (
        RouteDoc(
            "POST",
            "/v1/node/ping",
            "pingPeer",
            "Ping a peer over libp2p through the bridge",
            {"type": "object", "properties": {"peer_id": _STRING, "rtt_ms": _NUMBER}},
            request={
                "type": "object",
                "required": ["peer_id"],
                "properties": {"peer_id": {"type": "string", "pattern": PEER_ID_PATTERN}},
            },
            errors=(
                "bad_request",
                "invalid_argument",
                "unknown_peer",
                "request_timeout",
                "request_too_large",
                "unsupported_media_type",
                "peer_unreachable",
                "peer_timeout",
                "peer_banned",
            ),
        ),
        h.ping,
    ),
    (
        RouteDoc("GET", "/v1/openapi.json", "getOpenApi", "This OpenAPI description", {"type": "object"}),
        h.openapi,
    ),
    (
        RouteDoc(
            "POST",
            "/v1/blobs",
            "postBlob",
            "Post a blob: raw bytes (application/octet-stream, encoded by the node) or pre-encoded "
            f"({h.ENCODED_BLOB}: the blob with its row commitments and cell proofs, checked by the "
            "node; specs/das-core.md, Pre-encoded uploads); 202 Accepted: it is durably taken, its "
            "certificate follows (Location: its status resource)",
            BLOB_STATUS_SCHEMA,
            request={**_BINARY, "minLength": 1},
            request_media=OCTET_STREAM,
            other_requests={h.ENCODED_BLOB: {**_BINARY, "minLength": 56}},
            errors=(
                "invalid_argument",
                "request_timeout",
                "malformed_upload",
                "upload_truncated",
                "row_count_mismatch",
                "data_root_mismatch",
                "commitment_mismatch",
                "invalid_cell_proof",
                "request_too_large",
                "unsupported_media_type",
                "too_many_requests",
                "service_unavailable",
                "insufficient_storage",
                *_PAYMENT_CODES,
            ),
            # getCertificate answers 409 not_certified (with the status) until the quorum has signed.
            links={
                "getBlob": _FROM_BODY,
                "getCertificate": _FROM_BODY,
                "getHeader": _FROM_BODY,
                "getData": _FROM_BODY,
            },
            success_status=202,
            success_headers={"Location": _LOCATION},
            error_details={**_UPLOAD_REFUSALS, **_PAYMENT_REFUSALS},
            headers={"Tessera-Payment": _PAYMENT_HEADER_DOC},
        ),
        h.post_blob,
    ),
    (
        RouteDoc(
            "GET",
            "/v1/payments",
            "getPayments",
            "Whether posts are paid; the price, the EIP-712 domain and the payee a promise names; with "
            "?account=, the highest cumulative amount this node holds from that account and what "
            "settlement has paid it (null fields when payments are off)",
            {
                "type": "object",
                "required": ["enabled"],
                "properties": {
                    "enabled": {"type": "boolean"},
                    "payee": {"type": ["string", "null"]},
                    "chain_id": {"type": ["integer", "null"]},
                    "verifying_contract": {"type": ["string", "null"]},
                    "price_per_byte": {"type": ["string", "null"]},
                    "min_billed_bytes": {"type": ["integer", "null"]},
                    "account": {"type": ["string", "null"]},
                    "held": {"type": ["string", "null"]},
                    "settled": {"type": ["string", "null"]},
                },
            },
            errors=("invalid_argument", "service_unavailable"),
            query={"account": ("a sequencer's address: what this node holds from it", _ADDRESS)},
        ),
        h.payments,
    ),
    (
        RouteDoc("GET", _ROOT, "getBlob", "A blob's status", BLOB_STATUS_SCHEMA, errors=_BLOB_ERRORS),
        h.get_blob,
    ),
    (
        RouteDoc(
            "GET",
            _ROOT + "/certificate",
            "getCertificate",
            "The SSZ availability certificate (binary); 409 not_certified, with the blob's status, "
            "for a blob this node knows that has none yet; 404 for a blob it does not know",
            _BINARY,
            errors=(*_BLOB_ERRORS, "not_certified"),
            response_media=OCTET_STREAM,
            error_details={"not_certified": _NOT_CERTIFIED},
        ),
        h.get_certificate,
    ),
    (
        RouteDoc(
            "GET",
            _ROOT + "/header",
            "getHeader",
            "The SSZ blob header (binary)",
            _BINARY,
            errors=_BLOB_ERRORS,
            response_media=OCTET_STREAM,
        ),
        h.get_header,
    ),
    (
        RouteDoc(
            "GET",
            _ROOT + "/data",
            "getData",
            "The blob's bytes, recovered from custodians if needed (once per blob, then cached; 410 "
            "once its window ended)",
            _BINARY,
            # 429: this node already rebuilds as many blobs as it allows at once (Retry-After).
            errors=(*_BLOB_ERRORS, "gone", "too_many_requests", "service_unavailable"),
            error_details={"gone": _GONE},
            response_media=OCTET_STREAM,
        ),
        h.get_data,
    ),
    (
        RouteDoc(
            "GET",
            "/metrics",
            "getMetrics",
            "Prometheus metrics (text exposition format 0.0.4)",
            {"type": "string"},
            response_media="text/plain",
        ),
        h.metrics,
    ),
)
"""Every route: its OpenAPI description and its handler."""
