"""The node API's configuration: where it listens and how each connection and request is bounded.
Every default and the reason for it is in specs/validator.md, "HTTP and retrieval"."""

from __future__ import annotations

from dataclasses import dataclass

from validator.daemon.api.errors import InvalidApiConfig

DEFAULT_MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_HEADER_TIMEOUT_S = 20.0
"""Above the idle time clients keep a pooled connection (httpx 5 s, aiohttp 15 s), so a client never
reuses a connection the server is closing; a request head on any link arrives well within it."""
DEFAULT_BODY_TIMEOUT_S = 30.0
"""A 32 MiB blob (the default limit) at 1.1 MB/s, a 2 MiB one at 70 KB/s; a slower client is holding the
connection, not sending (a sequencer on a slower link raises it or posts smaller blobs)."""
DEFAULT_MAX_CONNECTIONS = 512
"""Half the common open-files soft limit (1,024), leaving the rest to libp2p and the store."""
DEFAULT_MAX_REQUESTS_PER_CONNECTION = 1000
"""nginx's `keepalive_requests` default: a long-lived client reconnects now and then, so no one
connection holds per-connection state for ever."""
LINGERING_S = 2.0
"""How long a body the handler refused unread (413, 415, 429) is drained so that the client reads the
answer; a client still sending after that is cut off."""
LISTEN_BACKLOG = 128


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Where the API listens, how large a request body may be, and how its connections are bounded
    (see the module docstring; defaults and reasons in specs/validator.md, "HTTP and retrieval")."""

    host: str = "127.0.0.1"
    port: int = 0
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_requests_per_connection: int = DEFAULT_MAX_REQUESTS_PER_CONNECTION

    def validate(self) -> ApiConfig:
        """Return self if every field is in range, else raise `InvalidApiConfig` naming the field."""
        if not 0 <= self.port <= 65535:
            raise InvalidApiConfig("port", self.port, "must be 0..65535 (0: chosen by the OS)")
        if not 1 <= self.max_request_bytes <= 2**30:
            raise InvalidApiConfig("max_request_bytes", self.max_request_bytes, "must be 1..2**30")
        for name in ("header_timeout_s", "body_timeout_s"):
            seconds = getattr(self, name)
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int | float)
                or not 0.01 <= seconds <= 3600
            ):
                raise InvalidApiConfig(name, seconds, "must be 0.01..3600 seconds")
        if not 1 <= self.max_connections <= 65536:
            raise InvalidApiConfig("max_connections", self.max_connections, "must be 1..65536")
        if not 1 <= self.max_requests_per_connection <= 10**6:
            raise InvalidApiConfig(
                "max_requests_per_connection", self.max_requests_per_connection, "must be 1..10**6"
            )
        return self
