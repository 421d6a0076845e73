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
            "tessera_blobs_refused",
            "Blobs refused with HTTP 429 (by reason: tessera_admission_refused)",
            registry=self.registry,
        )
        self.admission_refused = Counter(
            "tessera_admission_refused",
            "Posts refused with HTTP 429, by reason: account_share (the account holds its fair share of "
            "the queue), queue_full, memory_share (its fair share of the blobs held dispersing), memory_full",
            ["reason"],
            registry=self.registry,
        )
        self.admission_accounts = Gauge(
            "tessera_admission_accounts",
            "Accounts holding places in an admission bound (queue: raw, upload)",
            ["queue"],
            registry=self.registry,
        )
        self.blob_queue = Gauge(
            "tessera_blob_queue", "Blobs accepted and not yet handed to dispersal", registry=self.registry
        )
        self.encode_seconds = Histogram(
            "tessera_encode_seconds", "Time to encode a blob", registry=self.registry
        )
        self.uploads_refused = Counter(
            "tessera_uploads_refused",
            "Pre-encoded uploads refused as inconsistent, by reason (the da error)",
            ["reason"],
            registry=self.registry,
        )
        self.verify_seconds = Histogram(
            "tessera_upload_verify_seconds", "Time to check a pre-encoded upload", registry=self.registry
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
        self.registry_stale = Gauge(
            "tessera_registry_stale",
            "1 while the registry does not answer (the node serves from what it knows), else 0",
            registry=self.registry,
        )
        self.reconstructions = Counter(
            "tessera_blob_reconstructions",
            "Blobs rebuilt from custodians for GET .../data",
            registry=self.registry,
        )
        self.reconstruction_seconds = Histogram(
            "tessera_blob_reconstruction_seconds",
            "Time to rebuild a blob from custodians",
            registry=self.registry,
        )
        self.retrieval_cache_hits = Counter(
            "tessera_retrieval_cache_hits",
            "Blob reads served from the recovered-blob cache",
            registry=self.registry,
        )
        self.retrieval_cache_bytes = Gauge(
            "tessera_retrieval_cache_bytes",
            "Bytes of recovered blobs held in the cache",
            registry=self.registry,
        )
        self.retrieval_windows = Counter(
            "tessera_retrieval_windows",
            "Row windows recovered while rebuilding blobs (a reconstruction holds one window's cells)",
            registry=self.registry,
        )
        self.retrieval_refused = Counter(
            "tessera_retrieval_refused",
            "Blob reads refused with HTTP 429 (reconstructions at the cap)",
            registry=self.registry,
        )
        self.peers = Gauge("tessera_peers", "Connected libp2p peers", registry=self.registry)
        self.extensions_held = Gauge(
            "tessera_extensions_held",
            "Blobs this node encoded: dispersing now, headers cached for serving",
            ["kind"],
            registry=self.registry,
        )
        self.store_bytes = Gauge(
            "tessera_store_bytes", "Bytes of the store's SQLite pages", registry=self.registry
        )
        self.blobs_pruned = Counter(
            "tessera_blobs_pruned", "Blobs whose data was pruned past the window", registry=self.registry
        )
        self.errors = Counter("tessera_errors", "Errors by kind", ["kind"], registry=self.registry)
        self.payments_refused = Counter(
            "tessera_payments_refused",
            "Posts refused for their payment promise, by code (payment_required, promise_replayed, ...)",
            ["code"],
            registry=self.registry,
        )
        self.promises_settled = Counter(
            "tessera_promises_settled", "Held promises sent to the escrow to settle", registry=self.registry
        )
        self.network_events = Counter(
            "tessera_network_events",
            "Connections refused or pruned and gossip dropped by the p2p layer, by kind",
            ["kind"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
