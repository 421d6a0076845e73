"""A daemon's node restarted in a later epoch, and one whose registry stops answering, run in process:
real `Node`s over real libp2p hosts on loopback, a real SQLite registry whose clock the test moves,
real ckzg and blspy (specs/validator.md, Restarts and a failing registry).

- A blob the node answered `received` for in epoch 0 is certified under epoch 0's quorum after a
  restart in epoch 2, and fails with the typed reason `epoch_expired` once epoch 0 has left the
  availability window.
- A member restarted in epoch 2 takes a custody push for epoch 0 (ACCEPT, stored under epoch 0), still
  takes one for that (learnt) epoch while its registry does not answer, and ignores one for an epoch
  outside the window.
- While every registry read fails (as an RPC answering 503 would make them), the node keeps running,
  reports `registry: stale` and `tessera_registry_stale 1`, and certifies again once reads succeed.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import requests
import trio

from da import DAConfig, EncodedBlob, encode_blob
from da.kzg import CkzgBackend
from da.types import DataRoot
from network.server import ServerPorts
from network.service import open_service, open_services
from network.types import PeerName, Verdict
from tests.network.conftest import FAST, DictSampleStore
from validator.core import BlobDispersing, EpochContextKnown, PushCustody, ValidatorCore
from validator.daemon.context import NodeContext
from validator.daemon.metrics import NodeMetrics
from validator.daemon.node import Node
from validator.daemon.registry_watch import RegistryHealth, WatchedRegistry
from validator.daemon.restart import is_within_availability_window
from validator.daemon.retention import DEFAULT_RETENTION_EPOCHS
from validator.daemon.store import BlobFailure, BlobRecord, BlobStatus, NodeStore
from validator.errors import RegistryError
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import get_preset
from validator.quorums import compute_blob_quorum, compute_quorums
from validator.registry import ValidatorRegistry, get_registry_preset
from validator.registry.port import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.types import Ballot, Epoch, EpochContext, QuorumIndex, ValidatorIndex
from validator.vrf import compute_ballot, compute_genesis_seed

pytestmark = pytest.mark.anyio

GENESIS_TIME = 1_000_000.0
EPOCH_SECONDS = 60.0
PRESET = get_preset("devnet")
WAIT_SECONDS = 60.0


@pytest.fixture
def anyio_backend() -> str:
    """The node runs in trio, as in the daemon's trio thread."""
    return "trio"


class Clock:
    """The registry's clock, moved by the test (the registry is the network's clock)."""

    def __init__(self, epoch: float) -> None:
        self.now = 0.0
        self.at_epoch(epoch)

    def at_epoch(self, epoch: float) -> None:
        self.now = GENESIS_TIME + epoch * EPOCH_SECONDS

    def __call__(self) -> float:
        return self.now


def _genesis(path: Path, slots: list[int]) -> list[SecretKey]:
    """Validators holding `slots` each, effective at epoch 0, with their epoch-0 ballots."""
    info = RegistryInfo(31337, PRESET.name, GENESIS_TIME, EPOCH_SECONDS)
    seed = compute_genesis_seed(info.chain_id, b"\x02" * 32)
    keys = [SecretKey.generate() for _ in slots]
    with SqliteRegistry.create(path, info, seed, clock=lambda: GENESIS_TIME) as registry:
        for key, count in zip(keys, slots, strict=True):
            stake = count * PRESET.STAKE_PER_SLOT
            index = registry.register_validator(
                key.pubkey, compute_proof_of_possession(key), stake, effective_epoch=Epoch(0)
            )
            registry.put_ballot(compute_ballot(key, index, info.chain_id, Epoch(0), seed), genesis=True)
    return keys


def _context(
    data_dir: Path, registry: ValidatorRegistry, me: int, kzg: CkzgBackend, chain_id: int = 31337
) -> NodeContext:
    """What `main` builds: the registry behind a watch that reports to the node's health."""
    metrics = NodeMetrics()
    health = RegistryHealth(metrics)
    return NodeContext(
        me=ValidatorIndex(me),
        registry=WatchedRegistry(registry, health),
        store=NodeStore(data_dir / f"node-{me}.sqlite"),
        metrics=metrics,
        preset=get_registry_preset(registry),
        chain_id=chain_id,
        kzg=kzg,
        da_config=DAConfig(),
        registry_health=health,
    )


@asynccontextmanager
async def _running(node: Node) -> AsyncIterator[Node]:
    """The node's libp2p service and tasks, as `main` runs them in its trio thread."""
    async with open_services([node.service]), trio.open_nursery() as nursery:
        await nursery.start(node.run)
        yield node
        nursery.cancel_scope.cancel()


