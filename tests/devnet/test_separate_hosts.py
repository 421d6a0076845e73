"""Validators on separate hosts find each other through the registry contract alone.

Five network namespaces on one bridge stand for five machines, each with its own address: anvil (the
chain with the registry contract) in `chain`, six validators two by two in `v1`, `v2` and `v3` (each
with its own folder: keys, password, config, data directory), the operator and the light client in
`light`. No validator is given a bootstrap peer: each publishes its listen multiaddrs on its host's
address to the contract and dials the ones it reads there. A 1 MiB blob posted from `light` is
certified, its certificate verifies against the contract, and `das light check` finds the custodians
through the contract too and says available. Every program that talks on the network runs inside a
namespace; the root namespace has no address on the bridge.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.toolchain import ChainToolMissing, find_anvil
from tests.devnet.netns import (
    Host,
    NamespacesUnavailable,
    Network,
    Processes,
    check_namespaces_possible,
    find_ip,
    open_network,
)
from tests.devnet.netns_genesis import FUNDER_KEY_ENV
from tests.environment import require_or_skip
from validator.registry.chain.anvil import Anvil, start_anvil

pytestmark = [pytest.mark.slow, pytest.mark.netns, pytest.mark.xdist_group("devnet")]

REPO = Path(__file__).resolve().parents[2]
VALIDATOR_HOSTS = ("v1", "v2", "v3")
VALIDATORS_PER_HOST = 2
VALIDATORS = len(VALIDATOR_HOSTS) * VALIDATORS_PER_HOST
LABELS = ("chain", *VALIDATOR_HOSTS, "light")
BLOB_BYTES = 1024 * 1024
CONNECT_TIMEOUT_S = 90.0
COMMAND_TIMEOUT_S = 120.0
DAS = (sys.executable, "-m", "cli.main")
HELPER = (sys.executable, "-m", "tests.devnet.netns_genesis")


@pytest.fixture
def network() -> Iterator[Network]:
    """The five hosts; a skip saying why (a failure under TESSERA_REQUIRE_ALL) when this machine has no
    anvil, is not root or has no `ip`. Anything failing once set-up has begun fails the test."""
    try:
        find_anvil()
        check_namespaces_possible()
    except (ChainToolMissing, NamespacesUnavailable) as missing:
        require_or_skip(str(missing))
    with open_network(LABELS) as hosts:
        yield hosts


def test_validators_on_separate_hosts_meet_through_the_registry_contract(
    network: Network, tmp_path: Path
) -> None:
    light = network["light"]
    processes = Processes()
    anvil: Anvil | None = None
    logs: list[Path] = []
    try:
        assert "inet" not in _ip_addr(network.bridge), "the root namespace has an address on the bridge"
        anvil = start_anvil(tmp_path / "chain", accounts=1, host=network["chain"].address,
                            command_prefix=network["chain"].prefix)  # fmt: skip
        logs.append(tmp_path / "chain" / "anvil.log")
        assert anvil.rpc_url.startswith(f"http://{network['chain'].address}:"), anvil.rpc_url

        operator = tmp_path / "operator"
        operator.mkdir()
        password_file = operator / "password.txt"
        password_file.write_text(os.urandom(16).hex())
        made = _run(light, *HELPER, "genesis", "--dir", str(operator), "--rpc-url", anvil.rpc_url,
                    "--validators", str(VALIDATORS), "--password-file", str(password_file),
                    env={FUNDER_KEY_ENV: anvil.private_keys[0]})  # fmt: skip
        assert made.returncode == 0, made.stdout + made.stderr + _tails(logs)
        genesis = json.loads(made.stdout)
        registry = ["--rpc", anvil.rpc_url, "--registry-address", genesis["registry_address"]]

        homes: dict[int, tuple[Host, Path]] = {}
        for position, label in enumerate(VALIDATOR_HOSTS):
            host, home = network[label], tmp_path / label
            for number in range(position * VALIDATORS_PER_HOST, (position + 1) * VALIDATORS_PER_HOST):
                _install(home, operator, number, host, anvil.rpc_url, genesis["registry_address"])
                homes[number] = (host, home)
                logs.append(home / f"node-{number}.log")
                config = home / f"node-{number}.toml"
                processes.start(host, [*DAS, "validator", "run", "--config", str(config)], logs[-1], cwd=REPO)

        nodes = _wait_until_connected(light, processes, homes, logs)
        peer_ids = {number: node["peer_id"] for number, node in nodes.items()}
        for number, node in nodes.items():
            host = homes[number][0]
            assert node["api_url"].startswith(f"http://{host.address}:"), node
            assert all(a.startswith(f"/ip4/{host.address}/tcp/") for a in node["addrs"]), node

        read = _run(light, *HELPER, "records", "--rpc-url", anvil.rpc_url,
                    "--registry-address", genesis["registry_address"])  # fmt: skip
        assert read.returncode == 0, read.stdout + read.stderr
        by_peer = {record["peer_id"]: record for record in json.loads(read.stdout)}
        assert set(by_peer) == set(peer_ids.values()), (by_peer, peer_ids)
        for number, peer_id in peer_ids.items():
            host = homes[number][0]
            recorded = by_peer[peer_id]["multiaddrs"]
            assert recorded == nodes[number]["addrs"], (number, recorded, nodes[number])
            assert recorded and all(
                a.startswith(f"/ip4/{host.address}/tcp/") and a.endswith(f"/p2p/{peer_id}") for a in recorded
            ), (number, host.address, recorded)
            assert not any("127.0.0.1" in a for a in recorded), recorded

        blob = tmp_path / "light" / "blob.bin"
        blob.parent.mkdir()
        blob.write_bytes(random.Random(2024).randbytes(BLOB_BYTES))
        certificate = blob.with_name("certificate.ssz")
        posted = _run(light, *DAS, "blob", "post", str(blob), "--node", nodes[0]["api_url"], "--wait",
                      "--json", "--cert-out", str(certificate), "--timeout", "60")  # fmt: skip
        assert posted.returncode == 0, posted.stdout + posted.stderr + _tails(logs)
        status = json.loads(posted.stdout)
        assert status["status"] == "certified", status
        root = status["data_root"]

        verify = _run(light, *DAS, "cert", "verify", str(certificate), *registry, "--json")
        assert verify.returncode == 0, verify.stdout + verify.stderr + _tails(logs)
        assert json.loads(verify.stdout)["valid"] is True, verify.stdout

        check = _run(light, *DAS, "light", "check", root, *registry, "--cert", str(certificate), "--json")
        assert check.returncode == 0, check.stdout + check.stderr + _tails(logs)
        report = json.loads(check.stdout)
        assert report["available"] is True, report
    finally:
        processes.stop_all()
        if anvil is not None:
            anvil.stop()


def _install(home: Path, operator: Path, number: int, host: Host, rpc_url: str, address: str) -> None:
    """Validator `number`'s files on its host: its two keystores, the password, its config."""
    (home / "keys").mkdir(parents=True, exist_ok=True)
    for name in (f"validator-{number}.json", f"eth-{number}.json"):
        shutil.copy(operator / "keys" / name, home / "keys" / name)
    shutil.copy(operator / "password.txt", home / "password.txt")
    (home / f"node-{number}.toml").write_text(
        f'rpc_url = "{rpc_url}"\nregistry_address = "{address}"\neth_keystore = "keys/eth-{number}.json"\n'
        f'keystore = "keys/validator-{number}.json"\npassword_file = "password.txt"\n'
        f'data_dir = "node-{number}"\nlisten = ["/ip4/{host.address}/tcp/0"]\n'
        f'api_host = "{host.address}"\napi_port = 0\nencoder_workers = 0\nbootstrap = []\n'
        "payments = false\n"  # a private network: its posts are unpaid
    )


