"""The daemon's configuration file (TOML): one frozen dataclass whose `validate()` names the bad field.

```toml
registry = "registry.sqlite"          # paths are relative to the config file
# or, for the registry contract on a chain (instead of `registry`):
# rpc_url = "http://127.0.0.1:8545"
# registry_address = "0x..."
# confirmations = 12                  # blocks behind the head the registry is read (default: 12, 0 on anvil)
# eth_keystore = "keys/eth-0.json"    # the account that casts ballots and publishes the endpoint
# eth_password_file = "password.txt"  # default: password_file / password_env
# payments_address = "0x..."         # the TesseraPayments contract beside the registry (chain registries
                                      # with payments on: required; a registry file keeps its escrow inside)
keystore = "keys/validator-0.json"
password_file = "password.txt"        # or password_env = "VAR"
data_dir = "node-0"
listen = ["/ip4/127.0.0.1/tcp/0"]     # port 0: chosen by the OS, published in the registry
api_host = "127.0.0.1"
api_port = 0
encoder_workers = "auto"              # one worker process per core; 0: encode in a thread
max_queued_blobs = 8                  # blobs waiting to be encoded and dispersed; more get HTTP 429
api_header_timeout_s = 20.0           # a request head must arrive within this (idle keep-alive too)
api_body_timeout_s = 30.0             # a request body must arrive whole within this (else 408)
api_max_connections = 512             # open API connections; past it the longest-idle one is closed
api_max_requests_per_connection = 1000
retrieval_cache_bytes = 67108864      # recovered blobs kept for GET .../data (64 MiB)
max_reconstructions = 2               # blobs rebuilt at once for GET .../data; more get HTTP 429
retrieval_window_rows = 8             # rows fetched and recovered at once while a blob is rebuilt
log_format = "json"                   # or "console"
retention_epochs = 24                 # epochs a blob's data is kept after its own (mainnet: 336 = 14 days)
prune_interval_s = 30.0               # how often expired data is pruned (bounded batches)
min_free_disk_bytes = 536870912       # below this free space: POST 507, custody pushes refused
header_cache_bytes = 4194304          # headers with commitment branches kept for serving cells (4 MiB)
max_dispersing_blobs = 32             # blobs dispersed at once (extensions read from the store); more get 429
# p2p bounds (default: NetworkConfig's, specs/validator.md "Connections, peers and gossip")
p2p_max_connections = 128             # connections of non-validators (light clients, followers)
p2p_max_connections_per_ip = 16       # of those, from one IP address
p2p_max_sockets = 1024                # every socket, validators' included; must exceed p2p_max_connections
p2p_idle_seconds = 30.0               # an unprotected connection without a stream this long is closed
p2p_max_peer_scores = 10000           # peer scores (and backoffs) kept; the stalest disconnected go first
p2p_maintenance_s = 5.0               # how often idle connections and faded scores are swept
gossip_ignored_burst = 50             # IGNOREd gossip messages a peer may send at once...
gossip_ignored_per_second = 10.0      # ...and per second on average; past it they are dropped, penalized
gossip_validation_queue = 64          # gossip messages validating or waiting; more are dropped
gossip_validation_threads = 2         # threads validating gossip (registry reads)
gossip_validation_timeout_s = 10.0    # a validation slower than this is abandoned
# paid dispersal (specs/validator.md "Payments")
payments = true                       # posts carry a Tessera-Payment promise (false: a private network)
# payee = "0x..."                     # the address promises pay (default: eth_keystore's account, or
                                      # on a registry file an address derived from the BLS key)
settle_interval_s = 60.0              # held promises are settled this often (far below the withdrawal delay)
settle_batch = 100                    # promises per settlement call
```
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from eth_utils.address import is_hex_address

from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.upload import compute_max_upload_bytes
from network.config import NetworkConfig
from network.connections import ConnectionLimits
from network.errors import InvalidNetworkConfig
from validator.daemon.api.config import (
    DEFAULT_BODY_TIMEOUT_S,
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_REQUESTS_PER_CONNECTION,
    ApiConfig,
)
from validator.daemon.api.errors import InvalidApiConfig
from validator.daemon.payments import DEFAULT_SETTLE_BATCH, DEFAULT_SETTLE_INTERVAL_S
from validator.daemon.retention import DEFAULT_MIN_FREE_DISK_BYTES, DEFAULT_RETENTION_EPOCHS, RetentionPolicy
from validator.errors import ValidatorError
from validator.registry.backends import MAX_CONFIRMATIONS, ChainLocation, RegistryLocation


class InvalidDaemonConfig(ValidatorError):
    """Raised when the daemon's config file is unreadable or a field is unusable; names the field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"invalid daemon config {field}: {reason}")
        self.field = field
        self.reason = reason


