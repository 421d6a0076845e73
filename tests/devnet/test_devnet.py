"""End to end with real processes: an 8-validator devnet on 127.0.0.1, driven as a sequencer would.

One devnet (8 `das validator run` processes, `conftest.py`) serves the package; the tests post blobs with
`das blob post`, verify certificates with `das cert verify`, fetch data with `das blob get`, stop and
SIGKILL validators, and throw malformed input at the HTTP API and every libp2p protocol.
"""

from __future__ import annotations

import json
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import trio

from da import verify_samples
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.grid_samples import verify_grid_samples
from da.kzg import load_ckzg_backend
from da.row_count import compute_row_count
from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, RowIndex
from network.config import NetworkConfig
from network.constants import REQUEST_PROTOCOLS
from network.errors import NetworkError
from network.service import open_service
from network.types import PeerName
from tests.devnet.helpers import (
    VALIDATORS,
    api,
    das,
    http,
    metric,
    post,
    quorum_of,
    signers_of,
    wait_for_status,
)
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")


def test_a_1mib_blob_is_certified_verified_and_retrieved(devnet: Devnet, tmp_path: Path) -> None:
    accepted = metric(devnet, 0, "tessera_blobs_accepted_total")
    status, data, certificate = post(devnet, tmp_path, 1024 * 1024, seed=1)
    assert status["status"] == "certified" and status["signed_slots"] >= status["threshold"] == 6
    verified = das("cert", "verify", str(certificate), "--registry", str(devnet.registry_path))
    assert verified.returncode == 0 and verified.stdout.startswith("VALID"), verified.stdout
    out = tmp_path / "back.bin"
    got = das("blob", "get", status["data_root"], "-o", str(out), "--node", api(devnet, 5))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data
    # Posting the same bytes again answers with the same data root and disperses nothing new.
    again = das("blob", "post", str(tmp_path / "blob-1.bin"), "--node", api(devnet, 0), "--json")
    assert json.loads(again.stdout)["data_root"] == status["data_root"]
    assert metric(devnet, 0, "tessera_blobs_accepted_total") == accepted + 1  # once, not twice
    assert metric(devnet, 0, "tessera_certificates_total") >= 1


def test_bad_http_input_gets_clear_errors_and_changes_nothing(devnet: Devnet) -> None:
    url = api(devnet, 1)
    accepted = metric(devnet, 1, "tessera_blobs_accepted_total")
    cases = [
        ("POST", "/v1/blobs", b"x", "text/plain", 415, "unsupported_media_type"),
        ("POST", "/v1/blobs", b"", "application/octet-stream", 400, "invalid_argument"),
        (
            "POST",
            "/v1/blobs",
            b"\x00" * (DEFAULT_MAX_BLOB_BYTES + 1),
            "application/octet-stream",
            413,
            "request_too_large",
        ),
        ("GET", "/v1/blobs/0x" + "ab" * 32, None, "application/octet-stream", 404, "not_found"),
        ("GET", "/v1/blobs/nothex/certificate", None, "application/octet-stream", 400, "invalid_argument"),
        ("GET", "/v1/blobs/0x" + "ab" * 32 + "/data", None, "application/octet-stream", 404, "not_found"),
    ]
    for method, path, body, content_type, status, code in cases:
        got, answer = http(method, url + path, body, content_type)
        assert got == status, (path, answer)
        assert json.loads(answer)["error"]["code"] == code
    assert metric(devnet, 1, "tessera_blobs_accepted_total") == accepted  # nothing was taken


def test_garbage_on_every_libp2p_protocol_leaves_the_node_serving(devnet: Devnet) -> None:
    info = devnet.node_info(2)
    assert info is not None
    accepted = metric(devnet, 2, "tessera_blobs_accepted_total")
    outcomes: list[str] = []

    async def attack() -> None:
        async with open_service(NetworkConfig()) as attacker:
            peer = await attacker.connect(info["addrs"][0])
            for protocol in REQUEST_PROTOCOLS:
                try:
                    await attacker.client.request(PeerName(peer), protocol, b"\xff" * 100, 1 << 20)
                    outcomes.append("answered")
                except NetworkError as error:
                    outcomes.append(type(error).__name__)

    trio.run(attack)
    assert len(outcomes) == len(REQUEST_PROTOCOLS) and "answered" not in outcomes
    status, body = http("GET", api(devnet, 2) + "/v1/health")
    assert status == 200, body
    assert metric(devnet, 2, "tessera_blobs_accepted_total") == accepted


def test_two_of_eight_stopped_still_certify_and_retrieve(devnet: Devnet, tmp_path: Path) -> None:
    for index in (3, 5):
        assert devnet.stop_node(index)
    try:
        status, data, _ = post(devnet, tmp_path, 512 * 1024, seed=2)
        assert status["status"] == "certified"
        out = tmp_path / "back.bin"
        assert (
            das("blob", "get", status["data_root"], "-o", str(out), "--node", api(devnet, 7)).returncode == 0
        )
        assert out.read_bytes() == data
    finally:
        for index in (3, 5):
            devnet.start_node(index)
        devnet.wait_until_connected(list(range(VALIDATORS)))


