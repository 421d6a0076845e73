"""Light-client test networks: real registries, keys, certificates, custody and libp2p hosts on 127.0.0.1.

Nothing is mocked. A `LightNet` is a SQLite registry in tmp_path with validators made from seeded BLS
keys and genesis ballots, one real `NetworkService` per validator (OS-chosen loopback ports) whose
registry endpoint points at it, serving exactly its custody columns of a real encoded blob (computed
with `validator.custody`), and a certificate aggregated from real attestations. A custodian can be
told to hold nothing, to serve corrupted cells, or to never answer sample requests.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import structlog
import trio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from libp2p.abc import INetStream
from libp2p.custom_types import TProtocol

from da import CkzgBackend, EncodedBlob, load_ckzg_backend
from da.grid import ExtendedBlob, compute_extended_blob
from da.kzg import PRECOMPUTE_FOR_VERIFYING
from da.types import BlobHeader, Cell, CellCoordinate, ColumnIndex, DataRoot, GridSample, Sample
from network.config import NetworkConfig
from network.constants import PROTOCOL_GRID_SAMPLES, PROTOCOL_SAMPLES
from network.logs import configure_logging
from network.server import ServerPorts
from network.service import NetworkService, open_services
from network.types import PeerName
from validator.aggregation import AttestationAggregator
from validator.certificate import certificate_to_bytes
from validator.custody import compute_member_custody
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import get_preset
from validator.quorums import compute_quorums
from validator.registry import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, Quorum, ValidatorIndex
from validator.vrf import compute_ballot, compute_genesis_seed

CHAIN_ID = 31337

FAST = NetworkConfig(request_read_timeout=1.0, response_timeout=2.0, handler_timeout=2.0, dial_timeout=2.0)
"""Custodians' timeouts: short, so misbehaviour tests finish in seconds."""


@pytest.fixture
def anyio_backend() -> str:
    """py-libp2p is trio-only."""
    return "trio"


@pytest.fixture(scope="session", autouse=True)
def verifying_setup() -> CkzgBackend:
    """The verifying trusted setup, loaded once per test process: `das light` forks its verifier from
    this process, and a forked child finds the setup already loaded (so each check skips the 2 s load)."""
    return load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING)


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Logs to stderr, warnings only (the custodians share the process with the command under test);
    structlog's global configuration is put back afterwards, for the tests that share the worker."""
    configured, saved = structlog.is_configured(), structlog.get_config()
    configure_logging(verbose=False)
    yield
    if configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()


class Mode(enum.Enum):
    """How a custodian behaves."""

    HONEST = "honest"
    EMPTY = "empty"  # holds nothing: every cell "not held"
    CORRUPT = "corrupt"  # serves its cells with one bit flipped
    SILENT = "silent"  # accepts sample streams and never answers
    BAD_EXTENSION = "bad_extension"  # serves original rows honestly, extended rows with a bit flipped


AnySample = TypeVar("AnySample", Sample, GridSample)


def corrupt(sample: AnySample) -> AnySample:
    """The same sample with one bit of its cell flipped."""
    return dataclasses.replace(
        sample, cell=Cell(bytes([sample.cell[0], sample.cell[1] ^ 1]) + sample.cell[2:])
    )


