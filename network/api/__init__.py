"""The HTTP API skeleton (aiohttp): health, node identity, peers, ping, JSON errors, OpenAPI."""

from network.api.app import ApiConfig, ApiServer, build_app, start_api
from network.api.errors import ERROR_CODES, ApiError
from network.api.node import BridgedNode, NodeApi, NodeIdentity, PeerSummary

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
