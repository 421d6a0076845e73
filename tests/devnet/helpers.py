"""What the devnet tests do as users do: run `das` commands, call the HTTP API, post blobs."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from da.types import ColumnIndex, DataRoot
from validator.certificate import bytes_to_certificate
from validator.custody import compute_member_custody
from validator.devnet import Devnet
from validator.quorums import compute_quorums
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch, Quorum, QuorumIndex, ValidatorIndex

VALIDATORS = 8
DAS_COMMAND = (sys.executable, "-m", "cli.main")
"""`das`, run from this checkout's interpreter."""


def das(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run `das ARGS...` as a user would, in a fresh interpreter (bounded by `timeout`)."""
    return subprocess.run(
        [*DAS_COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def http(
    method: str, url: str, body: bytes | None = None, content_type: str = "application/octet-stream"
) -> tuple[int, bytes]:
    """(status, body) of one HTTP request; error statuses are answers, not exceptions."""
    status, answer, _ = http_with_headers(method, url, body, content_type)
    return status, answer


def http_with_headers(
    method: str, url: str, body: bytes | None = None, content_type: str = "application/octet-stream"
) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) of one HTTP request; error statuses are answers, not exceptions."""
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def api(devnet: Devnet, index: int) -> str:
    """Validator `index`'s HTTP API URL."""
    info = devnet.node_info(index)
    assert info is not None
    return str(info["api_url"])


def post(
    devnet: Devnet, tmp_path: Path, size: int, seed: int, node: int = 0
) -> tuple[dict[str, Any], bytes, Path]:
    """`das blob post --wait` of `size` seeded random bytes to validator `node`: (status, data, cert file)."""
    data = random.Random(seed).randbytes(size)
    blob = tmp_path / f"blob-{seed}.bin"
    blob.write_bytes(data)
    certificate = tmp_path / f"cert-{seed}.ssz"
    result = das(
        "blob",
        "post",
        str(blob),
        "--node",
        api(devnet, node),
        "--wait",
        "--json",
        "--cert-out",
        str(certificate),
        "--timeout",
        "60",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout), data, certificate


def wait_for_status(
    devnet: Devnet, index: int, data_root: str, wanted: set[str], timeout: float = 60.0
) -> dict[str, Any]:
    """Poll `das blob status` on validator `index` until the blob's status is in `wanted` (bounded)."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        result = das("blob", "status", data_root, "--node", api(devnet, index))
        if result.returncode == 0:
            status = json.loads(result.stdout)
            if status["status"] in wanted:
                return status
        time.sleep(0.2)
    raise AssertionError(f"blob {data_root} never reached {sorted(wanted)} on validator {index}: {status}")


def quorum_of(
    devnet: Devnet, status: dict[str, Any]
) -> tuple[Quorum, dict[ValidatorIndex, frozenset[ColumnIndex]]]:
    """The blob's quorum and each member's custody columns, from the registry (as the client computes)."""
    root = DataRoot(bytes.fromhex(status["data_root"][2:]))
    with SqliteRegistry(devnet.registry_path) as registry:
        context = registry.get_epoch_context(Epoch(status["epoch"]))
        quorum = compute_quorums(context, registry.preset)[QuorumIndex(status["quorum"])]
        return quorum, dict(compute_member_custody(quorum, root, registry.preset))


class MissingMetric(AssertionError):
    """Raised when validator `index` exports no sample `name` (renamed, or never registered)."""

    def __init__(self, index: int, name: str) -> None:
        super().__init__(f"validator {index} exports no metric sample {name!r}")
        self.index = index
        self.name = name


def metric(devnet: Devnet, index: int, name: str) -> float:
    """The value of the Prometheus sample `name` on validator `index`; `MissingMetric` when there is
    none, so an "unchanged" check cannot pass on a renamed metric (unlabelled counters are exported
    as 0.0 from the start)."""
    status, body = http("GET", api(devnet, index) + "/metrics")
    assert status == 200, body
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise MissingMetric(index, name)


def signers_of(devnet: Devnet, status: dict[str, Any], certificate: bytes) -> list[ValidatorIndex]:
    """The validators whose slots the certificate marks as signed, in quorum order."""
    quorum, _ = quorum_of(devnet, status)
    signed = bytes_to_certificate(certificate).signers
    return list(dict.fromkeys(slot.validator for slot, bit in zip(quorum.slots, signed, strict=True) if bit))


FOLLOW_START_S = 60.0


@contextlib.contextmanager
def following(registry_options: list[str], db: Path) -> Iterator[str]:
    """`das light follow REGISTRY --db DB --http 127.0.0.1:0` running; yields its status API's base URL
    (bounded wait for it to start); SIGINT (then SIGKILL) when the block ends."""
    follow = subprocess.Popen(
        [*DAS_COMMAND, "light", "follow", *registry_options, "--db", str(db), "--http", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert follow.stdout is not None
        status_url = None
        deadline = time.monotonic() + FOLLOW_START_S
        while status_url is None and time.monotonic() < deadline:
            line = follow.stdout.readline()
            if not line:
                break
            if line.startswith("status"):
                status_url = line.split()[-1]
        assert status_url is not None and status_url.endswith("/v1/status"), "follow did not start"
        yield status_url.removesuffix("/v1/status")
    finally:
        follow.send_signal(signal.SIGINT)
        try:
            follow.wait(timeout=20)
        except subprocess.TimeoutExpired:
            follow.kill()
            follow.wait(timeout=10)
        if follow.stdout is not None:
            follow.stdout.close()
