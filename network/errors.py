"""Typed errors of the network layer: one root (`NetworkError`), a subclass per failure, carrying its numbers.

Kept apart as STYLE.md asks: bytes that do not decode (`MalformedMessage`, `MessageTooLarge`), a peer that
answers with an error (`RemoteError`), a peer that answers well-formed but wrong data (`InvalidResponse`),
and a peer that does not answer at all (`PeerTimeout`, `PeerDisconnected`, `PeerUnreachable`).
"""

from __future__ import annotations


class NetworkError(Exception):
    """Root of every error raised by `network/`."""


class InvalidNetworkConfig(NetworkError):
    """Raised when a `NetworkConfig` field is out of range; names the field."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        super().__init__(f"invalid network config {field}={value!r}: {reason}")
        self.field = field
        self.value = value
        self.reason = reason


class MalformedMessage(NetworkError):
    """Raised when bytes received from a peer do not decode to the expected message."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"malformed {what}: {detail}")
        self.what = what
        self.detail = detail


class MessageTooLarge(NetworkError):
    """Raised when a frame announces (or a message has) more bytes than its limit; checked before reading."""

    def __init__(self, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} is {size} bytes, over the limit of {limit} bytes")
        self.what = what
        self.size = size
        self.limit = limit


class PeerTimeout(NetworkError):
    """Raised when a peer does not complete `operation` within `seconds`."""

    def __init__(self, peer: str, operation: str, seconds: float) -> None:
        super().__init__(f"peer {peer} did not complete {operation} within {seconds:g} s")
        self.peer = peer
        self.operation = operation
        self.seconds = seconds


class PeerUnreachable(NetworkError):
    """Raised when no connection or stream to a peer can be opened (dial or negotiation failed)."""

    def __init__(self, peer: str, detail: str) -> None:
        super().__init__(f"peer {peer} is unreachable: {detail}")
        self.peer = peer
        self.detail = detail


class PeerDisconnected(NetworkError):
    """Raised when a peer's stream ends or resets before its answer is complete."""

    def __init__(self, peer: str, operation: str, detail: str) -> None:
        super().__init__(f"peer {peer} went away during {operation}: {detail}")
        self.peer = peer
        self.operation = operation
        self.detail = detail


class RemoteError(NetworkError):
    """Raised when a peer answers a request with a non-success result code (see `ResultCode`)."""

    def __init__(self, peer: str, code: int, message: str) -> None:
        super().__init__(f"peer {peer} answered with error code {code}: {message}")
        self.peer = peer
        self.code = code
        self.message = message


class InvalidResponse(NetworkError):
    """Raised when a peer's answer is well-formed but wrong (samples that do not verify, another header)."""

    def __init__(self, peer: str, reason: str) -> None:
        super().__init__(f"peer {peer} sent an invalid response: {reason}")
        self.peer = peer
        self.reason = reason


class PeerBanned(NetworkError):
    """Raised when asked to talk to a peer whose score fell below the ban threshold."""

    def __init__(self, peer: str, until: float) -> None:
        super().__init__(f"peer {peer} is banned until t={until:.0f}")
        self.peer = peer
        self.until = until


class ServiceNotRunning(NetworkError):
    """Raised when the libp2p service (or the bridge to it) is used before start or after stop."""


class GossipOff(NetworkError):
    """Raised when a service started with `NetworkConfig(gossip=False)` is asked to subscribe or
    publish."""


class PublishFailed(NetworkError):
    """Raised when a gossip message cannot be published (unknown topic, oversize, backpressure timeout)."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"cannot publish on {topic}: {reason}")
        self.topic = topic
        self.reason = reason
