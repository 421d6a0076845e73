"""The aiohttp application: routes, request-size limit, JSON errors, and a runner with cancellation on.

`start_api` uses `web.AppRunner(app, handler_cancellation=True)`, so a client that hangs up cancels its
handler, and through the bridge the trio task behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from network.errors import InvalidNetworkConfig
from network.types import PeerName
from validator.daemon.api.errors import ERROR_CODES, ApiError, json_errors
from validator.daemon.api.node import NodeApi
from validator.openapi import PEER_ID_PATTERN, RouteDoc, build_openapi

NODE_KEY: web.AppKey[NodeApi] = web.AppKey("node", NodeApi)
OPENAPI_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi", dict)
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the API listens and how large a request body may be."""

    host: str = "127.0.0.1"
    port: int = 0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    def validate(self) -> ApiConfig:
        """Return self if every field is in range, else raise `InvalidNetworkConfig` naming the field."""
        if not 0 <= self.port <= 65535:
            raise InvalidNetworkConfig("port", self.port, "must be 0..65535 (0: chosen by the OS)")
        if not 1 <= self.max_request_bytes <= 2**30:
            raise InvalidNetworkConfig("max_request_bytes", self.max_request_bytes, "must be 1..2**30")
        return self


def _version() -> str:
    try:
        return version("tessera-das")
    except PackageNotFoundError:
        return "0.0.0"


_STRING = {"type": "string"}
_NUMBER = {"type": "number"}


async def health(request: web.Request) -> web.Response:
    """Liveness of the API and the p2p service."""
    node = request.app[NODE_KEY]
    if not node.is_running():
        raise ApiError("service_unavailable", "the p2p service is not running")
    return web.json_response({"status": "ok"})


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


ROUTES: tuple[tuple[RouteDoc, Any], ...] = (
    (
        RouteDoc(
            "GET",
            "/v1/health",
            "getHealth",
            "Liveness of the API and the p2p service",
            {"type": "object", "properties": {"status": _STRING}},
            errors=("service_unavailable",),
        ),
        health,
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
        identity,
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
        peers,
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
        ping,
    ),
    (
        RouteDoc("GET", "/v1/openapi.json", "getOpenApi", "This OpenAPI description", {"type": "object"}),
        openapi,
    ),
)
"""Every route: its OpenAPI description and its handler."""


def build_app(
    node: NodeApi, config: ApiConfig | None = None, extra_routes: tuple[tuple[RouteDoc, Any], ...] = ()
) -> web.Application:
    """The aiohttp application over `node`, with the size limit and JSON errors.

    `extra_routes` (the daemon's blob routes) are served and described like the built-in ones.
    """
    config = (config or ApiConfig()).validate()
    app = web.Application(client_max_size=config.max_request_bytes, middlewares=[json_errors])
    app[NODE_KEY] = node
    routes = ROUTES + extra_routes
    app[OPENAPI_KEY] = build_openapi(
        [doc for doc, _ in routes], _version(), config.max_request_bytes, ERROR_CODES, "Tessera node API"
    )
    for doc, handler in routes:
        app.router.add_route(doc.method, doc.path, handler)
    return app


@dataclass(slots=True)
class ApiServer:
    """A started API: its runner and the URL it listens on."""

    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        """Stop accepting requests, cancel those in flight, release the socket."""
        await self.runner.cleanup()


async def start_api(app: web.Application, config: ApiConfig | None = None) -> ApiServer:
    """Serve `app` on `config.host:config.port` (0: chosen by the OS) with handler cancellation on."""
    config = (config or ApiConfig()).validate()
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    return ApiServer(runner=runner, url=f"http://{host}:{port}")