async def _wait_for(what: str, predicate: Callable[[], bool]) -> None:
    with trio.fail_after(WAIT_SECONDS):
        while not predicate():
            await trio.sleep(0.1)


def _blob_settled(store: NodeStore, data_root: DataRoot) -> Callable[[], BlobRecord | None]:
    def read() -> BlobRecord | None:
        record = store.get_blob(data_root)
        settled = record is not None and record.status in {BlobStatus.CERTIFIED, BlobStatus.FAILED}
        return record if settled else None

    return read


def _assignment(registry: SqliteRegistry, data_root: DataRoot, epoch: Epoch) -> tuple[QuorumIndex, int]:
    """The quorum and threshold the node assigned when it took the blob in `epoch`."""
    context = registry.get_epoch_context(epoch)
    quorums = compute_quorums(context, PRESET, verify_ballots=False)
    quorum = compute_blob_quorum(data_root, context.seed, len(quorums))
    return quorum, PRESET.certificate_threshold(len(quorums[quorum].slots))


def test_the_window_reaches_back_from_the_current_epoch_and_never_ahead() -> None:
    current = Epoch(20)
    inside = [e for e in range(30) if is_within_availability_window(Epoch(e), current, 8)]
    assert inside == list(range(12, 21))  # a later epoch's ballots are open
    assert is_within_availability_window(Epoch(0), Epoch(0), 8)
    assert is_within_availability_window(Epoch(19), current, 1)
    assert not is_within_availability_window(Epoch(18), current, 1)


@pytest.mark.parametrize(
    ("restarted_in", "expected"),
    [(2.5, BlobStatus.CERTIFIED), (DEFAULT_RETENTION_EPOCHS + 1.5, BlobStatus.FAILED)],
    ids=["two-epochs-later", "after-the-window"],
)
async def test_a_blob_received_in_an_earlier_epoch_is_resumed_under_its_own_epoch(
    tmp_path: Path,
    kzg: CkzgBackend,
    one_row_blob: tuple[bytes, EncodedBlob],
    restarted_in: float,
    expected: BlobStatus,
) -> None:
    data, encoded = one_row_blob
    (key,) = _genesis(tmp_path / "registry.sqlite", [4])  # one validator: all 4 slots of the quorum
    clock = Clock(0.2)
    registry = SqliteRegistry(tmp_path / "registry.sqlite", clock=clock)
    context = _context(tmp_path, registry, 0, kzg)
    store = context.store
    # What the node wrote when it answered `received` in epoch 0, before it was killed.
    quorum, threshold = _assignment(registry, encoded.data_root, Epoch(0))
    store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), quorum, threshold)
    clock.at_epoch(restarted_in)
    node = Node(context, key, FAST)
    try:
        async with _running(node):
            settled = _blob_settled(store, encoded.data_root)
            await _wait_for("the blob to settle", lambda: settled() is not None)
        record = settled()
        assert record is not None
        assert record.status is expected, f"{record.status}: {record.error}"
        if expected is BlobStatus.CERTIFIED:
            certificate = store.get_certificate(encoded.data_root)
            assert certificate is not None and (certificate.epoch, certificate.quorum) == (0, quorum)
            assert record.failure is None
        else:
            assert record.failure is BlobFailure.EPOCH_EXPIRED
            assert store.get_certificate(encoded.data_root) is None
    finally:
        store.close()
        registry.close()


class RecordingAttestations:
    """The aggregator's `AttestationSink`: keeps what members send."""

    max_attestation_bytes = 1024

    def __init__(self) -> None:
        self.received: list[bytes] = []

    def accept_attestation(self, peer: PeerName, attestation: bytes) -> Verdict:
        self.received.append(attestation)
        return Verdict.ACCEPT


def _push_for(
    keys: list[SecretKey], context: EpochContext, encoded: EncodedBlob, member: int, kzg: CkzgBackend
) -> PushCustody:
    """Validator 0's push to `member` of `encoded`, dispersed to quorum 0 of `context`'s epoch."""
    aggregator = ValidatorCore(ValidatorIndex(0), keys[0], PRESET, kzg, b"aggregator")
    aggregator.step(EpochContextKnown(context))
    outputs = aggregator.step(BlobDispersing(encoded.header, context.epoch, QuorumIndex(0)))
    return next(o for o in outputs if isinstance(o, PushCustody) and o.to == member)


