"""The HTTP API skeleton (aiohttp): health, node identity, peers, ping, JSON errors, OpenAPI."""

from validator.daemon.api.app import ApiConfig, ApiServer, build_app, start_api
from validator.daemon.api.errors import ERROR_CODES, ApiError
from validator.daemon.api.node import BridgedNode, NodeApi, NodeIdentity, PeerSummary

__all__ = [
    "ERROR_CODES",
    "ApiConfig",
    "ApiError",
    "ApiServer",
    "BridgedNode",
    "NodeApi",
    "NodeIdentity",
    "PeerSummary",
    "build_app",
    "start_api",
]
