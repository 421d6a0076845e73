"""Retention and memory on a devnet of real validator processes with short epochs and a one-epoch
window (specs/validator.md, Resources and retention): a certified blob's data is pruned on every node
once its window ends, its pages go back to the file system, a read of it answers 410 Gone with when
it expired, and its certificate still verifies; 30 x 1 MiB posted, a third of them unable to certify,
leave no encoded blob held once the network settles and the posting node's RSS within a stated bound.

The devnet is this module's own (4 validators, 8-second epochs), not the package's shared one."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devnet.helpers import api, das, http, http_with_headers, metric, post
from validator.devnet import Devnet
from validator.registry.sqlite import SqliteRegistry

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]

VALIDATORS = 4
EPOCH_SECONDS = 8.0
RETENTION = "retention_epochs = 1\nprune_interval_s = 1.0\n"


@pytest.fixture(scope="module")
def short_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """4 validators, 8-second epochs, a window of one epoch, pruning every second."""
    network = Devnet(tmp_path_factory.mktemp("retention"))
    network.create(VALIDATORS, EPOCH_SECONDS, payments=False)  # a private network: posts go unpaid
    for index in range(VALIDATORS):
        config = network.directory / f"node-{index}.toml"
        config.write_text(config.read_text() + RETENTION)
    try:
        for index in range(VALIDATORS):
            network.start_node(index)
        network.wait_until_connected(list(range(VALIDATORS)))
        _wait_for_full_ballots(network)
        yield network
    finally:
        network.stop_all()


def _wait_for_full_ballots(devnet: Devnet) -> None:
    """Until the current epoch has every validator's ballot (the first epochs after genesis begin
    before the validators started and cast theirs), bounded."""
    deadline = time.monotonic() + 6 * EPOCH_SECONDS
    with SqliteRegistry(devnet.registry_path) as registry:
        while time.monotonic() < deadline:
            if len(registry.get_epoch_context(registry.current_epoch()).ballots) == VALIDATORS:
                return
            time.sleep(0.5)
    raise AssertionError("the validators never all cast their ballots")


def _rows(devnet: Devnet, index: int, table: str, root: bytes) -> int:
    """Rows of `table` a node's store holds for `root` (read-only, beside the running daemon)."""
    path = devnet.directory / f"node-{index}" / "node.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (count,) = db.execute(f"SELECT COUNT(*) FROM {table} WHERE data_root = ?", (root,)).fetchone()  # noqa: S608
        return int(count)
    finally:
        db.close()


def _pages(devnet: Devnet, index: int) -> int:
    path = devnet.directory / f"node-{index}" / "node.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(db.execute("PRAGMA page_count").fetchone()[0])
    finally:
        db.close()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_an_expired_blob_is_pruned_everywhere_answers_410_and_its_certificate_verifies(
    short_devnet: Devnet, tmp_path: Path
) -> None:
    devnet = short_devnet
    status, data, certificate = post(devnet, tmp_path, 300_000, seed=2701)
    root_hex = status["data_root"]
    root = bytes.fromhex(root_hex[2:])
    assert http("GET", f"{api(devnet, 0)}/v1/blobs/{root_hex}/data") == (
        200,
        data,
    )  # raw bytes dropped: unpacked
    holders = [i for i in range(VALIDATORS) if _rows(devnet, i, "custody", root) > 0]
    assert holders, "no validator holds custody of the blob"
    assert _rows(devnet, 0, "extension", root) > 0
    pages_before = _pages(devnet, 0)

    deadline = time.monotonic() + 3 * EPOCH_SECONDS + 20
    code, body = 200, b""
    while time.monotonic() < deadline:
        code, body = http("GET", f"{api(devnet, 0)}/v1/blobs/{root_hex}/data")
        if code == 410 and all(_rows(devnet, i, "custody", root) == 0 for i in holders):
            break
        time.sleep(0.5)
    assert code == 410, (code, body[:200])
    error = json.loads(body)["error"]
    assert error["code"] == "gone" and error["epoch"] == status["epoch"] and error["expired_at"]
    for index in holders:
        assert _rows(devnet, index, "custody", root) == 0
        assert http("GET", f"{api(devnet, index)}/v1/blobs/{root_hex}/data")[0] == 410
    assert _rows(devnet, 0, "extension", root) == 0
    assert _pages(devnet, 0) < pages_before  # the pruned pages went back to the file system

    # Headers and certificates are kept: the certificate is still served and still verifies.
    code, served, _ = http_with_headers("GET", f"{api(devnet, 0)}/v1/blobs/{root_hex}/certificate")
    assert code == 200 and served == certificate.read_bytes()
    assert http("GET", f"{api(devnet, 0)}/v1/blobs/{root_hex}/header")[0] == 200
    verified = das("cert", "verify", str(certificate), "--registry", str(devnet.registry_path))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert metric(devnet, 0, "tessera_blobs_pruned_total") >= 1


