"""The one interface between the HTTP API and the node: `NodeApi`, what the handlers (asyncio) call,
and `BlobDesk`, what a validator's trio side answers for blobs. `BridgedNode` (api/bridged.py) is
`NodeApi` over the trio bridge; the daemon's desk (`validator.daemon.desk`) is a `BlobDesk`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from da.types import DataRoot
from network.types import PeerName


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """Who this node is on the p2p network."""

    peer_id: PeerName
    listen_addrs: tuple[str, ...]
    network: str


@dataclass(frozen=True, slots=True)
class PeerSummary:
    """A connected peer and its current score."""

    peer_id: PeerName
    score: float


@dataclass(frozen=True, slots=True)
class BlobView:
    """Where a blob stands on this node: a blob posted to it (`posted`: every field, `error` too) or
    one it only holds custody of or a certificate for (what it knows)."""

    data_root: DataRoot
    status: str
    posted: bool
    epoch: int | None = None
    quorum: int | None = None
    signed_slots: int | None = None
    threshold: int | None = None
    byte_length: int | None = None
    error: str | None = None
    failure: str | None = None
    """Why a posted blob failed, as a stable code (`BlobFailure`); None unless `status` is failed."""


@dataclass(frozen=True, slots=True)
class RegistryView:
    """Whether this node's registry answers: `stale` from its first failed read until one succeeds
    (the node serves from what it knows meanwhile)."""

    stale: bool
    stale_seconds: float = 0.0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class EncoderStatus:
    """The node's encoder for raw posts: its worker processes (0: a thread of the node) and whether
    they have loaded the trusted setup (before that, a raw post waits for them)."""

    workers: int
    ready: bool


@dataclass(frozen=True, slots=True)
class PaymentView:
    """What a sequencer needs to pay this node (`enabled` False: it takes posts unpaid, and the other
    fields are None); `held` / `settled` for the account asked about."""

    enabled: bool
    payee: str | None = None
    chain_id: int | None = None
    verifying_contract: str | None = None
    price_per_byte: int | None = None
    min_billed_bytes: int | None = None
    held: int | None = None
    settled: int | None = None


class BlobDesk(Protocol):
    """A validator's blobs. The daemon's desk answers on its trio side (store reads in worker
    threads); `NodeApi` gives the same calls to the asyncio side."""

    async def admit_blob(
        self, byte_length: int | None, pre_encoded: bool = False, payment: str | None = None
    ) -> None:
        """Before a posted body is read: raise what `submit_blob` (`submit_upload` when
        `pre_encoded`) would for a body of `byte_length` bytes (None: not declared) that no byte of
        it can change (too large, empty, queue full, disk full, a promise refused for anything but
        its root: `PaymentError`). `payment`: the `Tessera-Payment` header as sent (a node with
        payments off ignores it)."""

    async def submit_blob(self, data: bytes, payment: str | None = None) -> BlobView:
        """Accept a posted blob (durably `received`, with its promise, when this returns)."""

    async def submit_upload(self, body: bytes, payment: str | None = None) -> BlobView:
        """Accept a pre-encoded upload (`da.upload`) once it checks (durably `encoded` when this
        returns); raises its `InvalidUpload` and stores nothing when it does not."""

    async def payment_terms(self, account: str | None) -> PaymentView:
        """Whether posts are paid, the price and the payee; with `account`, what is held from it."""

    async def blob_status(self, data_root: DataRoot) -> BlobView | None:
        """Where the blob stands; None if this node knows nothing of it."""

    async def certificate(self, data_root: DataRoot) -> bytes | None:
        """The SSZ certificate, once formed or received."""

    async def header(self, data_root: DataRoot) -> bytes | None:
        """The SSZ blob header, if this node knows it."""

    async def blob_data(self, data_root: DataRoot) -> bytes | None:
        """The blob's bytes, reassembled from custodians when needed; None for an unknown header;
        raises `BlobExpired` once its data was pruned past its window (HTTP 410)."""

    def metrics(self) -> bytes:
        """The Prometheus text exposition (thread-safe)."""

    def registry_health(self) -> RegistryView | None:
        """Whether the registry answers (thread-safe); None when nothing watches it."""

    def encoder_status(self) -> EncoderStatus:
        """The encoder's readiness (thread-safe)."""


class NodeApi(BlobDesk, Protocol):
    """The node as the HTTP handlers see it (asyncio side): the desk's calls, run in the node's
    thread, and the p2p host's."""

    def is_running(self) -> bool:
        """True while the p2p service runs."""

    async def identity(self) -> NodeIdentity:
        """This node's peer id and addresses."""

    async def peers(self) -> list[PeerSummary]:
        """Connected peers."""

    async def ping(self, peer: PeerName) -> float:
        """Round-trip time to `peer` in seconds."""
