"""A real in-process validator set for tests: keys, ballots, an epoch context, and a message loop.

Nothing is mocked: keys are blspy keys, ballots real VRF signatures, cells real ckzg cells; the
loop below simply delivers every output of every `ValidatorCore` to its addressee, in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from da import CkzgBackend, EncodedBlob, compute_data_root
from da.types import Cell, DataRoot, Sample
from validator.core import (
    AttestationReceived,
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
    ValidatorCore,
)
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import Preset
from validator.types import Epoch, EpochContext, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_ballot, compute_genesis_seed

CHAIN_ID = 31337


def make_keys(count: int, tag: bytes = b"test") -> list[SecretKey]:
    """Deterministic test keys (seeded), so failures replay."""
    return [SecretKey.from_seed(hashlib.sha256(tag + i.to_bytes(4, "little")).digest()) for i in range(count)]


def make_context(
    keys: Sequence[SecretKey], stakes: Sequence[int], epoch: int = 0, entropy: bytes = b"genesis"
) -> EpochContext:
    """An epoch context with one record and one valid ballot per key."""
    seed = compute_genesis_seed(CHAIN_ID, entropy)
    records = tuple(
        ValidatorRecord(
            index=ValidatorIndex(i),
            pubkey=key.pubkey,
            proof_of_possession=compute_proof_of_possession(key),
            stake=stake,
            peer_id=f"peer-{i}",
            multiaddrs=(),
        )
        for i, (key, stake) in enumerate(zip(keys, stakes, strict=True))
    )
    ballots = tuple(
        compute_ballot(key, ValidatorIndex(i), CHAIN_ID, Epoch(epoch), Seed(seed))
        for i, key in enumerate(keys)
    )
    return EpochContext(CHAIN_ID, Epoch(epoch), Seed(seed), records, ballots)


@dataclass
class Cluster:
    """N validator cores wired by a synchronous, in-order message loop."""

    cores: dict[ValidatorIndex, ValidatorCore]
    encoded: dict[DataRoot, EncodedBlob]
    stored: dict[ValidatorIndex, dict[DataRoot, tuple[Sample, ...]]] = field(default_factory=dict)
    log: list[tuple[ValidatorIndex, Output]] = field(default_factory=list)
    silent: set[ValidatorIndex] = field(default_factory=set)
    corrupt_samples: set[ValidatorIndex] = field(default_factory=set)

    def run(self, node: ValidatorIndex, event: Input, max_steps: int = 10_000) -> None:
        """Deliver `event` to `node` and everything that follows, breadth-first, up to `max_steps`."""
        queue: list[tuple[ValidatorIndex, Input]] = [(node, event)]
        for _ in range(max_steps):
            if not queue:
                return
            target, item = queue.pop(0)
            if target in self.silent:
                continue
            for output in self.cores[target].step(item):
                self.log.append((target, output))
                queue += self._deliver(target, output)
        raise AssertionError("message loop did not settle")

    def _deliver(self, sender: ValidatorIndex, output: Output) -> list[tuple[ValidatorIndex, Input]]:
        if isinstance(output, PushCustody):
            encoded = self.encoded[compute_data_root(output.header)]
            samples = tuple(s for column in output.columns for s in encoded.get_column(column))
            return [(output.to, CustodyReceived(sender, output.header, output.epoch, output.quorum, samples))]
        if isinstance(output, StoreCustody):
            root = compute_data_root(output.header)
            self.stored.setdefault(sender, {})[root] = output.samples
            return [(sender, CustodyStored(root))]
        if isinstance(output, RequestSamples):
            return [(sender, self._answer(output.to, output))]
        if isinstance(output, SendAttestation):
            return [(output.to, AttestationReceived(output.attestation))]
        return []

    def _answer(self, peer: ValidatorIndex, request: RequestSamples) -> SamplesReceived:
        held = {s.coordinate: s for s in self.stored.get(peer, {}).get(request.data_root, ())}
        if peer in self.silent:
            return SamplesReceived(peer, request.data_root, (), request.coordinates)
        samples = []
        for coordinate in request.coordinates:
            sample = held.get(coordinate)
            if sample is not None and peer in self.corrupt_samples:
                sample = corrupt(sample)
            if sample is not None:
                samples.append(sample)
        missing = tuple(c for c in request.coordinates if c not in held)
        return SamplesReceived(peer, request.data_root, tuple(samples), missing)

    def broadcast_context(self, context: EpochContext) -> None:
        """Every core learns the epoch's final registry view."""
        for index in self.cores:
            self.cores[index].step(EpochContextKnown(context))


def corrupt(sample: Sample) -> Sample:
    """The same sample with one bit of its cell flipped."""
    return replace(sample, cell=Cell(bytes([sample.cell[0], sample.cell[1] ^ 1]) + sample.cell[2:]))


def make_cluster(
    keys: Sequence[SecretKey], preset: Preset, kzg: CkzgBackend, encoded: Sequence[EncodedBlob]
) -> Cluster:
    """Cores for every key, sharing the verifier; nonces differ per validator."""
    cores = {
        ValidatorIndex(i): ValidatorCore(ValidatorIndex(i), key, preset, kzg, nonce=b"nonce-%d" % i)
        for i, key in enumerate(keys)
    }
    return Cluster(cores=cores, encoded={blob.data_root: blob for blob in encoded})