def _wait_until_connected(
    light: Host, processes: Processes, homes: dict[int, tuple[Host, Path]], logs: list[Path]
) -> dict[int, dict[str, Any]]:
    """Wait (bounded) until every validator wrote its node.json and sees all the others, asking their
    APIs from the light host; returns each one's node.json."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    seen: dict[str, list[str] | None] = {}
    while time.monotonic() < deadline:
        exited = processes.exited()
        assert not exited, f"validators exited (pid, code): {exited}" + _tails(logs)
        files = {number: home / f"node-{number}" / "node.json" for number, (_, home) in homes.items()}
        if all(path.exists() for path in files.values()):
            nodes = {number: json.loads(path.read_text()) for number, path in files.items()}
            asked = _run(light, *HELPER, "peers", *(node["api_url"] for node in nodes.values()))
            if asked.returncode == 0:
                seen = json.loads(asked.stdout)
                everyone = {node["peer_id"] for node in nodes.values()}
                if all(
                    set(seen[node["api_url"]] or ()) >= everyone - {node["peer_id"]}
                    for node in nodes.values()
                ):
                    return nodes
        time.sleep(0.5)
    raise AssertionError(f"validators not connected within {CONNECT_TIMEOUT_S:g} s: {seen}" + _tails(logs))


def _run(host: Host, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`args` run inside `host` from the checkout, bounded by `COMMAND_TIMEOUT_S` (no HTTP proxy: none
    is reachable from the hosts)."""
    environment = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        host.command(*args),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_S,
        check=False,
        cwd=REPO,
        env={**environment, **(env or {})},
    )


def _ip_addr(device: str) -> str:
    return subprocess.run(
        [find_ip(), "-o", "addr", "show", "dev", device],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout


def _tails(logs: list[Path], lines: int = 12, width: int = 400) -> str:
    """The last lines of every log, for an assertion message."""
    parts = []
    for path in logs:
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else ["(no log)"]
        parts.append(f"\n--- {path.name} ---\n" + "\n".join(line[:width] for line in text))
    return "".join(parts)
