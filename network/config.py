"""Configuration of the network layer: one frozen dataclass whose `validate()` names the bad field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import multiaddr

from network import constants as c
from network.backoff import BackoffParams
from network.connections import ConnectionLimits
from network.errors import InvalidNetworkConfig
from network.scoring import ScoreParams

LOOPBACK_LISTEN_ADDR = "/ip4/127.0.0.1/tcp/0"
"""The default: loopback only, port chosen by the OS."""


def _check_multiaddrs(name: str, values: tuple[str, ...], need_peer_id: bool) -> None:
    if not isinstance(values, tuple):
        raise InvalidNetworkConfig(name, values, "must be a tuple of multiaddr strings")
    for value in values:
        try:
            address = multiaddr.Multiaddr(value)
        except Exception as error:
            raise InvalidNetworkConfig(name, value, f"not a multiaddr: {error}") from error
        if need_peer_id and "p2p" not in [protocol.name for protocol in address.protocols()]:
            raise InvalidNetworkConfig(name, value, "must end with /p2p/<peer id>")


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidNetworkConfig(name, value, "must be a positive number")


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Everything the libp2p service is told explicitly (see DESIGN.md section 5 for why)."""

    listen_addrs: tuple[str, ...] = (LOOPBACK_LISTEN_ADDR,)
    bootstrap_peers: tuple[str, ...] = ()
    identity_path: Path | None = None
    """Where the ed25519 identity key lives (created on first start); None for a throwaway identity."""
    network_name: str = "devnet"
    gossip: bool = True
    """Join gossipsub. False for a one-shot client (`das light check`): it neither publishes nor
    follows certificates, so it skips the meshsub streams every connection would otherwise open."""
    request_read_timeout: float = c.REQUEST_READ_TIMEOUT_SECONDS
    response_timeout: float = c.RESPONSE_TIMEOUT_SECONDS
    handler_timeout: float = c.HANDLER_TIMEOUT_SECONDS
    dial_timeout: float = c.DIAL_TIMEOUT_SECONDS
    max_concurrent_requests_per_peer: int = c.MAX_CONCURRENT_REQUESTS_PER_PEER
    gossip_degree: int = 6
    gossip_degree_low: int = 4
    gossip_degree_high: int = 12
    gossip_heartbeat_seconds: int = 1
    gossip_max_messages_per_topic_per_second: float = c.GOSSIP_MAX_MESSAGES_PER_TOPIC_PER_SECOND
    publish_rate_per_second: float = 500.0
    publish_queue_high_water: int = c.GOSSIP_PUBLISH_QUEUE_HIGH_WATER
    publish_timeout: float = 10.0
    subscriber_buffer: int = c.GOSSIP_SUBSCRIBER_BUFFER
    score_params: ScoreParams = field(default_factory=ScoreParams)
    backoff_params: BackoffParams = field(default_factory=BackoffParams)
    connection_limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    maintenance_seconds: float = c.MAINTENANCE_SECONDS
    """How often idle connections are pruned and disconnected peers' state is dropped."""
    gossip_ignored_per_peer_per_second: float = c.GOSSIP_IGNORED_PER_PEER_PER_SECOND
    """IGNOREd gossip messages a peer may forward per second on average (each costs a decode and a
    registry lookup); past the budget its messages are dropped unvalidated and each one penalized."""
    gossip_ignored_burst: int = c.GOSSIP_IGNORED_BURST
    gossip_validation_queue: int = c.GOSSIP_VALIDATION_QUEUE
    """Gossip messages being validated or waiting for a worker thread; more are dropped and counted."""
    gossip_validation_threads: int = c.GOSSIP_VALIDATION_THREADS
    gossip_validation_timeout: float = c.GOSSIP_VALIDATION_TIMEOUT_SECONDS

    @property
    def certificate_topic(self) -> str:
        """The certificate gossip topic of this network."""
        return c.TOPIC_CERTIFICATE_TEMPLATE.format(network=self.network_name)

    def validate(self) -> NetworkConfig:
        """Return self if every field is in range, else raise `InvalidNetworkConfig` naming the field."""
        _check_multiaddrs("listen_addrs", self.listen_addrs, need_peer_id=False)
        if not self.listen_addrs:
            raise InvalidNetworkConfig("listen_addrs", self.listen_addrs, "needs at least one address")
        _check_multiaddrs("bootstrap_peers", self.bootstrap_peers, need_peer_id=True)
        if not isinstance(self.gossip, bool):
            raise InvalidNetworkConfig("gossip", self.gossip, "must be true or false")
        if not self.network_name or not self.network_name.replace("-", "").replace("_", "").isalnum():
            raise InvalidNetworkConfig("network_name", self.network_name, "must be letters, digits, - or _")
        for name in (
            "request_read_timeout",
            "response_timeout",
            "handler_timeout",
            "dial_timeout",
            "gossip_max_messages_per_topic_per_second",
            "publish_rate_per_second",
            "publish_timeout",
            "maintenance_seconds",
            "gossip_ignored_per_peer_per_second",
            "gossip_validation_timeout",
        ):
            _check_positive(name, getattr(self, name))
        for name in (
            "max_concurrent_requests_per_peer",
            "gossip_heartbeat_seconds",
            "publish_queue_high_water",
            "subscriber_buffer",
            "gossip_ignored_burst",
            "gossip_validation_queue",
            "gossip_validation_threads",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidNetworkConfig(name, value, "must be an integer >= 1")
        if not 1 <= self.gossip_degree_low <= self.gossip_degree <= self.gossip_degree_high:
            raise InvalidNetworkConfig(
                "gossip_degree", self.gossip_degree, "needs 1 <= degree_low <= degree <= degree_high"
            )
        if self.publish_rate_per_second >= self.gossip_max_messages_per_topic_per_second:
            raise InvalidNetworkConfig(
                "publish_rate_per_second",
                self.publish_rate_per_second,
                "must stay below gossip_max_messages_per_topic_per_second, or peers drop our messages",
            )
        self.score_params.validate()
        self.backoff_params.validate()
        self.connection_limits.validate()
        return self
