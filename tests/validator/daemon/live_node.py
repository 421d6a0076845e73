"""One real validator node in this process, wired as `das validator run` wires it: a SQLite registry
with this validator alone (staked, its epoch-0 ballot cast), its store, the real core, libp2p host and
intake in a trio thread behind the bridge. Tests serve its HTTP API with `build_app`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from da import DAConfig
from da.kzg import CkzgBackend
from da.pool import EncoderPool
from network.bridge import TrioBridge
from network.config import NetworkConfig
from network.constants import compute_network_name
from validator.daemon.api import BridgedNode
from validator.daemon.context import NodeContext
from validator.daemon.extensions import Extensions
from validator.daemon.metrics import NodeMetrics
from validator.daemon.node import Node
from validator.daemon.payments import PaymentGate
from validator.daemon.store import NodeStore
from validator.keys import SecretKey, compute_proof_of_possession
from validator.payments.promise import PriceTerms
from validator.payments.sqlite_escrow import SqliteEscrow, install_escrow
from validator.presets import get_preset
from validator.registry import get_registry_preset
from validator.registry.port import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch
from validator.vrf import compute_ballot, compute_genesis_seed

CHAIN_ID = 31337
TERMS = PriceTerms(price_per_byte=2, min_billed_bytes=4096)
"""The price of a node with payments on."""


@dataclass(frozen=True)
class LiveNode:
    """The running node: its API face (`api`), its store and metrics to look behind the API."""

    api: BridgedNode
    store: NodeStore
    metrics: NodeMetrics
    extensions: Extensions
    escrow: SqliteEscrow | None = None
    """The embedded escrow of a node with payments on."""
    payee: str | None = None


@contextmanager
def live_node(
    directory: Path,
    kzg: CkzgBackend,
    pool: EncoderPool | None = None,
    max_dispersing: int = 32,
    payee: str | None = None,
    terms: PriceTerms = TERMS,
) -> Iterator[LiveNode]:
    """A one-validator network's node, running until the block ends (`max_dispersing`: the bound of
    encoded blobs it holds while dispersing; `payee`: payments on, promises paying that address, with
    the registry's escrow installed at `terms`)."""
    preset = get_preset("devnet")
    info = RegistryInfo(CHAIN_ID, preset.name, time.time(), 3600.0)
    seed = compute_genesis_seed(CHAIN_ID, b"\x05" * 32)
    key = SecretKey.generate()
    path = directory / "registry.sqlite"
    with SqliteRegistry.create(path, info, seed) as genesis:
        index = genesis.register_validator(
            key.pubkey, compute_proof_of_possession(key), preset.STAKE_PER_SLOT, effective_epoch=Epoch(0)
        )
        genesis.put_ballot(compute_ballot(key, index, CHAIN_ID, Epoch(0), seed), genesis=True)
    escrow = None
    if payee is not None:
        install_escrow(path, terms, withdrawal_delay=100)
        escrow = SqliteEscrow(path)
    registry = SqliteRegistry(path)
    store = NodeStore(directory / "node.sqlite")
    context = NodeContext(
        me=index,
        registry=registry,
        store=store,
        metrics=NodeMetrics(),
        preset=get_registry_preset(registry),
        chain_id=CHAIN_ID,
        kzg=kzg,
        da_config=DAConfig(),
        pool=pool,
    )
    network = NetworkConfig(
        identity_path=directory / "identity.key", network_name=compute_network_name(CHAIN_ID)
    ).validate()
    extensions = Extensions(store, max_dispersing=max_dispersing)
    gate = (
        None
        if escrow is None or payee is None
        else PaymentGate(escrow, payee, store, metrics=context.metrics)
    )
    node = Node(context, key, network, extensions=extensions, payments=gate)
    bridge = TrioBridge(node.service)
    try:
        bridge.start()
        task = bridge.start_task(node.run, name="validator-node")
        try:
            yield LiveNode(BridgedNode(bridge, node.desk), store, context.metrics, extensions, escrow, payee)
        finally:
            task.cancel()
    finally:
        if bridge.running:
            bridge.stop()
        store.close()
        registry.close()
        if escrow is not None:
            escrow.close()
