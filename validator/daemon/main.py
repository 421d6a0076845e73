"""`das validator run --config FILE`: start one validator process and serve until SIGINT/SIGTERM.

Order of start: keys, registry, store, KZG, encoder pool, libp2p service (trio thread), endpoint in the
registry, node tasks, HTTP API. Order of stop: HTTP API, node tasks, libp2p service, pool, files.
A `node.json` in the data directory tells tools (the devnet) where the node listens.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from eth_utils.address import to_checksum_address

from da.config import DAConfig
from da.kzg import PRECOMPUTE_FOR_PROVING, PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.pool import EncoderPool
from network.bridge import TrioBridge
from network.constants import compute_network_name
from network.logs import configure_logging
from validator.daemon.admission import AdmissionPolicy
from validator.daemon.api import BridgedNode, build_app, start_api
from validator.daemon.config import DaemonConfig, InvalidDaemonConfig
from validator.daemon.context import NodeContext
from validator.daemon.extensions import Extensions
from validator.daemon.metrics import NodeMetrics
from validator.daemon.node import Node
from validator.daemon.payments import PaymentGate, Settlement, compute_default_payee
from validator.daemon.registry_watch import RegistryHealth, WatchedRegistry
from validator.daemon.retention import DiskGuard
from validator.daemon.store import NodeStore
from validator.daemon.watchdog import serve_until_stopped
from validator.keystore import decrypt_keystore, read_keystore
from validator.passwords import resolve_password
from validator.payments.backends import Escrow, open_escrow
from validator.registry import get_registry_preset
from validator.registry.backends import open_registry

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

log = structlog.get_logger(__name__)


def run_daemon(config: DaemonConfig) -> int:
    """Run until a signal; returns the exit code."""
    configure_logging(json_lines=config.log_format == "json")
    password = resolve_password(password_file=config.password_file, env_var=config.password_env, prompt=False)
    secret_key = decrypt_keystore(read_keystore(config.keystore), password)
    eth_account = load_eth_account(config, password)
    registry = open_registry(config.registry_location, account=eth_account)
    me = registry.find_validator(secret_key.pubkey)
    if me is None:
        raise InvalidDaemonConfig(
            "keystore", "its key is not registered: stake it with `das validator stake`"
        )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    store = NodeStore(config.data_dir / "node.sqlite")
    workers = config.encoder_processes
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_PROVING if workers == 0 else PRECOMPUTE_FOR_VERIFYING)
    da_config = DAConfig(max_blob_bytes=config.max_blob_bytes).validate()
    pool = EncoderPool(workers, da_config) if workers > 0 else None
    info = registry.get_info()
    metrics = NodeMetrics()
    health = RegistryHealth(metrics)
    context = NodeContext(
        me=me,
        registry=WatchedRegistry(registry, health),
        store=store,
        metrics=metrics,
        preset=get_registry_preset(registry),
        chain_id=info.chain_id,
        kzg=kzg,
        da_config=da_config,
        pool=pool,
        registry_health=health,
        disk=DiskGuard(config.data_dir, config.min_free_disk_bytes),
    )
    escrow, gate, settlement = _open_payments(config, store, metrics, eth_account, secret_key.pubkey)
    network_config = config.network_config(
        identity_path=config.data_dir / "identity.key", network_name=compute_network_name(info.chain_id)
    )
    node = Node(
        context,
        secret_key,
        network_config,
        AdmissionPolicy(config.max_queued_blobs),
        retention=config.retention,
        extensions=Extensions(store, config.max_dispersing_blobs, config.header_cache_bytes),
        retrieval=config.retrieval_config,
        payments=gate,
        settlement=settlement,
    )
    service = node.service
    bridge = TrioBridge(service)
    node_task: object = None
    try:
        bridge.start()
        peer_id = bridge.call_sync(lambda: service.peer_id)
        addresses = tuple(
            address if "/p2p/" in address else f"{address}/p2p/{peer_id}"
            for address in bridge.call_sync(lambda: service.listen_addrs)
        )
        registry.update_endpoint(me, peer_id, addresses)
        node_task = bridge.start_task(node.run, name="validator-node")
        log.info("validator started", validator=me, preset=info.preset, peer=peer_id)
        return asyncio.run(_serve_api(config, node, bridge, peer_id, addresses, node_task))
    finally:
        if bridge.running:
            if isinstance(node_task, Future):
                node_task.cancel()  # the node's tasks first: they use the service
            bridge.stop()
        if pool is not None:
            pool.close()
        store.close()
        if escrow is not None:
            escrow.close()
        registry.close()
        log.info("validator stopped", validator=me)


def resolve_payee(config: DaemonConfig, eth_account: LocalAccount | None, pubkey: bytes) -> str:
    """The address this node's promises must name: `payee`, else the eth_keystore's account, else
    the address derived from its BLS public key (registry files)."""
    if config.payee is not None:
        return str(to_checksum_address(config.payee))
    return str(eth_account.address) if eth_account is not None else compute_default_payee(pubkey)


def _open_payments(
    config: DaemonConfig,
    store: NodeStore,
    metrics: NodeMetrics,
    eth_account: LocalAccount | None,
    pubkey: bytes,
) -> tuple[Escrow | None, PaymentGate | None, Settlement | None]:
    """With payments on: the escrow beside the registry, the gate of paid posts, the settlement."""
    if not config.payments:
        log.info("payments off: posts are taken unpaid (a private network)")
        return None, None, None
    escrow = open_escrow(
        config.registry_location, payments_address=config.payments_address, account=eth_account
    )
    payee = resolve_payee(config, eth_account, pubkey)
    gate = PaymentGate(escrow, payee, store, metrics=metrics)
    settlement = Settlement(
        store, escrow, escrow, payee, config.settle_interval_s, config.settle_batch, metrics=metrics
    )
    log.info("payments on", payee=payee, verifying_contract=gate.domain.verifying_contract)
    return escrow, gate, settlement


def load_eth_account(config: DaemonConfig, password: str) -> LocalAccount | None:
    """The account that signs a chain registry's transactions and the node's settlements (None for
    a registry file); `password` is the validator keystore's, used unless eth_password_file is set."""
    if config.eth_keystore is None:
        return None
    from validator.registry.chain.accounts import load_account  # noqa: PLC0415 - eth-account on chains only

    if config.eth_password_file is not None:
        password = resolve_password(password_file=config.eth_password_file, prompt=False)
    return load_account(config.eth_keystore, password)


async def _serve_api(
    config: DaemonConfig,
    node: Node,
    bridge: TrioBridge,
    peer_id: str,
    addresses: tuple[str, ...],
    node_task: Future[object],
) -> int:
    """Serve the HTTP API until SIGINT/SIGTERM (exit 0), or until the node or the network service in
    the trio thread ends on its own (exit 1): a validator that cannot disperse, sample or attest must
    not go on taking blobs; its supervisor restarts it and it resumes what it accepted."""
    api_config = config.api_config
    app = build_app(BridgedNode(bridge, node.desk), api_config)
    server = await start_api(app, api_config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    _write_node_file(
        config.data_dir / "node.json",
        {
            "pid": os.getpid(),
            "validator": node.me,
            "api_url": server.url,
            "peer_id": peer_id,
            "addrs": list(addresses),
            "preset": node.preset_name,
        },
    )
    log.info("api listening", url=server.url)
    try:
        ended = await serve_until_stopped(stop, {"node": node_task, "network service": bridge.service_run})
    finally:
        await server.close()
    return 1 if ended else 0


def _write_node_file(path: Path, content: dict[str, object]) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, indent=2))
    os.replace(temporary, path)
