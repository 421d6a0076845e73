"""Reading the registry contract some blocks behind the chain's head (`confirmations`), so that a
reader on a chain that reorganizes only acts on final blocks: a registration, and the clock that
freezes epochs, count only once they are that deep. From the API, the CLI and the daemon config."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from web3 import Web3

from tests.devnet.helpers import das
from validator.daemon.config import InvalidDaemonConfig, load_config
from validator.registry.backends import ChainLocation, open_registry

from .registry_network import EPOCH_SECONDS, KEYS, Network, chain_time, register

pytestmark = pytest.mark.xdist_group("chain")


def _mine(web3: Web3, blocks: int) -> None:
    for _ in range(blocks):
        web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_a_change_counts_only_once_it_has_its_confirmations(network: Callable[..., Network]) -> None:
    net = network(genesis_in=60, accounts=1)
    head = open_registry(ChainLocation(net.rpc_url, net.address))
    behind = open_registry(ChainLocation(net.rpc_url, net.address, confirmations=2))
    index = register(net.registry(0), KEYS[0])
    assert head.find_validator(KEYS[0].pubkey) == index
    assert behind.find_validator(KEYS[0].pubkey) is None  # no block on top of it yet
    _mine(net.web3, 1)
    assert behind.find_validator(KEYS[0].pubkey) is None  # one
    _mine(net.web3, 1)
    assert behind.find_validator(KEYS[0].pubkey) == index  # two: confirmed


def test_the_clock_is_the_confirmed_block_s(network: Callable[..., Network]) -> None:
    """An epoch starts for a reader only once a block after its start is confirmed, so the reader
    freezes no epoch context from blocks that may vanish."""
    net = network(genesis_in=5, accounts=1)
    net.to_epoch(0)
    head = open_registry(ChainLocation(net.rpc_url, net.address))
    behind = open_registry(ChainLocation(net.rpc_url, net.address, confirmations=3))
    start_of_1 = int(head.get_info().genesis_time) + EPOCH_SECONDS
    net.web3.provider.make_request("evm_increaseTime", [start_of_1 + 1 - chain_time(net.web3)])  # type: ignore[arg-type]
    _mine(net.web3, 1)
    head.sync(force=True)
    behind.sync(force=True)
    assert (head.current_epoch(), behind.current_epoch()) == (1, 0)
    _mine(net.web3, 3)
    behind.sync(force=True)
    assert behind.current_epoch() == 1


def test_the_cli_takes_confirmations_with_rpc_only(tmp_path: Path, network: Callable[..., Network]) -> None:
    net = network(genesis_in=60, accounts=1)
    chain = ["--rpc", net.rpc_url, "--registry-address", net.address]
    junk = tmp_path / "junk.cert"
    junk.write_bytes(b"not a certificate")
    read = das("cert", "verify", str(junk), *chain, "--confirmations", "2", "--json")
    assert read.returncode == 1 and json.loads(read.stdout)["status"] == "MALFORMED", read.stderr
    negative = das("cert", "verify", str(junk), *chain, "--confirmations", "-1")
    assert negative.returncode == 2 and "--confirmations must be 0..1024" in negative.stderr
    (tmp_path / "registry.sqlite").touch()
    file_registry = ["--registry", str(tmp_path / "registry.sqlite")]
    on_a_file = das("cert", "verify", str(junk), *file_registry, "--confirmations", "2")
    assert on_a_file.returncode == 2 and "--confirmations goes with --rpc" in on_a_file.stderr


def test_the_daemon_config_takes_confirmations_for_a_chain_registry_only(tmp_path: Path) -> None:
    (tmp_path / "key.json").touch()
    (tmp_path / "eth.json").touch()
    (tmp_path / "registry.sqlite").touch()
    base = 'keystore = "key.json"\ndata_dir = "node"\npassword_env = "PW"\n'
    address = "0x" + "11" * 20
    chain = f'rpc_url = "http://127.0.0.1:8545"\nregistry_address = "{address}"\neth_keystore = "eth.json"\n'
    chain += "payments = false\n"  # no payments contract here
    config = tmp_path / "node.toml"
    config.write_text(base + chain + "confirmations = 12\n")
    assert load_config(config).registry_location == ChainLocation(
        "http://127.0.0.1:8545", address, confirmations=12
    )
    for extra, why in [
        (chain + "confirmations = -1\n", "must be 0..1024"),
        (chain + 'confirmations = "12"\n', "give a whole number"),
        ('registry = "registry.sqlite"\nconfirmations = 2\n', "only a chain registry"),
    ]:
        config.write_text(base + extra)
        with pytest.raises(InvalidDaemonConfig, match=why) as refused:
            load_config(config)
        assert refused.value.field == "confirmations"
