"""The HTTP handlers of the node API (asyncio): each parses its request, calls `NodeApi`, and answers
JSON or bytes. Errors are `ApiError`s with the stable codes of `api.errors`."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from da.errors import (
    BlobTooLarge,
    CommitmentMismatch,
    DAError,
    DataRootMismatch,
    EmptyBlob,
    InvalidCellProof,
    InvalidDataRoot,
    InvalidUpload,
    NotEnoughCells,
    RowCountMismatch,
    UploadTruncated,
)
from da.header import hex_to_data_root
from da.types import DataRoot
from da.upload import UPLOAD_MEDIA_TYPE
from network.types import PeerName
from validator.daemon.api.errors import ApiError
from validator.daemon.api.port import BlobView, NodeApi
from validator.errors import NodeBusy, ValidatorError
from validator.openapi import PEER_ID_PATTERN

NODE_KEY: web.AppKey[NodeApi] = web.AppKey("node", NodeApi)
OPENAPI_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
OCTET_STREAM = "application/octet-stream"
ENCODED_BLOB = UPLOAD_MEDIA_TYPE

UPLOAD_ERROR_CODES: tuple[tuple[type[InvalidUpload], str], ...] = (
    (UploadTruncated, "upload_truncated"),
    (RowCountMismatch, "row_count_mismatch"),
    (DataRootMismatch, "data_root_mismatch"),
    (CommitmentMismatch, "commitment_mismatch"),
    (InvalidCellProof, "invalid_cell_proof"),
)
"""The API code of each refusal of a pre-encoded upload (any other `InvalidUpload`: malformed_upload)."""


def parse_data_root(text: str) -> DataRoot:
    """A data root from a path segment: 64 hex digits, with or without 0x."""
    try:
        return hex_to_data_root(text)
    except InvalidDataRoot as error:
        raise ApiError("invalid_argument", str(error)) from error


def blob_json(view: BlobView) -> dict[str, Any]:
    """A blob's status as JSON: every known field (`error` always, for a posted blob)."""
    answer: dict[str, Any] = {"data_root": "0x" + view.data_root.hex(), "status": view.status}
    fields = {
        "epoch": view.epoch,
        "quorum": view.quorum,
        "signed_slots": view.signed_slots,
        "threshold": view.threshold,
        "byte_length": view.byte_length,
    }
    answer |= {name: value for name, value in fields.items() if value is not None}
    if view.posted:
        answer["error"] = view.error
    return answer


# --- the node on the p2p network ------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """Liveness of the API and the p2p service."""
    node = request.app[NODE_KEY]
    if not node.is_running():
        raise ApiError("service_unavailable", "the p2p service is not running")
    answer: dict[str, Any] = {"status": "ok"}
    try:
        encoder = node.encoder_status()
    except ApiError:
        return web.json_response(answer)  # a p2p host without a validator encodes nothing
    answer["encoder"] = {"workers": encoder.workers, "ready": encoder.ready}
    return web.json_response(answer)


async def identity(request: web.Request) -> web.Response:
    """This node's peer id, listen addresses and network name."""
    node = await request.app[NODE_KEY].identity()
    return web.json_response(
        {"peer_id": node.peer_id, "listen_addrs": list(node.listen_addrs), "network": node.network}
    )


async def peers(request: web.Request) -> web.Response:
    """Connected peers and their scores."""
    summaries = await request.app[NODE_KEY].peers()
    return web.json_response({"peers": [{"peer_id": p.peer_id, "score": p.score} for p in summaries]})


async def ping(request: web.Request) -> web.Response:
    """Round trip HTTP -> bridge -> libp2p ping -> back; body `{"peer_id": "12D3KooW..."}`."""
    if request.content_type != "application/json":
        raise ApiError("unsupported_media_type", "send application/json")
    try:
        body = await request.json()
    except ValueError as error:
        raise ApiError("bad_request", f"body is not JSON: {error}") from error
    if not isinstance(body, dict) or not isinstance(body.get("peer_id"), str):
        raise ApiError("invalid_argument", "body must be an object with a string peer_id")
    if re.fullmatch(PEER_ID_PATTERN, body["peer_id"]) is None:
        raise ApiError("invalid_argument", f"not a peer id: {body['peer_id']!r}")
    peer = PeerName(body["peer_id"])
    seconds = await request.app[NODE_KEY].ping(peer)
    return web.json_response({"peer_id": peer, "rtt_ms": seconds * 1000})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of these routes."""
    return web.json_response(request.app[OPENAPI_KEY])


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text exposition."""
    body = request.app[NODE_KEY].metrics()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


# --- blobs ----------------------------------------------------------------------------------------


async def post_blob(request: web.Request) -> web.Response:
    """POST /v1/blobs: raw bytes (encoded by the node) or a pre-encoded upload (checked by the node)
    in, data root and status out (the same bytes again: the same answer)."""
    if request.content_type not in (OCTET_STREAM, ENCODED_BLOB):
        raise ApiError(
            "unsupported_media_type",
            f"send the blob as {OCTET_STREAM} or {ENCODED_BLOB}, not {request.content_type}",
        )
    data = await request.read()
    node = request.app[NODE_KEY]
    try:
        if request.content_type == ENCODED_BLOB:
            view = await node.submit_upload(data)
        else:
            view = await node.submit_blob(data)
    except InvalidUpload as error:
        raise upload_refusal(error) from error
    except EmptyBlob as error:
        raise ApiError("invalid_argument", str(error)) from error
    except BlobTooLarge as error:
        raise ApiError("request_too_large", str(error)) from error
    except NodeBusy as error:
        raise ApiError("too_many_requests", str(error), retry_after=error.retry_after) from error
    except ApiError:
        raise
    except (DAError, ValidatorError) as error:
        raise ApiError("service_unavailable", str(error)) from error
    return web.json_response(blob_json(view))


def upload_refusal(error: InvalidUpload) -> ApiError:
    """The API error of a refused upload: its code, and the first bad row and cell when known."""
    code = next((code for kind, code in UPLOAD_ERROR_CODES if isinstance(error, kind)), "malformed_upload")
    where = {
        name: value for name, value in (("row", error.row), ("column", error.column)) if value is not None
    }
    return ApiError(code, str(error), where=where)


async def get_blob(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}: where a blob stands."""
    root = parse_data_root(request.match_info["data_root"])
    view = await request.app[NODE_KEY].blob_status(root)
    if view is None:
        raise ApiError("not_found", f"this node knows no blob 0x{root.hex()}")
    return web.json_response(blob_json(view))


async def get_certificate(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/certificate: the SSZ certificate."""
    root = parse_data_root(request.match_info["data_root"])
    return _binary(await request.app[NODE_KEY].certificate(root), f"no certificate for 0x{root.hex()} (yet)")


async def get_header(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/header: the SSZ blob header."""
    root = parse_data_root(request.match_info["data_root"])
    return _binary(await request.app[NODE_KEY].header(root), f"this node knows no header for 0x{root.hex()}")


async def get_data(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/data: the blob's bytes, reassembled from custodians when needed."""
    root = parse_data_root(request.match_info["data_root"])
    try:
        data = await request.app[NODE_KEY].blob_data(root)
    except NotEnoughCells as error:
        raise ApiError("service_unavailable", f"cannot rebuild the blob: {error}") from error
    return _binary(data, f"this node knows no header for 0x{root.hex()}")


def _binary(body: bytes | None, missing: str) -> web.Response:
    """`body` as application/octet-stream, or `not_found` (404) saying what is `missing`."""
    if body is None:
        raise ApiError("not_found", missing)
    return web.Response(body=body, content_type=OCTET_STREAM)
