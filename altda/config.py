"""The DA server's configuration: one frozen dataclass, checked by `validate()`."""

from __future__ import annotations

from dataclasses import dataclass

from altda.derivation import DEFAULT_RECENCY_WINDOW_S
from altda.errors import InvalidAltDAConfig
from altda.payload import DEFAULT_MAX_PAYLOAD_BYTES, ENVELOPE_OVERHEAD_BYTES
from da.constants import DEFAULT_MAX_BLOB_BYTES

DEFAULT_CERTIFY_TIMEOUT_S = 60.0
DEFAULT_GET_TIMEOUT_S = 120.0
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024
DEFAULT_BODY_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class AltDAConfig:
    """Where the server listens, which validators it uses, and its bounds."""

    nodes: tuple[str, ...]
    """Validators' API URLs, tried in order (the next one when a node fails)."""
    host: str = "127.0.0.1"
    port: int = 3100
    certify_timeout_s: float = DEFAULT_CERTIFY_TIMEOUT_S
    """How long a `/put` may take to get a verified certificate before it answers 503."""
    get_timeout_s: float = DEFAULT_GET_TIMEOUT_S
    """How long one validator may take to give a blob's bytes (it may rebuild them)."""
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    cache_bytes: int = DEFAULT_CACHE_BYTES
    """Bound of the read cache (payloads already checked, by commitment)."""
    recency_window_s: float = DEFAULT_RECENCY_WINDOW_S
    max_in_flight: int = 16
    """Puts and gets served at once (each holds a worker thread); more are answered 429."""
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    """How long a put's body may take to arrive (read before the put takes an in-flight place)."""
    l1_rpc: str | None = None
    """JSON-RPC of the rollup's L1, for the timestamps of inclusion blocks (the recency rule)."""

    @property
    def max_blob_bytes(self) -> int:
        """The largest blob a get reads from a validator: the validators' default largest blob, or
        this server's largest payload in its envelope when that is larger."""
        return max(DEFAULT_MAX_BLOB_BYTES, self.max_payload_bytes + ENVELOPE_OVERHEAD_BYTES)

    def validate(self) -> AltDAConfig:
        """Return self if every field is in range, else raise `InvalidAltDAConfig` naming the field."""
        if not self.nodes:
            raise InvalidAltDAConfig("nodes", self.nodes, "name at least one validator (--node URL)")
        for url in self.nodes:
            if not url.startswith(("http://", "https://")):
                raise InvalidAltDAConfig("nodes", url, "must be an http(s) URL")
        if not 0 <= self.port <= 65535:
            raise InvalidAltDAConfig("port", self.port, "must be 0..65535 (0: chosen by the OS)")
        for name in ("certify_timeout_s", "get_timeout_s", "body_timeout_s"):
            value = getattr(self, name)
            if not 0 < value <= 3600:
                raise InvalidAltDAConfig(name, value, "must be in (0, 3600] seconds")
        if not 1 <= self.max_payload_bytes < 2**30:
            raise InvalidAltDAConfig("max_payload_bytes", self.max_payload_bytes, "must be 1..2**30")
        if not 0 <= self.cache_bytes <= 2**34:
            raise InvalidAltDAConfig("cache_bytes", self.cache_bytes, "must be 0..2**34 (0: no cache)")
        if not 1 <= self.max_in_flight <= 256:
            raise InvalidAltDAConfig("max_in_flight", self.max_in_flight, "must be 1..256")
        if not 0 <= self.recency_window_s < 10**9:
            raise InvalidAltDAConfig("recency_window_s", self.recency_window_s, "must be >= 0 seconds")
        return self
