"""Prometheus metrics of one validator process, served at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class NodeMetrics:
    """The counters and gauges an operator watches (one registry per node, no globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.blobs_accepted = Counter(
            "tessera_blobs_accepted", "Blobs accepted from sequencers", registry=self.registry
        )
        self.blobs_refused = Counter(
            "tessera_blobs_refused", "Blobs refused with HTTP 429 (queue full)", registry=self.registry
        )
        self.blob_queue = Gauge(
            "tessera_blob_queue", "Blobs accepted and not yet handed to dispersal", registry=self.registry
        )
        self.encode_seconds = Histogram(
            "tessera_encode_seconds", "Time to encode a blob", registry=self.registry
        )
        self.custody_cells = Counter(
            "tessera_custody_cells_stored", "Custody cells stored", registry=self.registry
        )
        self.attestations_sent = Counter(
            "tessera_attestations_sent", "Attestations signed", registry=self.registry
        )
        self.attestations_received = Counter(
            "tessera_attestations_received", "Attestations counted as aggregator", registry=self.registry
        )
        self.certificates = Counter("tessera_certificates", "Certificates stored", registry=self.registry)
        self.sample_requests = Counter(
            "tessera_sample_requests_served", "Sample requests served", registry=self.registry
        )
        self.duties_resumed = Counter(
            "tessera_duties_resumed", "Failed duties started again", registry=self.registry
        )
        self.peers = Gauge("tessera_peers", "Connected libp2p peers", registry=self.registry)
        self.errors = Counter("tessera_errors", "Errors by kind", ["kind"], registry=self.registry)
        self.network_events = Counter(
            "tessera_network_events",
            "Connections refused or pruned and gossip dropped by the p2p layer, by kind",
            ["kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
