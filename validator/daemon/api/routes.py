"""The node API's one route table: every route's OpenAPI description beside its handler. The server
(`api.app.build_app`) and its OpenAPI document are both built from it, so they cannot drift."""

from __future__ import annotations

from typing import Any

from validator.daemon.api import views as h
from validator.daemon.api.errors import Handler
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
    },
}


_NUMBER = {"type": "number"}
_ROOT = "/v1/blobs/{data_root}"
_BLOB_ERRORS = ("invalid_argument", "not_found")
_BINARY = {"type": "string", "format": "binary"}
_FROM_BODY = "$response.body#/data_root"

ROUTES: tuple[tuple[RouteDoc, Handler], ...] = (
    (
        RouteDoc(
            "GET",
            "/v1/health",
            "getHealth",
            "Liveness of the API and the p2p service, and whether the encoder (for raw posts) is ready",
            {
                "type": "object",
                "properties": {
                    "status": _STRING,
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
            "node; specs/das-core.md, Pre-encoded uploads)",
            BLOB_STATUS_SCHEMA,
            request={**_BINARY, "minLength": 1},
            request_media=OCTET_STREAM,
            other_requests={h.ENCODED_BLOB: {**_BINARY, "minLength": 56}},
            errors=(
                "invalid_argument",
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
            ),
            # Not getCertificate: a certificate exists only once the quorum has signed (404 until then).
            links={"getBlob": _FROM_BODY, "getHeader": _FROM_BODY, "getData": _FROM_BODY},
        ),
        h.post_blob,
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
            "The SSZ availability certificate (binary)",
            _BINARY,
            errors=_BLOB_ERRORS,
            response_media=OCTET_STREAM,
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
            "The blob's bytes, recovered from custodians if needed",
            _BINARY,
            errors=(*_BLOB_ERRORS, "service_unavailable"),
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
