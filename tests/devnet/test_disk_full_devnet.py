"""A validator whose disk fills (specs/validator.md, Resources and retention), on a devnet of real
processes: validator 0's data directory is a 64 MiB tmpfs filled with a ballast file. Below its
free-disk threshold it answers POST /v1/blobs with 507 and refuses custody pushes with the typed
reason `insufficient_storage`; when a write really fails (ENOSPC while encoding) the blob fails and
the daemon keeps serving; once space returns it takes and certifies blobs again.

Mounting a tmpfs needs root: the module is skipped without it."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devnet.helpers import MissingMetric, api, http, metric, post, wait_for_status
from validator.devnet import Devnet

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]

VALIDATORS = 4
TMPFS_BYTES = 64 * 1024 * 1024
MIN_FREE_BYTES = 2 * 1024 * 1024


def _mount_tmpfs(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(path)],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")


@pytest.fixture(scope="module")
def small_disk_devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """4 validators; validator 0's data directory is a 64 MiB tmpfs, its threshold 2 MiB."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    network = Devnet(tmp_path_factory.mktemp("diskfull"))
    network.create(VALIDATORS, payments=False)  # a private network: posts go unpaid
    data_dir = network.directory / "node-0"
    _mount_tmpfs(data_dir)
    config = network.directory / "node-0.toml"
    config.write_text(config.read_text() + f"min_free_disk_bytes = {MIN_FREE_BYTES}\n")
    try:
        for index in range(VALIDATORS):
            network.start_node(index)
        network.wait_until_connected(list(range(VALIDATORS)))
        yield network
    finally:
        network.stop_all()
        subprocess.run(["umount", str(data_dir)], check=False)  # noqa: S607


def _fill(devnet: Devnet, leave_free: int) -> Path:
    """A ballast file on validator 0's tmpfs that leaves about `leave_free` bytes free."""
    ballast = devnet.directory / "node-0" / "ballast"
    ballast.unlink(missing_ok=True)
    free = shutil.disk_usage(ballast.parent).free
    with ballast.open("wb") as file:
        file.truncate(0)
        chunk = b"\0" * (1024 * 1024)
        remaining = max(0, free - leave_free)
        while remaining > 0:
            remaining -= file.write(chunk[: min(len(chunk), remaining)])
    return ballast


def _failed_writes(devnet: Devnet) -> float:
    """Validator 0's count of store writes that failed (a labelled counter: absent until the first)."""
    try:
        return metric(devnet, 0, 'tessera_errors_total{kind="store_write"}')
    except MissingMetric:
        return 0.0


def _post_raw(devnet: Devnet, node: int, data: bytes) -> tuple[int, dict[str, object]]:
    code, body = http("POST", f"{api(devnet, node)}/v1/blobs", data)
    return code, json.loads(body)


def test_a_full_disk_refuses_new_data_keeps_serving_and_recovers(
    small_disk_devnet: Devnet, tmp_path: Path
) -> None:
    devnet = small_disk_devnet
    rng = random.Random(507)

    # Below the threshold: POST 507, custody refused with its typed reason, the node still serves.
    ballast = _fill(devnet, MIN_FREE_BYTES // 2)
    code, answer = _post_raw(devnet, 0, rng.randbytes(10_000))
    assert code == 507, answer
    assert answer["error"]["code"] == "insufficient_storage"  # type: ignore[index]
    assert http("GET", f"{api(devnet, 0)}/v1/health")[0] == 200
    status, _, _ = post(devnet, tmp_path, 20_000, seed=1, node=1)  # validator 0 is in the only quorum
    refused = 'tessera_errors_total{kind="custody_insufficient_storage"}'
    assert metric(devnet, 0, refused) >= 1
    root = bytes.fromhex(str(status["data_root"])[2:])
    db = sqlite3.connect(f"file:{devnet.directory / 'node-0' / 'node.sqlite'}?mode=ro", uri=True, timeout=10)
    try:  # no custody stored (its certificate, a few hundred bytes from gossip, may be)
        assert db.execute("SELECT COUNT(*) FROM custody WHERE data_root = ?", (root,)).fetchone() == (0,)
    finally:
        db.close()

    # Above the threshold but too little for the extension: the write fails for that blob only.
    ballast.unlink()
    ballast = _fill(devnet, MIN_FREE_BYTES + 1024 * 1024)
    code, answer = _post_raw(devnet, 0, rng.randbytes(1024 * 1024))
    assert code in {202, 507}, answer  # 507 if the raw bytes already did not fit
    full_write = str(answer["data_root"]) if code == 202 else None  # type: ignore[index]
    if full_write is not None:  # recorded; encoding's write (2.4 MiB of extension) is what fails
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _failed_writes(devnet) < 1:
            time.sleep(0.5)
        assert _failed_writes(devnet) >= 1
    assert devnet.is_running(0)
    assert http("GET", f"{api(devnet, 0)}/v1/health")[0] == 200
    assert _post_raw(devnet, 0, rng.randbytes(10_000))[0] == 507

    # Space returns: blobs are taken and certified again.
    ballast.unlink()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, answer = _post_raw(devnet, 0, rng.randbytes(50_000))
        if code != 507:
            break
        time.sleep(1.0)
    assert code == 202, answer
    wait_for_status(devnet, 0, str(answer["data_root"]), {"certified"})
    if full_write is not None:  # its failure is on record once it can be written
        failed = wait_for_status(devnet, 0, full_write, {"failed"})
        assert "store write failed" in str(failed["error"]), failed
    assert devnet.is_running(0)