DEFAULT_LISTEN = ("/ip4/127.0.0.1/tcp/0",)
API_SLACK_BYTES = 64 * 1024
"""Room in a request body beyond the largest upload (the API's size limit is
`compute_max_upload_bytes(max_blob_bytes)` + this)."""

DEFAULT_RETRIEVAL_CACHE_BYTES = 64 * 1024 * 1024
"""Two blobs of the 32 MiB maximum (32 of 2 MiB): what a rollup's readers fetch right after certification."""
DEFAULT_MAX_RECONSTRUCTIONS = 2
"""One per core on the 2-core machines we measure on: recovery is CPU-bound (ckzg, 258 ms a row)."""
DEFAULT_RETRIEVAL_WINDOW_ROWS = 8
"""Rows a reconstruction fetches and recovers at once: 8 x 128 cells of 2 KiB = 2 MiB of cells held."""

NETWORK_DEFAULTS = NetworkConfig()
"""The network layer's defaults, which the p2p keys default to (never a number of their own)."""
NETWORK_KEYS = {
    "listen_addrs": "listen",
    "bootstrap_peers": "bootstrap",
    "max_connections": "p2p_max_connections",
    "max_connections_per_ip": "p2p_max_connections_per_ip",
    "max_sockets": "p2p_max_sockets",
    "idle_seconds": "p2p_idle_seconds",
    "max_peers": "p2p_max_peer_scores",
    "maintenance_seconds": "p2p_maintenance_s",
    "gossip_ignored_burst": "gossip_ignored_burst",
    "gossip_ignored_per_peer_per_second": "gossip_ignored_per_second",
    "gossip_validation_queue": "gossip_validation_queue",
    "gossip_validation_threads": "gossip_validation_threads",
    "gossip_validation_timeout": "gossip_validation_timeout_s",
}
"""`NetworkConfig` field (as `InvalidNetworkConfig` names it) -> the daemon key that sets it."""


