"""`das light follow`'s core: certificates from real gossip are sampled, persisted, resumed, never redone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trio

from da import EncodedBlob
from da.kzg import CkzgBackend
from da.types import DataRoot
from network.config import NetworkConfig
from network.service import NetworkService, open_service, open_services
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from sampling.client.follow import Follower, FollowOptions
from sampling.client.rounds import SamplingStats
from sampling.client.status_http import serve_status
from sampling.client.status_routes import make_router
from sampling.store import PendingRoot, ResultStore, StoredResult
from tests.sampling.client.conftest import FAST, LightNet, build_net, publish_endpoints
from validator.registry.sqlite import SqliteRegistry

pytestmark = pytest.mark.anyio


@dataclass
class Results:
    """What `on_result` reported, with an event per arrival."""

    stored: list[StoredResult] = field(default_factory=list)
    skipped: list[DataRoot] = field(default_factory=list)
    arrived: trio.Event = field(default_factory=trio.Event)

    def __call__(self, result: StoredResult, seconds: float, stats: SamplingStats | None) -> None:
        self.stored.append(result)
        self.arrived.set()

    def skip(self, data_root: DataRoot) -> None:
        self.skipped.append(data_root)
        self.arrived.set()

    async def wait(self, count: int, seconds: float = 20.0, *, skipped: int = 0) -> None:
        with trio.fail_after(seconds):
            while len(self.stored) < count or len(self.skipped) < skipped:
                self.arrived = trio.Event()
                await self.arrived.wait()


@asynccontextmanager
async def running_follower(
    net: LightNet, db: Path, verifier: CkzgBackend, bootstrap: str | None, results: Results
) -> AsyncIterator[tuple[Follower, str]]:
    """A follower (own host, registry view, store) with its status API on a free port."""
    config = NetworkConfig(
        bootstrap_peers=(bootstrap,) if bootstrap else (), response_timeout=2.0, dial_timeout=2.0
    )
    with SqliteRegistry(net.registry_path) as registry, ResultStore(db) as store:
        view = RegistryView(registry)
        async with open_service(config, certificate_validator=RegistryCertificateValidator(view)) as service:
            follower = Follower(
                service,
                view,
                store,
                verifier,
                FollowOptions(timeout=2.0),
                on_result=results,
                on_skipped=results.skip,
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(follower.run)
                host, port = await nursery.start(serve_status, make_router(follower), "127.0.0.1", 0)
                yield follower, f"http://{host}:{port}"
                nursery.cancel_scope.cancel()


async def publish(publisher: NetworkService, certificate: bytes) -> None:
    with trio.fail_after(15):
        await publisher.publish_certificate(certificate)


async def test_follow_samples_gossiped_certificates_and_never_twice(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], verifying_setup: CkzgBackend
) -> None:
    net = build_net(tmp_path, two_row_blob[1])
    db = tmp_path / "light.sqlite"
    async with open_services(net.services):
        publish_endpoints(net)
        with SqliteRegistry(net.registry_path) as registry:
            validator = RegistryCertificateValidator(RegistryView(registry))
            first = Results()
            async with (
                open_service(FAST, certificate_validator=validator) as publisher,
                running_follower(net, db, verifying_setup, publisher.listen_addrs[0], first) as (
                    _follower,
                    url,
                ),
            ):
                await publish(publisher, net.certificate)
                await first.wait(1)
                async with httpx.AsyncClient(timeout=5) as http:
                    status = (await http.get(f"{url}/v1/status")).json()
                    blob = (await http.get(f"{url}/v1/blobs/{net.root_hex}")).json()
                    unknown = await http.get(f"{url}/v1/blobs/0x{'00' * 32}")
                    bad = await http.get(f"{url}/v1/blobs/nothex")
            calls_after_first = sum(store.calls for store in net.stores)
            # Restart: a new follower process on the same database hears the same certificate again.
            second = Results()
            async with (
                open_service(FAST, certificate_validator=validator) as publisher,
                running_follower(net, db, verifying_setup, publisher.listen_addrs[0], second) as (again, _),
            ):
                await publish(publisher, net.certificate)
                await second.wait(0, skipped=1)
    (result,) = first.stored
    assert result.data_root == net.data_root and result.status == "available" and result.confidence >= 0.9999
    assert status["followed"] == status["finished"] == status["finished_total"] == 1
    assert status["lag"] == {"count": 0, "seconds": 0.0, "dropped": 0} and status["queued"] == 0
    assert status["peers"]["connected"] >= 1
    assert blob["status"] == "available" and blob["verified"] == result.verified
    assert blob["column_failures"] == {}
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_argument"
    assert second.stored == [] and second.skipped == [net.data_root], "not sampled again after a restart"
    assert again.skipped_finished == 1
    assert sum(store.calls for store in net.stores) == calls_after_first
    with ResultStore(db) as store:
        assert store.get(net.data_root) == result and store.get_pending() == []


async def test_a_restart_resumes_roots_received_but_not_finished(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], verifying_setup: CkzgBackend
) -> None:
    net = build_net(tmp_path, two_row_blob[1])
    db = tmp_path / "light.sqlite"
    with ResultStore(db) as store:  # what a follower killed mid-sampling leaves behind
        store.update_pending([PendingRoot(net.data_root, net.certificate, 1.0)])
    results = Results()
    async with open_services(net.services):
        publish_endpoints(net)
        async with running_follower(net, db, verifying_setup, None, results) as (follower, _):
            await results.wait(1)
    assert results.stored[0].status == "available" and follower.followed == 1
    assert follower.resumed == (net.data_root,)  # from the pending table, not from gossip
    with ResultStore(db) as store:
        assert store.get_pending() == [] and store.is_finished(net.data_root)


async def test_a_full_backlog_keeps_the_newest_and_reports_the_lag(
    tmp_path: Path, two_row_blob: tuple[bytes, EncodedBlob], verifying_setup: CkzgBackend
) -> None:
    net = build_net(tmp_path, two_row_blob[1])
    now = [1000.0]
    with SqliteRegistry(net.registry_path) as registry, ResultStore(tmp_path / "light.sqlite") as store:
        view = RegistryView(registry)
        async with open_service(FAST) as service:
            follower = Follower(
                service, view, store, verifying_setup, FollowOptions(backlog=2), clock=lambda: now[0]
            )  # not running: nothing drains the backlog
            roots = [DataRoot(bytes([i]) * 32) for i in range(4)]
            for root in roots:
                follower.offer(root, b"certificate", now[0])
                now[0] += 1.0
            follower.offer(roots[3], b"certificate", now[0])  # already waiting: ignored
            status = await follower.status()
            queued = await follower.blob_status(roots[3])
            dropped = await follower.blob_status(roots[0])
    assert status["lag"] == {"count": 2, "seconds": 2.0, "dropped": 2}
    assert status["followed"] == 4 and status["queued"] == 2
    assert queued is not None and queued["status"] == "queued"
    assert dropped is None, "the oldest roots were dropped to keep the newest"
