"""Network test helpers: trio via anyio's pytest plugin, real in-process cores, fast timeouts.

The cores plugged into the hosts are real: a dict-backed sample and header store filled from a real
`da.encode_blob` result, and sinks that verify custody cells with the real ckzg backend.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
import trio
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from da import CkzgBackend, EncodedBlob, verify_samples
from da.grid import ExtendedBlob
from da.types import BlobHeader, Cell, CellCoordinate, DataRoot, GridSample, Sample
from network.config import NetworkConfig
from network.constants import ResultCode
from network.messages import CustodyPush
from network.service import NetworkService
from network.streams import FrameReader
from network.types import PeerName, Verdict

FAST = NetworkConfig(
    request_read_timeout=1.0,
    response_timeout=2.0,
    handler_timeout=2.0,
    dial_timeout=2.0,
)
"""Timeouts short enough that misbehaviour tests finish in seconds."""


@pytest.fixture
def anyio_backend() -> str:
    """py-libp2p is trio-only."""
    return "trio"


class DictSampleStore:
    """`SampleStore` over encoded blobs held in memory."""

    def __init__(self, *blobs: EncodedBlob) -> None:
        self.blobs: dict[DataRoot, EncodedBlob] = {blob.data_root: blob for blob in blobs}
        self.calls = 0

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        self.calls += 1
        blob = self.blobs.get(data_root)
        if blob is None:
            return [None] * len(coordinates)
        return [blob.get_sample(c) if c.row < len(blob.rows) else None for c in coordinates]

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        blob = self.blobs.get(data_root)
        return None if blob is None else blob.header


class DictGridStore(DictSampleStore):
    """`SampleStore`, `GridSampleStore` and `HeaderStore` over real extended blobs held in memory;
    `tamper` names cells served with a flipped byte (a planted bad extension)."""

    def __init__(self, grid: ExtendedBlob, tamper: frozenset[CellCoordinate] = frozenset()) -> None:
        super().__init__(grid.blob)
        self.grid = grid
        self.tamper = tamper
        self.grid_calls = 0

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        self.grid_calls += 1
        if data_root != self.grid.blob.data_root:
            return [None] * len(coordinates)
        results: list[GridSample | None] = []
        for coordinate in coordinates:
            if coordinate.row >= self.grid.grid_rows:
                results.append(None)
                continue
            sample = self.grid.get_sample(coordinate)
            if coordinate in self.tamper:
                sample = dataclasses.replace(sample, cell=Cell(bytes([sample.cell[0] ^ 1]) + sample.cell[1:]))
            results.append(sample)
        return results


@dataclass
class VerifyingCustodySink:
    """`CustodySink` that batch-verifies pushed cells with ckzg and keeps the valid ones."""

    kzg: CkzgBackend
    stored: dict[DataRoot, list[Sample]] = field(default_factory=dict)
    senders: list[PeerName] = field(default_factory=list)

    def accept_custody(self, peer: PeerName, data_root: DataRoot, push: CustodyPush) -> Verdict:
        samples = push.samples
        self.senders.append(peer)
        if not verify_samples(data_root, samples, self.kzg):
            return Verdict.REJECT
        if data_root in self.stored:
            return Verdict.IGNORE
        self.stored[data_root] = list(samples)
        return Verdict.ACCEPT


@dataclass
class PrefixAttestationSink:
    """`AttestationSink` whose "attestations" must start with b"ATT"; duplicates are ignored."""

    max_attestation_bytes: int = 200
    received: list[tuple[PeerName, bytes]] = field(default_factory=list)

    def accept_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        if not attestation.startswith(b"ATT"):
            return Verdict.REJECT
        if any(seen == attestation for _, seen in self.received):
            return Verdict.IGNORE
        self.received.append((peer, attestation))
        return Verdict.ACCEPT


def live_threads() -> set[str]:
    """Names of live threads, leaving out the runtimes' worker pools: trio's idle worker cache (threads
    exit after 10 s idle) and asyncio's default executor (lives as long as its loop)."""
    return {t.name for t in threading.enumerate() if not t.name.startswith(("Trio thread", "asyncio_"))}


async def wait_for_identify(service: NetworkService, peer: PeerName, timeout: float = 5.0) -> list[str]:
    """The protocols `peer` announced once identify has run (py-libp2p exposes no event for it)."""
    with trio.fail_after(timeout):
        while not service.peer_protocols(peer):
            await trio.sleep(0.01)
    return service.peer_protocols(peer)


async def raw_request(
    client: NetworkService, peer: PeerName, protocol: str, payload: bytes, half_close: bool = True
) -> tuple[ResultCode, bytes]:
    """Send raw bytes (no client-side checks) on a new stream and read one answer."""
    stream = await client.host.new_stream(ID.from_base58(peer), [TProtocol(protocol)])
    try:
        await stream.write(payload)
        if half_close:
            await stream.close_write()  # type: ignore[attr-defined]
        return await FrameReader(stream, peer).read_answer(1 << 20, "raw answer")
    finally:
        with trio.CancelScope(shield=True):
            await stream.reset()
