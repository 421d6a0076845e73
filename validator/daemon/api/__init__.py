"""The node's HTTP API (aiohttp): one route table (health, identity, peers, ping, blobs, metrics,
OpenAPI), JSON errors, and `NodeApi`, the one interface through which it reaches the node."""

from validator.daemon.api.app import ApiConfig, ApiServer, build_app, start_api
from validator.daemon.api.bridged import BridgedNode
from validator.daemon.api.errors import ERROR_CODES, ApiError, InvalidApiConfig
from validator.daemon.api.port import BlobDesk, BlobView, EncoderStatus, NodeApi, NodeIdentity, PeerSummary

__all__ = [
    "ERROR_CODES",
    "ApiConfig",
    "ApiError",
    "ApiServer",
    "BlobDesk",
    "BlobView",
    "BridgedNode",
    "EncoderStatus",
    "InvalidApiConfig",
    "NodeApi",
    "NodeIdentity",
    "PeerSummary",
    "build_app",
    "start_api",
]
