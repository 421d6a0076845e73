"""What the network layer needs from the core: small Protocols, so tests plug in real implementations.

The request handlers call these from a worker thread (`trio.to_thread.run_sync`), one call at a time per
port, so an implementation may block briefly (SQLite, a KZG batch check) and need not be thread-safe
beyond tolerating calls from a thread other than the one that built it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, Sample
from network.messages import CustodyPush
from network.types import PeerName, Verdict


class SampleStore(Protocol):
    """Answers `/tessera/samples/3`: the samples this node holds."""

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        """One entry per coordinate, in order: the sample, or None if it is not held."""


class GridSampleStore(Protocol):
    """Answers `/tessera/samples/2`: the cells of blobs' 2D grids this node holds (rows 0..2R-1)."""

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        """One entry per coordinate, in order: the grid sample, or None if it is not held."""


class HeaderStore(Protocol):
    """Answers `/tessera/header/2`: the headers this node knows."""

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """The header whose data root is `data_root`, or None."""


class CustodySink(Protocol):
    """Receives `/tessera/custody/2` pushes (structurally valid; KZG proofs not yet checked)."""

    def accept_custody(self, peer: PeerName, data_root: DataRoot, push: CustodyPush) -> Verdict:
        """ACCEPT once the cells are verified and stored durably; IGNORE if unwanted; REJECT if invalid."""


class AttestationSink(Protocol):
    """Receives `/tessera/attest/1` messages as opaque bytes of at most `max_attestation_bytes`."""

    max_attestation_bytes: int

    def accept_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        """Decode and judge an attestation; REJECT for bytes that do not decode or do not verify."""


class CertificateValidator(Protocol):
    """Judges certificate gossip payloads (opaque bytes); takes the time as a parameter."""

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        """ACCEPT a valid new certificate, IGNORE a duplicate or premature one, REJECT an invalid one."""
