"""The HTTP handlers of the node API (asyncio): each parses its request, calls `NodeApi`, and answers
JSON or bytes. Errors are `ApiError`s with the stable codes of `api.errors`."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from aiohttp import HttpVersion11, hdrs, web
from eth_utils.address import is_hex_address, to_checksum_address

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
from da.media import UPLOAD_MEDIA_TYPE
from da.types import DataRoot
from network.types import PeerName
from validator.daemon.api.bodies import check_declared_length, read_body
from validator.daemon.api.config import ApiConfig
from validator.daemon.api.connections import ConnectionGate
from validator.daemon.api.errors import ApiError, Handler, error_response
from validator.daemon.api.port import BlobView, NodeApi
from validator.errors import BlobExpired, InsufficientStorage, NodeBusy, RetrievalBusy, ValidatorError
from validator.openapi import PEER_ID_PATTERN
from validator.payments.errors import PaymentError
from validator.payments.promise import PAYMENT_HEADER
from validator.redaction import redact_urls

NODE_KEY: web.AppKey[NodeApi] = web.AppKey("node", NodeApi)
OPENAPI_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
CONFIG_KEY: web.AppKey[ApiConfig] = web.AppKey("api_config", ApiConfig)
GATE_KEY: web.AppKey[ConnectionGate] = web.AppKey("connection_gate", ConnectionGate)
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
        answer["failure"] = view.failure
    return answer


# --- the node on the p2p network ------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    """Liveness of the API and the p2p service, whether the registry answers (a node whose registry
    is `stale` still serves: it is degraded, not down) and whether the encoder is ready."""
    node = request.app[NODE_KEY]
    if not node.is_running():
        raise ApiError("service_unavailable", "the p2p service is not running")
    answer: dict[str, Any] = {"status": "ok"}
    registry = node.registry_health()
    if registry is not None:
        answer["registry"] = "stale" if registry.stale else "ok"
        if registry.stale:
            answer["registry_stale_seconds"] = round(registry.stale_seconds, 3)
            answer["registry_error"] = None if registry.error is None else redact_urls(registry.error)
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
    config = request.app[CONFIG_KEY]
    try:
        body = json.loads(await read_body(request, config.max_request_bytes, config.body_timeout_s))
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
    """GET /metrics: Prometheus text exposition (the node's, then the API's connections')."""
    body = request.app[NODE_KEY].metrics() + request.app[GATE_KEY].render()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


# --- blobs ----------------------------------------------------------------------------------------


@contextmanager
def _intake_errors() -> Iterator[None]:
    """The node's refusals of a posted blob as API errors."""
    try:
        yield
    except InvalidUpload as error:
        raise upload_refusal(error) from error
    except EmptyBlob as error:
        raise ApiError("invalid_argument", str(error)) from error
    except BlobTooLarge as error:
        raise ApiError("request_too_large", str(error)) from error
    except NodeBusy as error:
        raise ApiError("too_many_requests", str(error), retry_after=error.retry_after) from error
    except InsufficientStorage as error:
        raise ApiError("insufficient_storage", str(error)) from error
    except PaymentError as error:  # 400 malformed, 401 bad signature, 402 the rest: its own fields
        raise ApiError(error.code, str(error), details=error.details) from error
    except ApiError:
        raise
    except (DAError, ValidatorError) as error:
        raise ApiError("service_unavailable", str(error)) from error


async def post_blob(request: web.Request) -> web.Response:
    """POST /v1/blobs: raw bytes (encoded by the node) or a pre-encoded upload (checked by the node)
    in; 202 Accepted with the data root and status, and the status resource in `Location` (the same
    bytes again: the same answer). The payment promise (`Tessera-Payment`, all but its root), the
    declared length, the room to take it and the free disk are checked before the body is read; the
    body is read bounded in size and time (`api.bodies`)."""
    pre_encoded = _posted_media(request)
    config, node = request.app[CONFIG_KEY], request.app[NODE_KEY]
    check_declared_length(request, config.max_request_bytes)
    with _intake_errors():
        payment = request.headers.get(PAYMENT_HEADER)
        await node.admit_blob(request.content_length, pre_encoded, payment)
        data = await read_body(request, config.max_request_bytes, config.body_timeout_s)
        view = await (node.submit_upload(data, payment) if pre_encoded else node.submit_blob(data, payment))
    location = f"/v1/blobs/0x{view.data_root.hex()}"
    return web.json_response(blob_json(view), status=202, headers={"Location": location})


async def payments(request: web.Request) -> web.Response:
    """GET /v1/payments[?account=0x...]: whether posts are paid, the price, the EIP-712 domain and
    the payee a promise names; with `account`, the highest cumulative this node holds from it and
    what settlement has paid (amounts are decimal strings: they exceed JSON's safe integers)."""
    account = request.query.get("account")
    if account is not None:
        if not is_hex_address(account):
            raise ApiError(
                "invalid_argument", f"account must be an address (0x and 40 hex digits): {account[:50]!r}"
            )
        account = str(to_checksum_address(account))
    view = await request.app[NODE_KEY].payment_terms(account)
    return web.json_response(
        {
            "enabled": view.enabled,
            "payee": view.payee,
            "chain_id": view.chain_id,
            "verifying_contract": view.verifying_contract,
            "price_per_byte": None if view.price_per_byte is None else str(view.price_per_byte),
            "min_billed_bytes": view.min_billed_bytes,
            "account": account,
            "held": None if view.held is None else str(view.held),
            "settled": None if view.settled is None else str(view.settled),
        }
    )


def _posted_media(request: web.Request) -> bool:
    """True for a pre-encoded upload, False for raw bytes; `unsupported_media_type` otherwise."""
    if request.content_type not in (OCTET_STREAM, ENCODED_BLOB):
        raise ApiError(
            "unsupported_media_type",
            f"send the blob as {OCTET_STREAM} or {ENCODED_BLOB}, not {request.content_type}",
        )
    return request.content_type == ENCODED_BLOB


async def expect_blob(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` on POST /v1/blobs: the media type, the declared size and the queue's
    room are checked before the client is told to send its body, so a refused client never sends
    it (aiohttp runs this before the middlewares: the error is answered here, and closes)."""
    config, node = request.app[CONFIG_KEY], request.app[NODE_KEY]
    try:
        pre_encoded = _posted_media(request)
        check_declared_length(request, config.max_request_bytes)
        with _intake_errors():
            await node.admit_blob(request.content_length, pre_encoded, request.headers.get(PAYMENT_HEADER))
    except ApiError as error:
        response = error_response(error.code, error.message, error.retry_after, details=error.details)
        response.force_close()
        return response
    expect = request.headers.get(hdrs.EXPECT, "").lower()
    if request.version == HttpVersion11 and expect == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer proper starts after the interim one
    return None


def upload_refusal(error: InvalidUpload) -> ApiError:
    """The API error of a refused upload: its code, and the first bad row and cell when known."""
    code = next((code for kind, code in UPLOAD_ERROR_CODES if isinstance(error, kind)), "malformed_upload")
    where = {
        name: value for name, value in (("row", error.row), ("column", error.column)) if value is not None
    }
    return ApiError(code, str(error), details=where)


async def get_blob(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}: where a blob stands."""
    root = parse_data_root(request.match_info["data_root"])
    view = await request.app[NODE_KEY].blob_status(root)
    if view is None:
        raise ApiError("not_found", f"this node knows no blob 0x{root.hex()}")
    return web.json_response(blob_json(view))


async def get_certificate(request: web.Request) -> web.Response:
    """GET /v1/blobs/{data_root}/certificate: the SSZ certificate; `not_certified` (409) with the
    blob's status for a blob this node knows that has none yet, `not_found` (404) for one it does
    not know (so "not yet" and "never heard of it" are apart)."""
    root = parse_data_root(request.match_info["data_root"])
    node = request.app[NODE_KEY]
    certificate = await node.certificate(root)
    if certificate is not None:
        return web.Response(body=certificate, content_type=OCTET_STREAM)
    view = await node.blob_status(root)
    if view is None:
        raise ApiError("not_found", f"this node knows no blob 0x{root.hex()}")
    raise ApiError(
        "not_certified",
        f"blob 0x{root.hex()} has no certificate yet (status {view.status})",
        details={"blob": blob_json(view)},
    )


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
    except BlobExpired as error:
        expired_at = datetime.fromtimestamp(error.expired_at, UTC).isoformat(timespec="seconds")
        raise ApiError(
            "gone",
            f"the data of 0x{root.hex()} (epoch {error.epoch}) was pruned at {expired_at}: its "
            "availability window ended",
            details={"expired_at": expired_at, "epoch": error.epoch},
        ) from error
    except RetrievalBusy as error:
        raise ApiError("too_many_requests", str(error), retry_after=error.retry_after) from error
    return _binary(data, f"this node knows no header for 0x{root.hex()}")


def _binary(body: bytes | None, missing: str) -> web.Response:
    """`body` as application/octet-stream, or `not_found` (404) saying what is `missing`."""
    if body is None:
        raise ApiError("not_found", missing)
    return web.Response(body=body, content_type=OCTET_STREAM)


ExpectHandler = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
EXPECT_HANDLERS: dict[Handler, ExpectHandler] = {post_blob: expect_blob}
"""Handlers whose `Expect: 100-continue` is answered only after a check (others: aiohttp's default)."""
