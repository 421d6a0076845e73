"""The daemon's config file: the encoder pool is sized to the machine unless told otherwise, the
admission bound has a default, and the HTTP, retrieval and p2p bounds have defaults and name a bad field."""

from __future__ import annotations

import os
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.upload import compute_max_upload_bytes
from network.config import NetworkConfig
from network.connections import ConnectionLimits
from validator.daemon import config as config_module
from validator.daemon.api import ApiConfig
from validator.daemon.config import DaemonConfig, InvalidDaemonConfig, RetrievalConfig, load_config
from validator.registry.backends import ChainLocation
from validator.registry.chain.logcheck import default_confirmations


def _write(tmp_path: Path, extra: str = "") -> Path:
    (tmp_path / "registry.sqlite").touch()
    (tmp_path / "key.json").touch()
    config = tmp_path / "node.toml"
    config.write_text(
        'registry = "registry.sqlite"\nkeystore = "key.json"\ndata_dir = "node"\n'
        'password_env = "PW"\n' + extra
    )
    return config


def test_encoder_workers_default_to_one_per_core_and_the_queue_to_eight(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path))
    assert config.encoder_workers is None
    assert config.encoder_processes == max(1, os.cpu_count() or 1)
    assert config.max_queued_blobs == 8


def test_explicit_encoder_workers_and_queue_bound_are_kept(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "encoder_workers = 0\nmax_queued_blobs = 3\n"))
    assert config.encoder_processes == 0 and config.max_queued_blobs == 3
    assert load_config(_write(tmp_path, 'encoder_workers = "auto"\n')).encoder_workers is None


def test_the_http_and_retrieval_bounds_have_defaults_and_reach_their_parts(tmp_path: Path) -> None:
    defaults = load_config(_write(tmp_path))
    # The largest body is a pre-encoded upload of a 32 MiB blob (the default limit), with 64 KiB to spare.
    assert defaults.max_blob_bytes == DEFAULT_MAX_BLOB_BYTES == 32 * 1024 * 1024
    largest_upload = compute_max_upload_bytes(32 * 1024 * 1024)
    assert largest_upload > 32 * 1024 * 1024
    assert defaults.api_config == ApiConfig(max_request_bytes=largest_upload + 64 * 1024)
    assert defaults.retrieval_config == RetrievalConfig()
    config = load_config(
        _write(
            tmp_path,
            "api_header_timeout_s = 5\napi_body_timeout_s = 7.5\napi_max_connections = 64\n"
            "api_max_requests_per_connection = 10\nretrieval_cache_bytes = 0\nmax_reconstructions = 1\n",
        )
    )
    assert config.api_config.header_timeout_s == 5.0
    assert config.api_config.body_timeout_s == 7.5
    assert (config.api_config.max_connections, config.api_config.max_requests_per_connection) == (64, 10)
    assert config.retrieval_config == RetrievalConfig(cache_bytes=0, max_reconstructions=1)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("api_header_timeout_s = 0", "api_header_timeout_s"),
        ('api_body_timeout_s = "soon"', "api_body_timeout_s"),
        ("api_max_connections = 0", "api_max_connections"),
        ("api_max_requests_per_connection = -1", "api_max_requests_per_connection"),
        ("retrieval_cache_bytes = -1", "retrieval_cache_bytes"),
        ("max_reconstructions = 0", "max_reconstructions"),
    ],
)
def test_a_bad_http_or_retrieval_bound_names_its_field(tmp_path: Path, line: str, field: str) -> None:
    with pytest.raises(InvalidDaemonConfig) as raised:
        load_config(_write(tmp_path, line + "\n"))
    assert raised.value.field == field


def test_retention_and_resource_bounds_are_read_and_checked(tmp_path: Path) -> None:
    default = load_config(_write(tmp_path))
    assert (default.retention_epochs, default.min_free_disk_bytes) == (24, 512 * 1024 * 1024)
    config = load_config(
        _write(
            tmp_path,
            "retention_epochs = 336\nprune_interval_s = 5.0\nmin_free_disk_bytes = 0\n"
            "header_cache_bytes = 0\nmax_dispersing_blobs = 2\n",
        )
    )
    assert config.retention.window_epochs == 336 and config.retention.prune_interval_s == 5.0
    assert (config.min_free_disk_bytes, config.header_cache_bytes, config.max_dispersing_blobs) == (0, 0, 2)
    for bad, field in (
        ("retention_epochs = 0\n", "retention_epochs"),
        ("prune_interval_s = 0.0\n", "prune_interval_s"),
        ("min_free_disk_bytes = -1\n", "min_free_disk_bytes"),
        ('min_free_disk_bytes = "1G"\n', "min_free_disk_bytes"),
        ("max_dispersing_blobs = 0\n", "max_dispersing_blobs"),
    ):
        with pytest.raises(InvalidDaemonConfig) as refused:
            load_config(_write(tmp_path, bad))
        assert refused.value.field == field, bad