@dataclass
class CustodianStore:
    """`SampleStore`, `GridSampleStore` and `HeaderStore` of one custodian: its custody columns of the
    test blobs, over all 2R rows of their 2D grids for grid requests."""

    blobs: dict[DataRoot, tuple[EncodedBlob, frozenset[ColumnIndex]]] = field(default_factory=dict)
    mode: Mode = Mode.HONEST
    calls: int = 0
    grids: dict[DataRoot, ExtendedBlob] = field(default_factory=dict)
    """The blobs' 2D grids, derived on first need."""
    grid_rows_asked: list[int] = field(default_factory=list)
    """The row of every grid cell asked of it."""

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        self.calls += 1
        self.grid_rows_asked.extend(coordinate.row for coordinate in coordinates)
        held = self.blobs.get(data_root)
        if held is None or self.mode is Mode.EMPTY:
            return [None] * len(coordinates)
        blob, columns = held
        grid = self.grids.get(data_root)
        if grid is None:
            grid = self.grids[data_root] = compute_extended_blob(blob)
        answers: list[GridSample | None] = []
        for coordinate in coordinates:
            if coordinate.column not in columns or coordinate.row >= grid.grid_rows:
                answers.append(None)
                continue
            sample = grid.get_sample(coordinate)
            bad = self.mode is Mode.CORRUPT or (
                self.mode is Mode.BAD_EXTENSION and coordinate.row >= len(blob.rows)
            )
            answers.append(corrupt(sample) if bad else sample)
        return answers

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        self.calls += 1
        held = self.blobs.get(data_root)
        if held is None or self.mode is Mode.EMPTY:
            return [None] * len(coordinates)
        blob, columns = held
        answers: list[Sample | None] = []
        for coordinate in coordinates:
            if coordinate.column not in columns or coordinate.row >= len(blob.rows):
                answers.append(None)
                continue
            sample = blob.get_sample(coordinate)
            answers.append(corrupt(sample) if self.mode is Mode.CORRUPT else sample)
        return answers

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        held = self.blobs.get(data_root)
        return None if held is None else held[0].header


def make_key(index: int) -> SecretKey:
    return SecretKey.from_seed(hashlib.sha256(b"light-test-%d" % index).digest())


def create_registry(
    path: Path, preset: str, validators: int, slots: int, age_epochs: float = 0.0
) -> SqliteRegistry:
    """A genesis registry: `validators` keys with `slots` slots each and their epoch-0 ballots; its
    genesis was `age_epochs` epochs of 600 s ago (so its clock reads that epoch now)."""
    info = RegistryInfo(CHAIN_ID, preset, time.time() - age_epochs * 600.0, 600.0)
    registry = SqliteRegistry.create(path, info, compute_genesis_seed(CHAIN_ID, b"light-tests"))
    stake = slots * get_preset(preset).STAKE_PER_SLOT
    for number in range(validators):
        key = make_key(number)
        index = registry.register_validator(
            key.pubkey, compute_proof_of_possession(key), stake, effective_epoch=Epoch(0)
        )
        ballot = compute_ballot(key, index, CHAIN_ID, Epoch(0), registry.get_seed(Epoch(0)))
        registry.put_ballot(ballot, genesis=True)
    return registry


def certify(registry: SqliteRegistry, quorum: Quorum, data_root: DataRoot) -> bytes:
    """A certificate from every member's real attestation (aggregated at the 2/3 threshold)."""
    context = registry.get_epoch_context(quorum.epoch)
    aggregator = AttestationAggregator(context, quorum, data_root, registry.preset)
    message = compute_attestation_signing_root(CHAIN_ID, quorum.epoch, quorum.index, data_root)
    for member in quorum.members:
        signature = make_key(member).sign(message)
        aggregator.add(Attestation(quorum.epoch, quorum.index, data_root, member, signature))
    assert aggregator.certificate is not None
    return certificate_to_bytes(aggregator.certificate)


@dataclass
class LightNet:
    """A running test network around one blob (see the module docstring)."""

    tmp: Path
    registry_path: Path
    blob: EncodedBlob
    quorum: Quorum
    custody: dict[ValidatorIndex, frozenset[ColumnIndex]]
    services: list[NetworkService]
    stores: list[CustodianStore]
    certificate: bytes
    portal: BlockingPortal | None = None
    peer_ids: list[PeerName] = field(default_factory=list)

    @property
    def data_root(self) -> DataRoot:
        return self.blob.data_root

    @property
    def root_hex(self) -> str:
        return "0x" + self.blob.data_root.hex()

    def cert_file(self) -> Path:
        path = self.tmp / "certificate.ssz"
        path.write_bytes(self.certificate)
        return path

    def peer(self, member: ValidatorIndex) -> PeerName:
        return self.peer_ids[member]

    def covered_without(self, members: set[ValidatorIndex]) -> set[ColumnIndex]:
        """Columns still held when `members` hold nothing."""
        return {c for m, columns in self.custody.items() if m not in members for c in columns}

    def co_held_member(self) -> ValidatorIndex:
        """A member every one of whose columns another member also holds."""
        for member in self.quorum.members:
            if self.covered_without({member}) >= set().union(*self.custody.values()):
                return member
        raise AssertionError("no member whose columns are all co-held; change the test network")

    def set_mode(self, member: ValidatorIndex, mode: Mode) -> None:
        self.stores[member].mode = mode
        if mode is Mode.SILENT:
            host = self.services[member].host

            async def never_answer(stream: INetStream) -> None:
                await trio.sleep_forever()

            if self.portal is not None:
                for protocol in (PROTOCOL_SAMPLES, PROTOCOL_GRID_SAMPLES):
                    self.portal.call(host.set_stream_handler, TProtocol(protocol), never_answer)
            else:
                for protocol in (PROTOCOL_SAMPLES, PROTOCOL_GRID_SAMPLES):
                    host.set_stream_handler(TProtocol(protocol), never_answer)


