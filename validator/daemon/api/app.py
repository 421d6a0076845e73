"""The aiohttp application: the one route table, request-size limit, JSON errors, OpenAPI, and a
runner with cancellation on and every connection bounded.

`start_api` uses `web.AppRunner(app, handler_cancellation=True)`, so a client that hangs up cancels its
handler, and through the bridge the trio task behind it. Connections are bounded by `ApiConfig`: a
request head must arrive within `header_timeout_s` (aiohttp's `keepalive_timeout`, which covers an
idle keep-alive connection too), a body within `body_timeout_s` (`api.bodies`), at most
`max_connections` are open (`api.connections.ConnectionGate`) and one carries at most
`max_requests_per_connection` requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from validator.daemon.api.config import LINGERING_S, LISTEN_BACKLOG, ApiConfig
from validator.daemon.api.connections import ConnectionGate, GatedSite
from validator.daemon.api.errors import ERROR_CODES, InvalidApiConfig, json_errors
from validator.daemon.api.port import NodeApi
from validator.daemon.api.routes import ROUTES
from validator.daemon.api.views import CONFIG_KEY, EXPECT_HANDLERS, GATE_KEY, NODE_KEY, OPENAPI_KEY
from validator.openapi import build_openapi

__all__ = ["ApiConfig", "ApiServer", "build_app", "start_api"]


def _version() -> str:
    try:
        return version("tessera-das")
    except PackageNotFoundError:
        return "0.0.0"


def build_app(node: NodeApi, config: ApiConfig | None = None) -> web.Application:
    """The aiohttp application over `node`: every route of `ROUTES`, the size limit, JSON errors and
    the OpenAPI document built from the same table."""
    config = (config or ApiConfig()).validate()
    gate = ConnectionGate(config.max_connections, config.max_requests_per_connection)
    app = web.Application(
        client_max_size=config.max_request_bytes, middlewares=[gate.middleware, json_errors]
    )
    app[NODE_KEY] = node
    app[CONFIG_KEY] = config
    app[GATE_KEY] = gate
    app[OPENAPI_KEY] = build_openapi(
        [doc for doc, _ in ROUTES], _version(), config.max_request_bytes, ERROR_CODES, "Tessera node API"
    )
    for doc, handler in ROUTES:
        app.router.add_route(doc.method, doc.path, handler, expect_handler=EXPECT_HANDLERS.get(handler))
    return app


@dataclass(slots=True)
class ApiServer:
    """A started API: its runner, the URL it listens on, and the gate its connections pass."""

    runner: web.AppRunner
    url: str
    gate: ConnectionGate

    async def close(self) -> None:
        """Stop accepting requests, cancel those in flight, release the socket."""
        await self.runner.cleanup()


async def start_api(app: web.Application, config: ApiConfig | None = None) -> ApiServer:
    """Serve `app` (from `build_app`) on its config's host and port (0: chosen by the OS), with
    handler cancellation on and its connections gated; `config`, when given, must be the one `app`
    was built with."""
    built = app[CONFIG_KEY]
    if config is not None and config.validate() != built:
        raise InvalidApiConfig("config", config, "start_api takes the config build_app was given")
    config = built
    runner = web.AppRunner(
        app,
        handler_cancellation=True,
        access_log=None,
        keepalive_timeout=config.header_timeout_s,
        lingering_time=LINGERING_S,
    )
    await runner.setup()
    try:
        site = GatedSite(runner, config.host, config.port, app[GATE_KEY], LISTEN_BACKLOG)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    return ApiServer(runner=runner, url=f"http://{host}:{port}", gate=app[GATE_KEY])