def test_a_sigkilled_validator_still_serves_every_cell_it_attested_to(devnet: Devnet, tmp_path: Path) -> None:
    status, _, certificate = post(devnet, tmp_path, 300_000, seed=3)
    root = DataRoot(bytes.fromhex(status["data_root"][2:]))
    # The victim signed, so it had stored its custody before the kill (the core attests only then).
    victim = next(v for v in signers_of(devnet, status, certificate.read_bytes()) if v != 0)
    devnet.stop_node(victim, signal.SIGKILL)
    devnet.start_node(victim)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    columns = sorted(quorum_of(devnet, status)[1][victim])
    rows = compute_row_count(300_000)
    wanted = [CellCoordinate(RowIndex(r), c) for c in columns for r in range(rows)]
    info = devnet.node_info(victim)
    assert info is not None
    kzg = load_ckzg_backend()
    served: list[object] = []
    # Custody spans the 2D grid: the same columns over all 2R rows, on /tessera/samples/2.
    grid_wanted = [CellCoordinate(RowIndex(r), c) for c in columns for r in range(2 * rows)]
    grid_served: list[GridSample | None] = []
    headers: list[BlobHeader | None] = []

    async def fetch() -> None:
        async with open_service(NetworkConfig()) as client:
            peer = PeerName(await client.connect(info["addrs"][0]))
            for start in range(0, len(wanted), 128):
                response = await client.request_samples(peer, root, wanted[start : start + 128])
                served.extend(response.results)
            headers.append(await client.request_header(peer, root))
            for start in range(0, len(grid_wanted), 128):
                grid = await client.request_grid_samples(peer, root, grid_wanted[start : start + 128])
                grid_served.extend(grid.results)

    trio.run(fetch)
    assert len(served) == len(wanted) and all(s is not None for s in served)
    assert verify_samples(root, served, kzg)  # type: ignore[arg-type]
    (header,) = headers
    assert header is not None
    held = [s for s in grid_served if s is not None]
    assert len(held) == len(grid_wanted), "every grid row of its custody columns, after the SIGKILL"
    assert verify_grid_samples(root, header, held, kzg)


SIGNED_SLOTS_TIMEOUT_S = 30.0


def wait_for_signed_slots(devnet: Devnet, index: int, data_root: str, slots: int) -> dict[str, Any]:
    """Poll `das blob status` on validator `index` until the blob has `slots` signed slots (bounded);
    returns that status."""
    deadline = time.monotonic() + SIGNED_SLOTS_TIMEOUT_S
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = das("blob", "status", data_root, "--node", api(devnet, index))
        assert result.returncode == 0, result.stdout + result.stderr
        status = json.loads(result.stdout)
        if status["signed_slots"] >= slots:
            return status
        time.sleep(0.2)
    raise AssertionError(f"blob {data_root} never had {slots} signed slots on validator {index}: {status}")


def test_an_aggregator_killed_before_the_certificate_resumes_its_blob_after_a_restart(
    devnet: Devnet, tmp_path: Path
) -> None:
    aggregator, offline = 6, [1, 2, 3]  # 5 of 8 up: below the threshold of 6 signed slots
    log = devnet.directory / f"node-{aggregator}.log"
    blob = tmp_path / "pending.bin"
    blob.write_bytes(random.Random(5).randbytes(200_000))
    try:
        for index in offline:
            assert devnet.stop_node(index)
        posted = das("blob", "post", str(blob), "--node", api(devnet, aggregator), "--json")
        assert posted.returncode == 0, posted.stderr
        root = json.loads(posted.stdout)["data_root"]
        dispersed = wait_for_status(devnet, aggregator, root, {"dispersed"})  # encoded, pushed to those up
        quorum, _ = quorum_of(devnet, dispersed)
        up_slots = sum(slot.validator not in offline for slot in quorum.slots)
        # Every slot of the members that are up is signed (a fresh status, polled) and the blob is
        # still not certified: those slots fall short of the threshold.
        status = wait_for_signed_slots(devnet, aggregator, root, up_slots)
        assert status["status"] != "certified" and status["signed_slots"] < status["threshold"], status
        devnet.stop_node(aggregator, signal.SIGKILL)  # a crash: no clean shutdown
    finally:
        restart_offset = log.stat().st_size  # node-6.log is appended to: read only this run's lines
        for index in [*offline, aggregator]:
            devnet.start_node(index)
        devnet.wait_until_connected(list(range(VALIDATORS)))
    # The restarted aggregator resumes the blob from its store and it is certified: posting the same
    # bytes again (idempotent) waits for that certificate.
    again = das(
        "blob", "post", str(blob), "--node", api(devnet, aggregator), "--wait", "--json", "--timeout", "60"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    certified = json.loads(again.stdout)
    assert certified["data_root"] == root and certified["status"] == "certified"
    with log.open("rb") as lines:
        lines.seek(restart_offset)
        since_restart = lines.read().decode(errors="replace").splitlines()
    assert any("resuming blob: dispersing" in line and root[2:] in line for line in since_restart)
    _, metrics = http("GET", api(devnet, aggregator) + "/metrics")
    assert b"tessera_encode_seconds_count 0.0" in metrics  # resumed from its stored extension