async def test_a_restarted_member_takes_custody_of_a_passed_epoch_within_the_window(
    tmp_path: Path,
    kzg: CkzgBackend,
    one_row_blob: tuple[bytes, EncodedBlob],
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    keys = _genesis(tmp_path / "registry.sqlite", [1, 1, 1, 1])
    clock = Clock(2.5)  # the member (validator 3) restarted two epochs after the blobs' epoch
    registry = SqliteRegistry(tmp_path / "registry.sqlite", clock=clock)
    epoch_zero = registry.get_epoch_context(Epoch(0))
    switch = SwitchableRegistry(registry)
    context = _context(tmp_path, switch, 3, kzg)
    store = context.store
    member = Node(context, keys[3], FAST)
    ports = ServerPorts(samples=DictSampleStore(one_row_blob[1]), attestations=RecordingAttestations())
    try:
        async with open_service(FAST, ports) as aggregator, _running(member):
            registry.update_endpoint(ValidatorIndex(0), aggregator.peer_id, tuple(aggregator.listen_addrs))
            member_peer = member.service.peer_id
            await aggregator.connect(f"{member.service.listen_addrs[0]}/p2p/{member_peer}")

            async def push(encoded: EncodedBlob) -> Verdict:
                wanted = _push_for(keys, epoch_zero, encoded, 3, kzg)
                samples = [s for column in wanted.columns for s in encoded.get_column(column)]
                return await aggregator.push_custody(member_peer, encoded.header, samples, 0, 0)

            within = one_row_blob[1]
            assert await push(within) is Verdict.ACCEPT
            assert store.get_header(within.data_root) == (within.header, Epoch(0), QuorumIndex(0))
            assert store.custody_coordinates(within.data_root)

            switch.down = True  # the registry stops answering: epoch 0 is known, the push is judged
            during = two_row_blob[1]
            assert await push(during) is Verdict.ACCEPT
            assert store.get_header(during.data_root) == (during.header, Epoch(0), QuorumIndex(0))
            switch.down = False

            clock.at_epoch(DEFAULT_RETENTION_EPOCHS + 1.5)  # epoch 0 has now left the window
            outside = encode_blob(random.Random(32).randbytes(5000), kzg)
            assert await push(outside) is Verdict.IGNORE
            assert store.get_header(outside.data_root) is None
    finally:
        store.close()
        registry.close()


class SwitchableRegistry:
    """The real registry, behind a switch that makes every call fail the way a web3 backend's does
    when its RPC answers HTTP 503 (an exception the port does not type)."""

    def __init__(self, registry: SqliteRegistry) -> None:
        self.registry = registry
        self.down = False

    def _up(self) -> SqliteRegistry:
        if self.down:
            raise requests.HTTPError("503 Server Error: Service Unavailable")
        return self.registry

    def get_info(self) -> RegistryInfo:
        return self._up().get_info()

    def current_epoch(self) -> Epoch:
        return self._up().current_epoch()

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        return self._up().get_epoch_context(epoch)

    def put_ballot(self, ballot: Ballot) -> None:
        self._up().put_ballot(ballot)


async def test_a_node_whose_registry_fails_keeps_serving_reports_stale_and_recovers(
    tmp_path: Path,
    kzg: CkzgBackend,
    one_row_blob: tuple[bytes, EncodedBlob],
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    (key,) = _genesis(tmp_path / "registry.sqlite", [4])
    registry = SqliteRegistry(tmp_path / "registry.sqlite", clock=Clock(0.2))
    switch = SwitchableRegistry(registry)
    context = _context(tmp_path, switch, 0, kzg)
    health = context.registry_health
    assert health is not None
    node = Node(context, key, FAST)
    try:
        async with _running(node):
            first = await node.desk.submit_blob(one_row_blob[0])
            settled = _blob_settled(context.store, first.data_root)
            await _wait_for("the first blob", lambda: settled() is not None)
            assert node.desk.registry_health() is not None
            assert not health.status().stale

            switch.down = True
            await _wait_for("the node to notice", lambda: health.status().stale)
            await trio.sleep(2.0)  # several ticks and a peer refresh without a registry: still running
            view = node.desk.registry_health()
            assert view is not None and view.stale and view.stale_seconds >= 2.0
            assert "HTTPError" in (view.error or "")
            assert b"tessera_registry_stale 1.0" in node.desk.metrics()
            with pytest.raises(RegistryError):  # the API answers 503: nothing is accepted unassigned
                await node.desk.submit_blob(two_row_blob[0])
            served = await node.desk.blob_status(first.data_root)  # what it holds is still served
            assert served is not None and served.status == "certified"

            switch.down = False
            await _wait_for("the registry to answer again", lambda: not health.status().stale)
            assert b"tessera_registry_stale 0.0" in node.desk.metrics()
            second = await node.desk.submit_blob(two_row_blob[0])
            settled = _blob_settled(context.store, second.data_root)
            await _wait_for("the second blob", lambda: settled() is not None)
            record = settled()
            assert record is not None and record.status is BlobStatus.CERTIFIED
    finally:
        context.store.close()
        registry.close()
