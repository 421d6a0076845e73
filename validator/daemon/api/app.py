"""The aiohttp application: the one route table, request-size limit, JSON errors, OpenAPI, and a
runner with cancellation on.

`start_api` uses `web.AppRunner(app, handler_cancellation=True)`, so a client that hangs up cancels its
handler, and through the bridge the trio task behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from validator.daemon.api.errors import ERROR_CODES, InvalidApiConfig, json_errors
from validator.daemon.api.port import NodeApi
from validator.daemon.api.routes import ROUTES
from validator.daemon.api.views import NODE_KEY, OPENAPI_KEY
from validator.openapi import build_openapi

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the API listens and how large a request body may be."""

    host: str = "127.0.0.1"
    port: int = 0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    def validate(self) -> ApiConfig:
        """Return self if every field is in range, else raise `InvalidApiConfig` naming the field."""
        if not 0 <= self.port <= 65535:
            raise InvalidApiConfig("port", self.port, "must be 0..65535 (0: chosen by the OS)")
        if not 1 <= self.max_request_bytes <= 2**30:
            raise InvalidApiConfig("max_request_bytes", self.max_request_bytes, "must be 1..2**30")
        return self


def _version() -> str:
    try:
        return version("tessera-das")
    except PackageNotFoundError:
        return "0.0.0"


def build_app(node: NodeApi, config: ApiConfig | None = None) -> web.Application:
    """The aiohttp application over `node`: every route of `ROUTES`, the size limit, JSON errors and
    the OpenAPI document built from the same table."""
    config = (config or ApiConfig()).validate()
    app = web.Application(client_max_size=config.max_request_bytes, middlewares=[json_errors])
    app[NODE_KEY] = node
    app[OPENAPI_KEY] = build_openapi(
        [doc for doc, _ in ROUTES], _version(), config.max_request_bytes, ERROR_CODES, "Tessera node API"
    )
    for doc, handler in ROUTES:
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