@dataclass(frozen=True, slots=True)
class RetrievalConfig:
    """The bounds of blob retrieval (`validator.daemon.retrieval`): bytes of recovered blobs cached,
    reconstructions run at once."""

    cache_bytes: int = DEFAULT_RETRIEVAL_CACHE_BYTES
    max_reconstructions: int = DEFAULT_MAX_RECONSTRUCTIONS
    window_rows: int = DEFAULT_RETRIEVAL_WINDOW_ROWS

    def validate(self) -> RetrievalConfig:
        """Return self if usable, else raise `InvalidDaemonConfig` naming the field."""
        if not 0 <= self.cache_bytes <= 2**36:
            raise InvalidDaemonConfig("retrieval_cache_bytes", "must be 0..2**36 (0: no cache)")
        if not 1 <= self.max_reconstructions <= 64:
            raise InvalidDaemonConfig("max_reconstructions", "must be 1..64")
        if not 1 <= self.window_rows <= 512:
            raise InvalidDaemonConfig("retrieval_window_rows", "must be 1..512")
        return self


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Where a validator's files are and how it listens."""

    registry: Path | None
    keystore: Path
    data_dir: Path
    password_file: Path | None = None
    password_env: str | None = None
    listen: tuple[str, ...] = DEFAULT_LISTEN
    api_host: str = "127.0.0.1"
    api_port: int = 0
    encoder_workers: int | None = None
    """Encoder worker processes; None: one per core; 0: encode in a thread of the daemon."""
    max_queued_blobs: int = 8
    log_format: str = "json"
    max_blob_bytes: int = DEFAULT_MAX_BLOB_BYTES
    bootstrap: tuple[str, ...] = field(default_factory=tuple)
    rpc_url: str | None = None
    registry_address: str | None = None
    confirmations: int | None = None
    """Blocks behind the chain's head the registry is read at (`ChainLocation.confirmations`; None:
    the chain's default, 12, or 0 on anvil's dev chain 31337)."""
    eth_keystore: Path | None = None
    eth_password_file: Path | None = None
    retention_epochs: int = DEFAULT_RETENTION_EPOCHS
    """Epochs a blob's data is served after its own epoch; then pruned (specs/validator.md)."""
    prune_interval_s: float = 30.0
    min_free_disk_bytes: int = DEFAULT_MIN_FREE_DISK_BYTES
    header_cache_bytes: int = 4 * 1024 * 1024
    """Bytes of blob headers with their commitment branches kept for serving cells (`Extensions`)."""
    max_dispersing_blobs: int = 32
    """Blobs dispersed at once (their extensions are read from the store); posts beyond it get 429."""
    api_header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    api_body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    api_max_connections: int = DEFAULT_MAX_CONNECTIONS
    api_max_requests_per_connection: int = DEFAULT_MAX_REQUESTS_PER_CONNECTION
    retrieval_cache_bytes: int = DEFAULT_RETRIEVAL_CACHE_BYTES
    max_reconstructions: int = DEFAULT_MAX_RECONSTRUCTIONS
    retrieval_window_rows: int = DEFAULT_RETRIEVAL_WINDOW_ROWS
    p2p_max_connections: int = NETWORK_DEFAULTS.connection_limits.max_connections
    p2p_max_connections_per_ip: int = NETWORK_DEFAULTS.connection_limits.max_connections_per_ip
    p2p_max_sockets: int = NETWORK_DEFAULTS.connection_limits.max_sockets
    p2p_idle_seconds: float = NETWORK_DEFAULTS.connection_limits.idle_seconds
    p2p_max_peer_scores: int = NETWORK_DEFAULTS.score_params.max_peers
    p2p_maintenance_s: float = NETWORK_DEFAULTS.maintenance_seconds
    gossip_ignored_burst: int = NETWORK_DEFAULTS.gossip_ignored_burst
    gossip_ignored_per_second: float = NETWORK_DEFAULTS.gossip_ignored_per_peer_per_second
    gossip_validation_queue: int = NETWORK_DEFAULTS.gossip_validation_queue
    gossip_validation_threads: int = NETWORK_DEFAULTS.gossip_validation_threads
    gossip_validation_timeout_s: float = NETWORK_DEFAULTS.gossip_validation_timeout
    payments: bool = True
    """Posts must carry a payment promise (off: a private network whose posters are trusted)."""
    payee: str | None = None
    """The address promises pay; None: the eth_keystore's account, or on a registry file an address
    derived from the validator's BLS public key (`compute_default_payee`)."""
    settle_interval_s: float = DEFAULT_SETTLE_INTERVAL_S
    settle_batch: int = DEFAULT_SETTLE_BATCH
    payments_address: str | None = None
    """The `TesseraPayments` contract of a chain registry (required there with payments on; a registry
    file's escrow is in the file, so it takes none)."""

    def validate(self) -> DaemonConfig:
        """Return self if usable, else raise `InvalidDaemonConfig` naming the field."""
        self._validate_registry()
        if not self.keystore.exists():
            raise InvalidDaemonConfig("keystore", f"{self.keystore} does not exist")
        if self.password_file is None and self.password_env is None:
            raise InvalidDaemonConfig("password_file", "give password_file or password_env")
        if not 0 <= self.api_port < 65536:
            raise InvalidDaemonConfig("api_port", f"{self.api_port} is not a port")
        if self.encoder_workers is not None and not 0 <= self.encoder_workers <= 64:
            raise InvalidDaemonConfig("encoder_workers", 'must be "auto" or 0..64 (0: encode in a thread)')
        if not 1 <= self.max_queued_blobs <= 1024:
            raise InvalidDaemonConfig("max_queued_blobs", "must be 1..1024")
        if self.log_format not in {"json", "console"}:
            raise InvalidDaemonConfig("log_format", "must be json or console")
        self._validate_resources()
        try:
            self.api_config.validate()
        except InvalidApiConfig as error:
            raise InvalidDaemonConfig(f"api_{error.field}", error.reason) from error
        self.retrieval_config.validate()
        # The network name and identity are the chain's and the data dir's: any valid ones will do here.
        self.network_config(identity_path=None, network_name=NETWORK_DEFAULTS.network_name)
        return self

    def network_config(self, identity_path: Path | None, network_name: str) -> NetworkConfig:
        """The validated `NetworkConfig` of these listen addresses, bootstrap peers and p2p bounds;
        raises `InvalidDaemonConfig` naming the daemon key of a field out of range."""
        try:
            return NetworkConfig(
                listen_addrs=self.listen,
                bootstrap_peers=self.bootstrap,
                identity_path=identity_path,
                network_name=network_name,
                score_params=replace(NETWORK_DEFAULTS.score_params, max_peers=self.p2p_max_peer_scores),
                connection_limits=ConnectionLimits(
                    max_connections=self.p2p_max_connections,
                    max_connections_per_ip=self.p2p_max_connections_per_ip,
                    max_sockets=self.p2p_max_sockets,
                    idle_seconds=self.p2p_idle_seconds,
                ),
                maintenance_seconds=self.p2p_maintenance_s,
                gossip_ignored_per_peer_per_second=self.gossip_ignored_per_second,
                gossip_ignored_burst=self.gossip_ignored_burst,
                gossip_validation_queue=self.gossip_validation_queue,
                gossip_validation_threads=self.gossip_validation_threads,
                gossip_validation_timeout=self.gossip_validation_timeout_s,
            ).validate()
        except InvalidNetworkConfig as error:
            key = NETWORK_KEYS.get(error.field, error.field)
            raise InvalidDaemonConfig(key, f"{error.value!r}: {error.reason}") from error

    def _validate_resources(self) -> None:
        if not 1 <= self.retention_epochs <= 1_000_000:
            raise InvalidDaemonConfig("retention_epochs", "must be 1..1000000")
        if not 0.1 <= self.prune_interval_s <= 86_400:
            raise InvalidDaemonConfig("prune_interval_s", "must be 0.1..86400 seconds")
        if not 0 <= self.min_free_disk_bytes <= 2**50:
            raise InvalidDaemonConfig("min_free_disk_bytes", "must be 0..2**50")
        if not 0 <= self.header_cache_bytes <= 2**30:
            raise InvalidDaemonConfig("header_cache_bytes", "must be 0..2**30 (0: no cache)")
        if not 1 <= self.max_dispersing_blobs <= 4096:
            raise InvalidDaemonConfig("max_dispersing_blobs", "must be 1..4096")
        if self.payee is not None and not is_hex_address(self.payee):
            raise InvalidDaemonConfig("payee", f"{self.payee!r} is not an address (0x and 40 hex digits)")
        if not 1.0 <= self.settle_interval_s <= 86_400:
            raise InvalidDaemonConfig("settle_interval_s", "must be 1..86400 seconds")
        if not 1 <= self.settle_batch <= 1000:
            raise InvalidDaemonConfig("settle_batch", "must be 1..1000")
        self._validate_payments_address()

    def _validate_payments_address(self) -> None:
        if self.payments_address is None:
            if self.payments and self.rpc_url is not None:
                raise InvalidDaemonConfig(
                    "payments_address",
                    "a chain registry with payments on needs the TesseraPayments contract's address "
                    "(or payments = false on a private network)",
                )
            return
        if self.rpc_url is None:
            raise InvalidDaemonConfig(
                "payments_address",
                "only a chain registry has a payments contract (a registry file keeps its escrow inside)",
            )
        if not is_hex_address(self.payments_address):
            raise InvalidDaemonConfig(
                "payments_address", f"{self.payments_address!r} is not an address (0x and 40 hex digits)"
            )

    @property
    def retention(self) -> RetentionPolicy:
        """The retention window and pruning schedule, with the free-disk threshold."""
        return RetentionPolicy(
            window_epochs=self.retention_epochs,
            prune_interval_s=self.prune_interval_s,
            min_free_disk_bytes=self.min_free_disk_bytes,
        )

    @property
    def api_config(self) -> ApiConfig:
        """The HTTP API's listening address and bounds (a body may carry a whole blob)."""
        return ApiConfig(
            host=self.api_host,
            port=self.api_port,
            # The largest body is a pre-encoded upload of the largest blob (about 1.05 x its bytes).
            max_request_bytes=compute_max_upload_bytes(self.max_blob_bytes) + API_SLACK_BYTES,
            header_timeout_s=self.api_header_timeout_s,
            body_timeout_s=self.api_body_timeout_s,
            max_connections=self.api_max_connections,
            max_requests_per_connection=self.api_max_requests_per_connection,
        )

    @property
    def retrieval_config(self) -> RetrievalConfig:
        """The bounds of blob retrieval."""
        return RetrievalConfig(
            self.retrieval_cache_bytes, self.max_reconstructions, self.retrieval_window_rows
        )

    def _validate_registry(self) -> None:
        on_chain = self.rpc_url is not None or self.registry_address is not None
        if on_chain == (self.registry is not None):
            raise InvalidDaemonConfig("registry", "give registry (a file) or rpc_url and registry_address")
        if not on_chain:
            if self.confirmations not in (None, 0):
                raise InvalidDaemonConfig("confirmations", "only a chain registry (rpc_url) has blocks")
            if self.registry is not None and not self.registry.exists():
                raise InvalidDaemonConfig("registry", f"{self.registry} does not exist")
            return
        if not self.rpc_url or not self.registry_address:
            raise InvalidDaemonConfig("registry_address", "rpc_url and registry_address go together")
        if self.confirmations is not None and not 0 <= self.confirmations <= MAX_CONFIRMATIONS:
            raise InvalidDaemonConfig("confirmations", f"must be 0..{MAX_CONFIRMATIONS}")
        if self.eth_keystore is None or not self.eth_keystore.exists():
            raise InvalidDaemonConfig("eth_keystore", "a chain registry needs the account keystore file")

    @property
    def registry_location(self) -> RegistryLocation:
        """The registry file, or the registry contract on its chain."""
        if self.rpc_url is not None and self.registry_address is not None:
            return ChainLocation(self.rpc_url, self.registry_address, self.confirmations)
        if self.registry is None:
            raise InvalidDaemonConfig("registry", "no registry configured")
        return self.registry

    @property
    def encoder_processes(self) -> int:
        """Encoder worker processes to start (resolving "auto" to this machine's cores)."""
        return self.encoder_workers if self.encoder_workers is not None else max(1, os.cpu_count() or 1)