def _build(
    tmp: Path, blob: EncodedBlob, preset: str, validators: int, slots: int, age_epochs: float = 0.0
) -> LightNet:
    registry_path = tmp / "registry.sqlite"
    with create_registry(registry_path, preset, validators, slots, age_epochs) as registry:
        context = registry.get_epoch_context(Epoch(0))
        (quorum, *_) = compute_quorums(context, registry.preset)
        custody = compute_member_custody(quorum, blob.data_root, registry.preset)
        certificate = certify(registry, quorum, blob.data_root)
    stores = [CustodianStore() for _ in range(validators)]
    for member, columns in custody.items():
        stores[member].blobs[blob.data_root] = (blob, columns)
    services = [
        NetworkService(FAST, ServerPorts(samples=store, grid_samples=store, headers=store))
        for store in stores
    ]
    return LightNet(tmp, registry_path, blob, quorum, custody, services, stores, certificate)


def publish_endpoints(net: LightNet) -> None:
    """Point every validator's registry record at its running host (what the daemon does at start)."""
    net.peer_ids = [service.peer_id for service in net.services]
    with SqliteRegistry(net.registry_path) as registry:
        for index, service in enumerate(net.services):
            registry.update_endpoint(ValidatorIndex(index), service.peer_id, tuple(service.listen_addrs))


class ThreadedNet(AbstractContextManager[LightNet]):
    """A `LightNet` whose hosts run in a trio thread (so the test thread may call `das` `main()`)."""

    def __init__(
        self, tmp: Path, blob: EncodedBlob, preset: str, validators: int, slots: int, age_epochs: float = 0.0
    ) -> None:
        self.net = _build(tmp, blob, preset, validators, slots, age_epochs)
        self._stack = ExitStack()

    def __enter__(self) -> LightNet:
        portal = self._stack.enter_context(start_blocking_portal(backend="trio"))
        self._stack.enter_context(portal.wrap_async_context_manager(open_services(self.net.services)))
        self.net.portal = portal
        portal.call(publish_endpoints_async, self.net)
        return self.net

    def __exit__(self, *exc_info: object) -> None:
        self._stack.close()


async def publish_endpoints_async(net: LightNet) -> None:
    """`publish_endpoints` from the hosts' trio thread (their addresses are read there)."""
    publish_endpoints(net)


@pytest.fixture
def threaded_net(tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob]) -> Callable[..., ThreadedNet]:
    """Factory: `with threaded_net(preset, validators, slots) as net:` runs the hosts in a trio thread;
    `age_epochs` sets the registry's genesis that many epochs back (the blob stays in epoch 0)."""

    def make(
        preset: str = "mainnet", validators: int = 8, slots: int = 8, age_epochs: float = 0.0
    ) -> ThreadedNet:
        return ThreadedNet(tmp_path, two_row_blob[1], preset, validators, slots, age_epochs)

    return make


def build_net(
    tmp: Path, blob: EncodedBlob, preset: str = "mainnet", validators: int = 8, slots: int = 8
) -> LightNet:
    """A `LightNet` not yet running: `async with open_services(net.services)`, then `publish_endpoints`."""
    return _build(tmp, blob, preset, validators, slots)
