"""A deterministic simulated network around real `ValidatorCore` instances.

Messages in flight are `Envelope`s; the fuzzer decides which one is delivered next, dropped,
duplicated or held back. Honest nodes run the real core; Byzantine nodes and the disperser follow
scripted behaviours (fuzz/byzantine.py). Local effects (storing custody) complete synchronously.
Custody pushes travel as the executor cuts them: chunks of whole rows, each its own envelope.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from da import EncodedBlob, compute_data_root
from da.types import BlobHeader, Cell, CellCoordinate, DataRoot, GridSample, Sample
from fuzz.byzantine import DisperserPolicy, NodeBehaviour
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    Attested,
    CertificateFormed,
    CustodyReceived,
    EpochContextKnown,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SamplesReceived,
    StoreCustody,
    Tick,
    ValidatorCore,
)
from validator.core.executor import run_until_quiet
from validator.custody import compute_grid_custody
from validator.keys import SecretKey
from validator.presets import Preset
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, EpochContext, ValidatorIndex

_ids = itertools.count()


@dataclass(frozen=True)
class Envelope:
    """A message on the wire: to `dest`, carrying a core input or a sample request to answer."""

    dest: ValidatorIndex
    payload: Input | RequestSamples
    sender: ValidatorIndex | None = None
    ident: int = field(default_factory=lambda: next(_ids))

    def __repr__(self) -> str:
        return f"Envelope(to={self.dest}, from={self.sender}, {type(self.payload).__name__}, id={self.ident})"


AnySample = TypeVar("AnySample", Sample, GridSample)


def corrupt_sample(sample: AnySample) -> AnySample:
    """The same sample with one bit of its cell flipped (still 2048 bytes, now wrong)."""
    return replace(sample, cell=Cell(bytes([sample.cell[0], sample.cell[1] ^ 1]) + sample.cell[2:]))


@dataclass
class SimNetwork:
    """The world: cores, behaviours, what each node stored, and everything that happened."""

    preset: Preset
    keys: tuple[SecretKey, ...]
    contexts: dict[int, EpochContext]
    blobs: dict[DataRoot, EncodedBlob]
    cores: dict[ValidatorIndex, ValidatorCore]
    behaviours: dict[ValidatorIndex, NodeBehaviour]
    disperser: DisperserPolicy
    stored: dict[ValidatorIndex, dict[DataRoot, tuple[Sample, ...]]] = field(default_factory=dict)
    served: dict[ValidatorIndex, dict[DataRoot, dict[CellCoordinate, GridSample]]] = field(
        default_factory=dict
    )
    """What each node serves over the 2D grid: its custody cells and their columns' extended cells,
    derived when it stored them (as a daemon's store does)."""
    outputs: list[tuple[ValidatorIndex, Output]] = field(default_factory=list)
    now: float = 0.0
    _outbox: list[Envelope] = field(default_factory=list)

    def start(self) -> None:
        """Every core learns every epoch's final registry view."""
        for core in self.cores.values():
            for context in self.contexts.values():
                core.step(EpochContextKnown(context))

    def is_honest(self, node: ValidatorIndex) -> bool:
        """True for nodes that run the real core unchanged."""
        return self.behaviours[node] is NodeBehaviour.HONEST

    def step_core(self, node: ValidatorIndex, event: Input) -> list[Envelope]:
        """Run one input through an honest core with the shared executor; return new messages."""
        run_until_quiet(self.cores[node], event, self)
        sent, self._outbox = self._outbox, []
        return sent

    def deliver(self, envelope: Envelope) -> list[Envelope]:
        """Deliver one message; return the messages it causes."""
        node, payload = envelope.dest, envelope.payload
        if isinstance(payload, RequestSamples):
            if envelope.sender is None:
                raise ValueError("a sample request needs a sender to answer")
            return [self._answer(node, envelope.sender, payload)]
        if self.is_honest(node):
            return self.step_core(node, payload)
        return self._byzantine_receive(node, payload)

    def tick(self, seconds: float) -> list[Envelope]:
        """Advance every honest core's clock."""
        self.now += seconds
        sent: list[Envelope] = []
        for node in sorted(self.cores):
            if self.is_honest(node):
                sent += self.step_core(node, Tick(self.now))
        return sent

    # --- the transport of the shared executor (validator.core.executor.Transport) ----------------

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
        """The pushed columns' cells, as the disperser policy lets them through (None: dropped)."""
        blob = self.blobs[compute_data_root(push.header)]
        cells = [sample for column in push.columns for sample in blob.get_column(column)]
        samples = self.disperser.apply(push.to, cells)
        return None if samples is None else tuple(samples)

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        """Storing completes at once in the simulation."""
        self._keep(node, output.header, output.samples)

    def _keep(self, node: ValidatorIndex, header: BlobHeader, samples: tuple[Sample, ...]) -> None:
        """Add a chunk of custody to what `node` holds (a cell stored again replaces itself); the
        columns it now holds in every row get their extended cells, as a daemon's store derives them."""
        root = compute_data_root(header)
        held = {sample.coordinate: sample for sample in self.stored.setdefault(node, {}).get(root, ())}
        held.update((sample.coordinate, sample) for sample in samples)
        merged = tuple(held[c] for c in sorted(held, key=lambda c: (c.row, c.column)))
        self.stored[node][root] = merged
        touched = {sample.column for sample in samples}
        grid = compute_grid_custody(header, [s for s in merged if s.column in touched])
        self.served.setdefault(node, {}).setdefault(root, {}).update((g.coordinate, g) for g in grid)

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        """Put the message in flight; the fuzzer decides when (and whether) it arrives."""
        self._outbox.append(Envelope(to, message, sender))

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        """The request is in flight too; `deliver` answers it from what the peer stored."""
        self._outbox.append(Envelope(request.to, request, sender))

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        """Certificates are checked through `outputs`; gossip is not simulated."""

    def record(self, node: ValidatorIndex, output: Output) -> None:
        """Every output, for the invariants."""
        self.outputs.append((node, output))

    def _answer(self, peer: ValidatorIndex, requester: ValidatorIndex, request: RequestSamples) -> Envelope:
        held = self.served.get(peer, {}).get(request.data_root, {})
        behaviour = self.behaviours[peer]
        row_count = self.blobs[request.data_root].header.row_count
        samples: list[GridSample] = []
        missing: list[CellCoordinate] = []
        for coordinate in request.coordinates:
            sample = held.get(coordinate)
            if sample is None or behaviour in {NodeBehaviour.SILENT, NodeBehaviour.WITHHOLD}:
                missing.append(coordinate)
            elif behaviour is NodeBehaviour.CORRUPT_SAMPLES:
                samples.append(corrupt_sample(sample))
            elif behaviour is NodeBehaviour.BAD_EXTENSION and coordinate.row >= row_count:
                samples.append(corrupt_sample(sample))  # a planted bad extension: extended cells wrong
            else:
                samples.append(sample)
        return Envelope(
            requester, SamplesReceived(peer, request.data_root, tuple(samples), tuple(missing)), peer
        )

    def _byzantine_receive(self, node: ValidatorIndex, payload: Input | RequestSamples) -> list[Envelope]:
        """Byzantine nodes keep what they are given (to serve or misuse it) and never run the core."""
        if isinstance(payload, CustodyReceived):
            self._keep(node, payload.header, payload.samples)
        return []

    # --- Byzantine actions -------------------------------------------------------------------------

    def forge_attestation(
        self,
        signer: ValidatorIndex,
        claimed: ValidatorIndex,
        root: DataRoot,
        epoch: int,
        quorum: int,
        to: ValidatorIndex,
    ) -> Envelope:
        """`signer` signs an attestation (maybe for a wrong root, epoch or quorum) as `claimed`."""
        context = self.contexts[epoch] if epoch in self.contexts else next(iter(self.contexts.values()))
        message = compute_attestation_signing_root(context.chain_id, epoch, quorum, root)  # type: ignore[arg-type]
        attestation = Attestation(epoch, quorum, root, claimed, self.keys[signer].sign(message))  # type: ignore[arg-type]
        return Envelope(to, AttestationReceived(attestation), signer)

    # --- what happened -----------------------------------------------------------------------------

    def events(self, kind: type) -> Iterable[tuple[ValidatorIndex, Output]]:
        """Every recorded output of type `kind`, with the node that produced it."""
        return ((node, output) for node, output in self.outputs if isinstance(output, kind))

    def certificates(self) -> list[CertificateFormed]:
        """Every certificate formed so far."""
        return [output for _, output in self.events(CertificateFormed)]  # type: ignore[misc]

    def counted(self) -> list[AttestationCounted]:
        """Every attestation an aggregator counted."""
        return [output for _, output in self.events(AttestationCounted)]  # type: ignore[misc]

    def attested(self) -> list[tuple[ValidatorIndex, Attested]]:
        """Every attestation an honest node signed."""
        return list(self.events(Attested))  # type: ignore[arg-type]