def _workers(value: object) -> int | None:
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDaemonConfig("encoder_workers", f'{value!r}: give "auto" or a number of processes')
    return value


def _count(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidDaemonConfig(field, f"{value!r}: give a whole number")
    return value


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidDaemonConfig(field, f"{value!r}: give true or false")
    return value


def _seconds(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidDaemonConfig(field, f"{value!r}: give a number of seconds")
    return float(value)


def _whole(raw: dict[str, object], key: str) -> int:
    """A whole-number key, or its default (the p2p keys': the network layer's)."""
    return _count(key, raw.get(key, DaemonConfig.__dataclass_fields__[key].default))


def _secs(raw: dict[str, object], key: str) -> float:
    """A seconds (or per-second) key, or its default."""
    return _seconds(key, raw.get(key, DaemonConfig.__dataclass_fields__[key].default))


RETIRED_KEYS: dict[str, str] = {
    "recent_extensions": "was removed: the node no longer keeps whole extensions in memory (cells are "
    "read from its store in place); delete the line (`header_cache_bytes` bounds what it caches now)",
}
"""Keys earlier releases took, with what an operator upgrading should do about each."""


def load_config(path: Path) -> DaemonConfig:
    """Read and validate a daemon config file; relative paths are taken from the file's folder."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidDaemonConfig("config", f"{path}: {error}") from error
    base = path.parent
    known = set(DaemonConfig.__dataclass_fields__)
    retired = sorted(set(raw) & set(RETIRED_KEYS))
    if retired:
        raise InvalidDaemonConfig(retired[0], f"{RETIRED_KEYS[retired[0]]} (in {path})")
    unknown = set(raw) - known
    if unknown:
        raise InvalidDaemonConfig("config", f"unknown keys in {path}: {sorted(unknown)}")
    for key in ("keystore", "data_dir"):
        if key not in raw:
            raise InvalidDaemonConfig(key, f"missing from {path}")

    def resolve(value: str) -> Path:
        candidate = Path(value)
        return candidate if candidate.is_absolute() else base / candidate

    try:
        config = DaemonConfig(
            registry=resolve(raw["registry"]) if "registry" in raw else None,
            keystore=resolve(raw["keystore"]),
            data_dir=resolve(raw["data_dir"]),
            password_file=resolve(raw["password_file"]) if "password_file" in raw else None,
            password_env=raw.get("password_env"),
            listen=tuple(raw.get("listen", DEFAULT_LISTEN)),
            api_host=str(raw.get("api_host", "127.0.0.1")),
            api_port=int(raw.get("api_port", 0)),
            encoder_workers=_workers(raw.get("encoder_workers", "auto")),
            max_queued_blobs=int(raw.get("max_queued_blobs", 8)),
            log_format=str(raw.get("log_format", "json")),
            max_blob_bytes=int(raw.get("max_blob_bytes", DEFAULT_MAX_BLOB_BYTES)),
            bootstrap=tuple(raw.get("bootstrap", ())),
            rpc_url=raw.get("rpc_url"),
            registry_address=raw.get("registry_address"),
            confirmations=(_count("confirmations", raw["confirmations"]) if "confirmations" in raw else None),
            eth_keystore=resolve(raw["eth_keystore"]) if "eth_keystore" in raw else None,
            eth_password_file=resolve(raw["eth_password_file"]) if "eth_password_file" in raw else None,
            retention_epochs=_count(
                "retention_epochs", raw.get("retention_epochs", DEFAULT_RETENTION_EPOCHS)
            ),
            prune_interval_s=float(raw.get("prune_interval_s", 30.0)),
            min_free_disk_bytes=_count(
                "min_free_disk_bytes", raw.get("min_free_disk_bytes", DEFAULT_MIN_FREE_DISK_BYTES)
            ),
            header_cache_bytes=_count("header_cache_bytes", raw.get("header_cache_bytes", 4 * 1024 * 1024)),
            max_dispersing_blobs=_count("max_dispersing_blobs", raw.get("max_dispersing_blobs", 32)),
            api_header_timeout_s=_seconds(
                "api_header_timeout_s", raw.get("api_header_timeout_s", DEFAULT_HEADER_TIMEOUT_S)
            ),
            api_body_timeout_s=_seconds(
                "api_body_timeout_s", raw.get("api_body_timeout_s", DEFAULT_BODY_TIMEOUT_S)
            ),
            api_max_connections=_count(
                "api_max_connections", raw.get("api_max_connections", DEFAULT_MAX_CONNECTIONS)
            ),
            api_max_requests_per_connection=_count(
                "api_max_requests_per_connection",
                raw.get("api_max_requests_per_connection", DEFAULT_MAX_REQUESTS_PER_CONNECTION),
            ),
            retrieval_cache_bytes=_count(
                "retrieval_cache_bytes", raw.get("retrieval_cache_bytes", DEFAULT_RETRIEVAL_CACHE_BYTES)
            ),
            max_reconstructions=_count(
                "max_reconstructions", raw.get("max_reconstructions", DEFAULT_MAX_RECONSTRUCTIONS)
            ),
            retrieval_window_rows=_count(
                "retrieval_window_rows", raw.get("retrieval_window_rows", DEFAULT_RETRIEVAL_WINDOW_ROWS)
            ),
            # The p2p bounds' ranges are `NetworkConfig.validate`'s (see `network_config`).
            p2p_max_connections=_whole(raw, "p2p_max_connections"),
            p2p_max_connections_per_ip=_whole(raw, "p2p_max_connections_per_ip"),
            p2p_max_sockets=_whole(raw, "p2p_max_sockets"),
            p2p_idle_seconds=_secs(raw, "p2p_idle_seconds"),
            p2p_max_peer_scores=_whole(raw, "p2p_max_peer_scores"),
            p2p_maintenance_s=_secs(raw, "p2p_maintenance_s"),
            gossip_ignored_burst=_whole(raw, "gossip_ignored_burst"),
            gossip_ignored_per_second=_secs(raw, "gossip_ignored_per_second"),
            gossip_validation_queue=_whole(raw, "gossip_validation_queue"),
            gossip_validation_threads=_whole(raw, "gossip_validation_threads"),
            gossip_validation_timeout_s=_secs(raw, "gossip_validation_timeout_s"),
            payments=_flag("payments", raw.get("payments", True)),
            payee=str(raw["payee"]) if "payee" in raw else None,
            settle_interval_s=_secs(raw, "settle_interval_s"),
            settle_batch=_whole(raw, "settle_batch"),
            payments_address=str(raw["payments_address"]) if "payments_address" in raw else None,
        )
    except (TypeError, ValueError) as error:
        raise InvalidDaemonConfig("config", f"{path}: {error}") from error
    return config.validate()