def _write_chain(tmp_path: Path, extra: str = "", payments: str = "payments = false\n") -> Path:
    (tmp_path / "key.json").touch()
    (tmp_path / "eth.json").touch()
    config = tmp_path / "node.toml"
    config.write_text(
        'rpc_url = "http://127.0.0.1:8545"\nregistry_address = "0x' + "11" * 20 + '"\n'
        'keystore = "key.json"\neth_keystore = "eth.json"\ndata_dir = "node"\npassword_env = "PW"\n'
        + payments
        + extra
    )
    return config


def test_a_chain_daemon_reads_the_chains_default_confirmations_unless_given(tmp_path: Path) -> None:
    """Without `confirmations` the daemon leaves the depth to the chain (12 blocks, 0 on anvil's dev
    chain: `default_confirmations`); an explicit 0 stays 0 (the devnet writes it)."""
    location = load_config(_write_chain(tmp_path)).registry_location
    assert isinstance(location, ChainLocation) and location.confirmations is None
    assert (default_confirmations(1), default_confirmations(31337)) == (12, 0)
    explicit = load_config(_write_chain(tmp_path, "confirmations = 0\n")).registry_location
    assert isinstance(explicit, ChainLocation) and explicit.confirmations == 0


def test_the_p2p_bounds_default_to_the_network_layers(tmp_path: Path) -> None:
    """No p2p key in the file: the daemon's `NetworkConfig` is the network layer's own defaults."""
    identity = tmp_path / "identity.key"
    built = load_config(_write(tmp_path)).network_config(identity, "devnet-31337")
    assert built == NetworkConfig(identity_path=identity, network_name="devnet-31337")


def test_the_p2p_bounds_set_in_the_file_reach_the_network_config(tmp_path: Path) -> None:
    config = load_config(
        _write(
            tmp_path,
            "p2p_max_connections = 40\np2p_max_connections_per_ip = 4\np2p_max_sockets = 300\n"
            "p2p_idle_seconds = 12.5\np2p_max_peer_scores = 2000\np2p_maintenance_s = 2\n"
            "gossip_ignored_burst = 20\ngossip_ignored_per_second = 3.5\n"
            "gossip_validation_queue = 16\ngossip_validation_threads = 1\ngossip_validation_timeout_s = 4\n"
            'listen = ["/ip4/127.0.0.1/tcp/9000"]\n',
        )
    )
    built = config.network_config(None, "devnet")
    defaults = NetworkConfig()
    assert built == replace(
        defaults,
        listen_addrs=("/ip4/127.0.0.1/tcp/9000",),
        connection_limits=ConnectionLimits(
            max_connections=40, max_connections_per_ip=4, max_sockets=300, idle_seconds=12.5
        ),
        score_params=replace(defaults.score_params, max_peers=2000),
        maintenance_seconds=2.0,
        gossip_ignored_burst=20,
        gossip_ignored_per_peer_per_second=3.5,
        gossip_validation_queue=16,
        gossip_validation_threads=1,
        gossip_validation_timeout=4.0,
    )


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("p2p_max_connections = 0", "p2p_max_connections"),
        ('p2p_max_connections = "many"', "p2p_max_connections"),
        ("p2p_max_connections_per_ip = 0", "p2p_max_connections_per_ip"),
        # Per address above the total, and no room for validators above the others: cross-field checks.
        ("p2p_max_connections_per_ip = 129", "p2p_max_connections_per_ip"),
        ("p2p_max_sockets = 128", "p2p_max_sockets"),
        ("p2p_max_sockets = 1.5", "p2p_max_sockets"),
        ("p2p_idle_seconds = 0", "p2p_idle_seconds"),
        ("p2p_idle_seconds = true", "p2p_idle_seconds"),
        ("p2p_max_peer_scores = 0", "p2p_max_peer_scores"),
        ("p2p_maintenance_s = -1", "p2p_maintenance_s"),
        ("gossip_ignored_burst = 0", "gossip_ignored_burst"),
        ("gossip_ignored_per_second = 0", "gossip_ignored_per_second"),
        ("gossip_ignored_per_second = nan", "gossip_ignored_per_second"),
        ("gossip_validation_queue = 0", "gossip_validation_queue"),
        ("gossip_validation_threads = 0", "gossip_validation_threads"),
        ("gossip_validation_timeout_s = 0", "gossip_validation_timeout_s"),
        ('listen = ["not a multiaddr"]', "listen"),
    ],
)
def test_a_bad_p2p_bound_names_its_field(tmp_path: Path, line: str, field: str) -> None:
    with pytest.raises(InvalidDaemonConfig) as raised:
        load_config(_write(tmp_path, line + "\n"))
    assert raised.value.field == field


