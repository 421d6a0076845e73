"""The daemon's core driver over a real SQLite registry: queries learn the epoch they name, so a blob
of an earlier epoch is found after a restart, and an epoch the registry does not know is no quorum."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from da import DAConfig
from da.kzg import CkzgBackend
from da.types import DataRoot
from network.service import NetworkService
from tests.network.conftest import FAST
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver
from validator.daemon.effects import DaemonTransport, spawn_from_thread
from validator.daemon.extensions import Extensions
from validator.daemon.metrics import NodeMetrics
from validator.daemon.peer_book import PeerBook
from validator.daemon.sends import Sends
from validator.daemon.store import NodeStore
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import get_preset
from validator.registry import get_registry_preset
from validator.registry.port import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch, QuorumIndex, ValidatorIndex
from validator.vrf import compute_ballot, compute_genesis_seed

pytestmark = pytest.mark.anyio

GENESIS_TIME = 1_000_000.0
EPOCH_SECONDS = 60.0
VALIDATORS = 4


@pytest.fixture
def anyio_backend() -> str:
    """The driver lives in the daemon's trio thread."""
    return "trio"


def _registry(path: Path) -> tuple[list[SecretKey], int]:
    """A genesis of `VALIDATORS` one-slot validators with their epoch-0 ballots; returns the keys."""
    preset = get_preset("devnet")
    info = RegistryInfo(31337, preset.name, GENESIS_TIME, EPOCH_SECONDS)
    seed = compute_genesis_seed(info.chain_id, b"\x01" * 32)
    keys = [SecretKey.generate() for _ in range(VALIDATORS)]
    with SqliteRegistry.create(path, info, seed, clock=lambda: GENESIS_TIME) as registry:
        for key in keys:
            index = registry.register_validator(
                key.pubkey, compute_proof_of_possession(key), preset.STAKE_PER_SLOT, effective_epoch=Epoch(0)
            )
            registry.put_ballot(compute_ballot(key, index, info.chain_id, Epoch(0), seed), genesis=True)
    return keys, info.chain_id


async def test_a_quorum_of_an_earlier_epoch_is_learnt_when_asked_for(
    tmp_path: Path, kzg: CkzgBackend
) -> None:
    keys, chain_id = _registry(tmp_path / "registry.sqlite")
    in_epoch_two = GENESIS_TIME + 2.5 * EPOCH_SECONDS  # the node restarted two epochs after the blob
    registry = SqliteRegistry(tmp_path / "registry.sqlite", clock=lambda: in_epoch_two)
    store = NodeStore(tmp_path / "node.sqlite")
    context = NodeContext(
        me=ValidatorIndex(0),
        registry=registry,
        store=store,
        metrics=NodeMetrics(),
        preset=get_registry_preset(registry),
        chain_id=chain_id,
        kzg=kzg,
        da_config=DAConfig(),
    )
    driver = CoreDriver(context, keys[0], attested=[])
    try:
        async with trio.open_nursery() as nursery:
            # The real transport, over a service that is built but never started: learning an epoch
            # sends nothing.
            sends = Sends(NetworkService(FAST), PeerBook(registry), context.metrics, driver.process)
            driver.attach(DaemonTransport(context, Extensions(store), spawn_from_thread(nursery), sends))
            quorum = await driver.get_quorum(Epoch(0), QuorumIndex(0))
            assert quorum is not None, "epoch 0 was never learnt by this run: the query must learn it"
            assert set(quorum.members) == set(range(VALIDATORS))
            assert await driver.get_quorum(Epoch(0), QuorumIndex(1)) is None  # one quorum only
            assert await driver.get_quorum(Epoch(9), QuorumIndex(0)) is None  # not an epoch yet
            assignment = await driver.assign_blob(DataRoot(b"\x07" * 32), Epoch(0))
            assert assignment is not None and assignment.quorum == 0 and assignment.threshold >= 1
            with pytest.raises(RuntimeError, match="already has a transport"):
                driver.attach(DaemonTransport(context, Extensions(store), spawn_from_thread(nursery), sends))
            nursery.cancel_scope.cancel()
    finally:
        store.close()
        registry.close()
