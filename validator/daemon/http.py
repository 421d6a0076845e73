"""The sequencer HTTP API of a validator: post blobs, follow them, fetch certificates and data.

Handlers run on asyncio and reach the node (trio) through the bridge. Errors are JSON with the stable
codes of `validator.daemon.api.errors`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from da.errors import BlobTooLarge, DAError, EmptyBlob, InvalidDataRoot, NotEnoughCells
from da.header import header_to_bytes, hex_to_data_root
from da.types import DataRoot
from network.bridge import TrioBridge
from validator.certificate import certificate_to_bytes
from validator.daemon.api.errors import ApiError
from validator.daemon.node import Node
from validator.daemon.retrieval import reassemble_blob
from validator.daemon.store import BlobRecord
from validator.errors import NodeBusy, ValidatorError
from validator.openapi import RouteDoc

BRIDGE_KEY: web.AppKey[TrioBridge] = web.AppKey("bridge", TrioBridge)
DAEMON_NODE_KEY: web.AppKey[Node] = web.AppKey("daemon_node", Node)
OCTET_STREAM = "application/octet-stream"
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


def parse_data_root(text: str) -> DataRoot:
    """A data root from a path segment: 64 hex digits, with or without 0x."""
    try:
        return hex_to_data_root(text)
    except InvalidDataRoot as error:
        raise ApiError("invalid_argument", str(error)) from error


def _status_json(record: BlobRecord) -> dict[str, Any]:
    return {
        "data_root": "0x" + record.data_root.hex(),
        "status": record.status.value,
        "epoch": record.epoch,
        "quorum": record.quorum,
        "signed_slots": record.signed_slots,
        "threshold": record.threshold,
        "byte_length": record.header.byte_length,
        "error": record.error,
    }


async def post_blob(request: web.Request) -> web.Response:
    """POST /v1/blobs: raw bytes in, data root and status out (the same bytes again: the same answer)."""
    if request.content_type != OCTET_STREAM:
        raise ApiError(
            "unsupported_media_type", f"send the blob as {OCTET_STREAM}, not {request.content_type}"
        )
    data = await request.read()
    node, bridge = request.app[DAEMON_NODE_KEY], request.app[BRIDGE_KEY]
    try:
        record = await bridge.call(node.submit_blob, data)
    except EmptyBlob as error:
        raise ApiError("invalid_argument", str(error)) from error
    except BlobTooLarge as error:
        raise ApiError("request_too_large", str(error)) from error
    except NodeBusy as error:
        raise ApiError("too_many_requests", str(error), retry_after=error.retry_after) from error
    except (DAError, ValidatorError) as error:
        raise ApiError("service_unavailable", str(error)) from error
    return web.json_response(_status_json(record))


async def get_blob(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}: where a blob stands."""
    root = parse_data_root(request.match_info["data_root"])
    node = request.app[DAEMON_NODE_KEY]
    record = node.store.get_blob(root)
    if record is not None:
        return web.json_response(_status_json(record))
    certificate = node.store.get_certificate(root)
    known = node.store.get_header(root)
    if certificate is None and known is None:
        raise ApiError("not_found", f"this node knows no blob 0x{root.hex()}")
    answer: dict[str, Any] = {
        "data_root": "0x" + root.hex(),
        "status": "certified" if certificate else "custody",
    }
    if certificate is not None:
        answer |= {
            "epoch": certificate.epoch,
            "quorum": certificate.quorum,
            "signed_slots": certificate.signed_slots,
        }
    if known is not None:
        answer |= {"byte_length": known[0].byte_length, "epoch": known[1], "quorum": known[2]}
    return web.json_response(answer)


async def get_certificate(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/certificate: the SSZ certificate."""
    root = parse_data_root(request.match_info["data_root"])
    certificate = request.app[DAEMON_NODE_KEY].store.get_certificate(root)
    if certificate is None:
        raise ApiError("not_found", f"no certificate for 0x{root.hex()} (yet)")
    return web.Response(body=certificate_to_bytes(certificate), content_type=OCTET_STREAM)


async def get_header(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/header: the SSZ blob header."""
    root = parse_data_root(request.match_info["data_root"])
    known = request.app[DAEMON_NODE_KEY].store.get_header(root)
    if known is None:
        raise ApiError("not_found", f"this node knows no header for 0x{root.hex()}")
    return web.Response(body=header_to_bytes(known[0]), content_type=OCTET_STREAM)


async def get_data(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/data: the blob's bytes, reassembled from custodians when needed."""
    root = parse_data_root(request.match_info["data_root"])
    node, bridge = request.app[DAEMON_NODE_KEY], request.app[BRIDGE_KEY]
    data = node.store.get_blob_data(root)
    if data is None:
        known = node.store.get_header(root)
        certificate = node.store.get_certificate(root)
        if known is None:
            raise ApiError("not_found", f"this node knows no header for 0x{root.hex()}")
        header, epoch, quorum = known
        if certificate is not None:
            epoch, quorum = certificate.epoch, certificate.quorum
        try:
            data = await bridge.call(reassemble_blob, node, root, header, epoch, quorum)
        except NotEnoughCells as error:
            raise ApiError("service_unavailable", f"cannot rebuild the blob: {error}") from error
    return web.Response(body=data, content_type=OCTET_STREAM)


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text exposition."""
    body = request.app[DAEMON_NODE_KEY].metrics.render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


_ROOT = "/v1/blobs/{data_root}"
_BLOB_ERRORS = ("invalid_argument", "not_found")
_BINARY = {"type": "string", "format": "binary"}
_FROM_BODY = "$response.body#/data_root"
BLOB_ROUTES: tuple[tuple[RouteDoc, Any], ...] = (
    (
        RouteDoc(
            "POST",
            "/v1/blobs",
            "postBlob",
            "Post a blob (raw bytes, application/octet-stream)",
            BLOB_STATUS_SCHEMA,
            request={**_BINARY, "minLength": 1},
            request_media=OCTET_STREAM,
            errors=(
                "invalid_argument",
                "request_too_large",
                "unsupported_media_type",
                "too_many_requests",
                "service_unavailable",
            ),
            # Not getCertificate: a certificate exists only once the quorum has signed (404 until then).
            links={"getBlob": _FROM_BODY, "getHeader": _FROM_BODY, "getData": _FROM_BODY},
        ),
        post_blob,
    ),
    (RouteDoc("GET", _ROOT, "getBlob", "A blob's status", BLOB_STATUS_SCHEMA, errors=_BLOB_ERRORS), get_blob),
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
        get_certificate,
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
        get_header,
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
        get_data,
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
        metrics,
    ),
)
