"""A deterministic simulated network around real `ValidatorCore` instances.

Messages in flight are `Envelope`s; the fuzzer decides which one is delivered next, dropped,
duplicated or held back. Honest nodes run the real core; Byzantine nodes and the disperser follow
scripted behaviours (fuzz/byzantine.py). Local effects (storing custody) complete synchronously.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from da import EncodedBlob, compute_data_root
from da.types import Cell, CellCoordinate, DataRoot, Sample
from fuzz.byzantine import DisperserPolicy, NodeBehaviour
from validator.core import (
    AttestationCounted,
    AttestationReceived,
    Attested,
    CertificateFormed,
    CustodyReceived,
    CustodyStored,
    EpochContextKnown,
    Input,
    Output,
    PushCustody,
    RequestSamples,
    SamplesReceived,
    SendAttestation,
    StoreCustody,
    Tick,
    ValidatorCore,
)
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


def corrupt_sample(sample: Sample) -> Sample:
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
    outputs: list[tuple[ValidatorIndex, Output]] = field(default_factory=list)
    now: float = 0.0

    def start(self) -> None:
        """Every core learns every epoch's final registry view."""
        for core in self.cores.values():
            for context in self.contexts.values():
                core.step(EpochContextKnown(context))

    def is_honest(self, node: ValidatorIndex) -> bool:
        """True for nodes that run the real core unchanged."""
        return self.behaviours[node] is NodeBehaviour.HONEST

    def step_core(self, node: ValidatorIndex, event: Input) -> list[Envelope]:
        """Run one input through an honest core, execute local outputs, return new messages."""
        core = self.cores[node]
        pending: list[Input] = [event]
        sent: list[Envelope] = []
        while pending:
            for output in core.step(pending.pop(0)):
                self.outputs.append((node, output))
                if isinstance(output, StoreCustody):
                    root = compute_data_root(output.header)
                    self.stored.setdefault(node, {})[root] = output.samples
                    pending.append(CustodyStored(root))
                else:
                    sent += self._route(node, output)
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

    # --- routing ---------------------------------------------------------------------------------

    def _route(self, sender: ValidatorIndex, output: Output) -> list[Envelope]:
        if isinstance(output, PushCustody):
            return self._push_custody(sender, output)
        if isinstance(output, RequestSamples):
            return [Envelope(output.to, output, sender)]
        if isinstance(output, SendAttestation):
            return [Envelope(output.to, AttestationReceived(output.attestation), sender)]
        return []

    def _push_custody(self, sender: ValidatorIndex, push: PushCustody) -> list[Envelope]:
        blob = self.blobs[compute_data_root(push.header)]
        samples = [s for column in push.columns for s in blob.get_column(column)]
        samples = self.disperser.apply(push.to, samples)
        if samples is None:
            return []
        custody = CustodyReceived(sender, push.header, push.epoch, push.quorum, tuple(samples))
        return [Envelope(push.to, custody, sender)]

    def _answer(self, peer: ValidatorIndex, requester: ValidatorIndex, request: RequestSamples) -> Envelope:
        held = {s.coordinate: s for s in self.stored.get(peer, {}).get(request.data_root, ())}
        behaviour = self.behaviours[peer]
        samples: list[Sample] = []
        missing: list[CellCoordinate] = []
        for coordinate in request.coordinates:
            sample = held.get(coordinate)
            if sample is None or behaviour in {NodeBehaviour.SILENT, NodeBehaviour.WITHHOLD}:
                missing.append(coordinate)
            elif behaviour is NodeBehaviour.CORRUPT_SAMPLES:
                samples.append(corrupt_sample(sample))
            else:
                samples.append(sample)
        return Envelope(
            requester, SamplesReceived(peer, request.data_root, tuple(samples), tuple(missing)), peer
        )

    def _byzantine_receive(self, node: ValidatorIndex, payload: Input | RequestSamples) -> list[Envelope]:
        """Byzantine nodes keep what they are given (to serve or misuse it) and never run the core."""
        if isinstance(payload, CustodyReceived):
            self.stored.setdefault(node, {})[compute_data_root(payload.header)] = payload.samples
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
