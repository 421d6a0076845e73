"""A real in-process validator set for tests: keys, ballots, an epoch context, and a message loop.

Nothing is mocked: keys are blspy keys, ballots real VRF signatures, cells real ckzg cells; the
loop below simply delivers every output of every `ValidatorCore` to its addressee, in order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from da import CkzgBackend, EncodedBlob, compute_data_root
from da.types import Cell, DataRoot, GridSample, Sample
from validator.core import (
    EpochContextKnown,
    Input,
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SamplesReceived,
    StoreCustody,
    ValidatorCore,
)
from validator.core.executor import run_until_quiet
from validator.custody import compute_grid_custody
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
    served: dict[ValidatorIndex, dict[DataRoot, tuple[GridSample, ...]]] = field(default_factory=dict)
    log: list[tuple[ValidatorIndex, Output]] = field(default_factory=list)
    silent: set[ValidatorIndex] = field(default_factory=set)
    corrupt_samples: set[ValidatorIndex] = field(default_factory=set)
    _queue: list[tuple[ValidatorIndex, Input]] = field(default_factory=list)

    def run(self, node: ValidatorIndex, event: Input, max_steps: int = 10_000) -> None:
        """Deliver `event` to `node` and everything that follows, breadth-first, up to `max_steps`.

        Outputs go through the daemon's own executor; only the transport (this in-order queue) is ours.
        """
        self._queue.append((node, event))
        for _ in range(max_steps):
            if not self._queue:
                return
            target, item = self._queue.pop(0)
            if target not in self.silent:
                run_until_quiet(self.cores[target], item, self)
        raise AssertionError("message loop did not settle")

    # --- the transport of validator.core.executor ---------------------------------------------

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...]:
        """The pushed columns' cells of the encoded blob."""
        encoded = self.encoded[compute_data_root(push.header)]
        return tuple(s for column in push.columns for s in encoded.get_column(column))

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        """Stored at once, in memory; what it serves over the 2D grid is derived then (as a daemon's
        store derives its custody columns' extended cells)."""
        root = compute_data_root(output.header)
        self.stored.setdefault(node, {})[root] = output.samples
        self.served.setdefault(node, {})[root] = compute_grid_custody(output.header, output.samples)

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        """Queued in order."""
        self._queue.append((to, message))

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        """Answered at once from what the peer stored; the answer is queued for the requester."""
        self._queue.append((sender, self._answer(request.to, request)))

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        """Certificates are read from the log."""

    def record(self, node: ValidatorIndex, output: Output) -> None:
        """Every output, in order."""
        self.log.append((node, output))

    def _answer(self, peer: ValidatorIndex, request: RequestSamples) -> SamplesReceived:
        held = {s.coordinate: s for s in self.served.get(peer, {}).get(request.data_root, ())}
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


def corrupt(sample: GridSample) -> GridSample:
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