def test_the_documented_example_names_real_keys_and_the_p2p_defaults() -> None:
    """The TOML example atop `validator.daemon.config` stays true: every key exists, and the p2p
    bounds it shows are the defaults (so the numbers there are the network layer's)."""
    doc = config_module.__doc__ or ""
    example = tomllib.loads(doc.split("```toml\n", 1)[1].split("```", 1)[0])
    assert set(example) <= set(DaemonConfig.__dataclass_fields__)
    p2p = {key: value for key, value in example.items() if key.startswith(("p2p_", "gossip_"))}
    assert len(p2p) == 11
    for key, value in p2p.items():
        assert value == DaemonConfig.__dataclass_fields__[key].default, key


def test_payments_are_on_by_default_and_their_keys_are_checked(tmp_path: Path) -> None:
    default = load_config(_write(tmp_path))
    assert (default.payments, default.payee, default.settle_interval_s, default.settle_batch) == (
        True,
        None,
        60.0,
        100,
    )
    payee = "0x" + "ab" * 20
    config = load_config(
        _write(tmp_path, f'payments = false\npayee = "{payee}"\nsettle_interval_s = 5\nsettle_batch = 7\n')
    )
    assert (config.payments, config.payee, config.settle_interval_s, config.settle_batch) == (
        False,
        payee,
        5.0,
        7,
    )
    for bad, field in (
        ('payments = "yes"\n', "payments"),
        ('payee = "0x1234"\n', "payee"),
        ("settle_interval_s = 0.5\n", "settle_interval_s"),
        ("settle_batch = 0\n", "settle_batch"),
    ):
        with pytest.raises(InvalidDaemonConfig) as refused:
            load_config(_write(tmp_path, bad))
        assert refused.value.field == field, bad


def test_a_chain_node_taking_payments_names_its_payments_contract(tmp_path: Path) -> None:
    """With payments on, a chain registry needs `payments_address` (the TesseraPayments contract);
    a registry file keeps its escrow inside and refuses one; a bad address is named."""
    address = "0x" + "22" * 20
    paid = load_config(_write_chain(tmp_path, payments=f'payments_address = "{address}"\n'))
    assert (paid.payments, paid.payments_address) == (True, address)
    unpaid = load_config(_write_chain(tmp_path))
    assert (unpaid.payments, unpaid.payments_address) == (False, None)
    for on_chain, line, why in (
        (True, "", "needs the TesseraPayments contract's address"),
        (True, 'payments_address = "0x1234"\n', "is not an address"),
        (False, f'payments_address = "{address}"\n', "only a chain registry"),
    ):
        path = _write_chain(tmp_path, payments=line) if on_chain else _write(tmp_path, line)
        with pytest.raises(InvalidDaemonConfig, match=why) as refused:
            load_config(path)
        assert refused.value.field == "payments_address"


def test_a_retired_key_says_what_became_of_it(tmp_path: Path) -> None:
    """An operator upgrading with `recent_extensions` (gone since the node reads cells in place) is
    told to delete it and what bounds the cache now, not just "unknown keys"."""
    with pytest.raises(InvalidDaemonConfig) as raised:
        load_config(_write(tmp_path, "recent_extensions = 4\n"))
    assert raised.value.field == "recent_extensions"
    assert "delete the line" in raised.value.reason and "header_cache_bytes" in raised.value.reason
    with pytest.raises(InvalidDaemonConfig) as unknown:
        load_config(_write(tmp_path, "recent_extension = 4\n"))  # a typo stays an unknown key
    assert unknown.value.field == "config" and "recent_extension" in unknown.value.reason