def _post_until_taken(devnet: Devnet, data: bytes, deadline: float) -> str:
    """POST one blob to validator 0, waiting out 429s (bounded); its data root."""
    while time.monotonic() < deadline:
        code, body, headers = http_with_headers("POST", f"{api(devnet, 0)}/v1/blobs", data)
        if code == 202:
            return str(json.loads(body)["data_root"])
        assert code == 429, (code, body[:200])
        time.sleep(float(headers.get("Retry-After", "1")))
    raise AssertionError("validator 0 never took the blob")


RSS_GROWTH_BOUND = 160 * 1024 * 1024
"""Bound on validator 0's RSS growth after 30 MiB posted and settled. Holding every encoded blob
would be about 30 x 2.4 MiB of cells and proofs plus Python's per-object overhead (the issue saw
+192 MiB after 8 blobs); what stays is the allocator's high-water mark of the few blobs in flight at
once (admission: 8 queued), not the blobs posted."""


def test_thirty_mebibytes_posted_leave_nothing_held_and_rss_bounded(
    short_devnet: Devnet, tmp_path: Path
) -> None:
    devnet = short_devnet
    pid = devnet.pid_of(0)
    assert pid is not None
    rss_start = _rss_bytes(pid)
    rng = random.Random(27)
    deadline = time.monotonic() + 600
    # A third cannot certify: two of the four validators are down while they are dispersed; their
    # epoch expires before a re-push could reach the restarted validators.
    devnet.stop_node(2)
    devnet.stop_node(3)
    failing = [_post_until_taken(devnet, rng.randbytes(1024 * 1024), deadline) for _ in range(10)]
    devnet.start_node(2)
    devnet.start_node(3)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    certifying = [_post_until_taken(devnet, rng.randbytes(1024 * 1024), deadline) for _ in range(20)]

    final: dict[str, str] = {}
    errors: dict[str, str] = {}
    while time.monotonic() < deadline and len(final) < 30:
        for root in [*failing, *certifying]:
            if root in final:
                continue
            result = das("blob", "status", root, "--node", api(devnet, 0))
            if result.returncode == 0 and json.loads(result.stdout)["status"] in {"certified", "failed"}:
                answer = json.loads(result.stdout)
                final[root] = answer["status"]
                errors[root] = str(answer.get("error"))
        time.sleep(1.0)
    assert len(final) == 30, f"{30 - len(final)} blobs never settled"
    # With a one-epoch window a blob still queued for encoding when its epoch ends expires uncertified
    # (as specified); most of those posted with every validator up certify.
    assert sum(1 for root in certifying if final[root] == "certified") >= 10, final
    assert any(final[root] == "failed" for root in failing), final
    print("settled:", sorted(errors.values()))  # noqa: T201

    settle = time.monotonic() + 3 * EPOCH_SECONDS + 10
    while time.monotonic() < settle and metric(devnet, 0, 'tessera_extensions_held{kind="dispersing"}') > 0:
        time.sleep(0.5)
    assert metric(devnet, 0, 'tessera_extensions_held{kind="dispersing"}') == 0
    assert metric(devnet, 0, 'tessera_extensions_held{kind="headers"}') <= 30  # one per blob at most
    rss_end = _rss_bytes(pid)
    print(f"validator 0 RSS: {rss_start / 2**20:.0f} MiB -> {rss_end / 2**20:.0f} MiB")  # noqa: T201
    assert rss_end - rss_start <= RSS_GROWTH_BOUND, (rss_start, rss_end)
