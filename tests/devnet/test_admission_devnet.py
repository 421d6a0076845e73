"""Admission control and durable intake on the real devnet (8 `das validator run` processes): a node
whose encode-and-disperse queue is full answers 429 with Retry-After and takes the blob when posted
again, a blob is `received` (durable) when the POST answers and survives a SIGKILL right after it, and
(slow) a sequencer's burst of 12 x 1 MiB blobs is certified in full. How `das blob post` shows and
waits out a 429 is tested deterministically against a scripted busy node (tests/cli/test_cli.py)."""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path

import pytest

from tests.devnet.helpers import VALIDATORS, api, das, http, http_with_headers, metric, wait_for_status
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

MIB = 1024 * 1024
LONG_ENCODE = 2 * MIB - 4096
"""A blob near 2 MiB: 17 rows, seconds of encoding in the node's thread, so a post right
after it meets a full queue (bound 1)."""


def _restart(devnet: Devnet, index: int, max_queued_blobs: int | None = None) -> None:
    devnet.stop_node(index)
    devnet.start_node(index, max_queued_blobs=max_queued_blobs)
    devnet.wait_until_connected(list(range(VALIDATORS)))


@pytest.mark.slow  # two devnet restarts (~110 s); the client's side of 429: tests/cli (a scripted busy node)
def test_a_full_queue_answers_429_with_retry_after_and_takes_the_blob_later(
    devnet: Devnet, tmp_path: Path
) -> None:
    node = 4
    _restart(devnet, node, max_queued_blobs=1)
    try:
        first = random.Random(40).randbytes(LONG_ENCODE)
        code, body = http("POST", api(devnet, node) + "/v1/blobs", first)
        assert code == 202, body
        accepted = json.loads(body)
        assert accepted["status"] == "received"  # answered once durable, before encoding
        refused_before = metric(devnet, node, "tessera_blobs_refused_total")
        # The first blob is being encoded: the queue (bound 1) is full, so the next post is refused
        # with a time to come back, and nothing is taken.
        second = random.Random(41).randbytes(300_000)
        code, body, headers = http_with_headers("POST", api(devnet, node) + "/v1/blobs", second)
        assert code == 429, body
        assert json.loads(body)["error"]["code"] == "too_many_requests"
        assert int(headers["Retry-After"]) >= 1
        assert metric(devnet, node, "tessera_blobs_refused_total") == refused_before + 1
        # `das blob post` of the refused blob: taken now or after waiting out more 429s (how long the
        # first blob still encodes is the machine's business; tests/cli covers the wait itself), and
        # every refusal it met is one the node counted.
        blob = tmp_path / "second.bin"
        blob.write_bytes(second)
        posted = das(
            "blob", "post", str(blob), "--node", api(devnet, node), "--json", "--wait", "--timeout", "90"
        )
        assert posted.returncode == 0, posted.stdout + posted.stderr
        status = json.loads(posted.stdout)
        assert status["status"] == "certified"
        refused = metric(devnet, node, "tessera_blobs_refused_total") - refused_before
        assert refused == 1 + status["busy_retries"]
        assert posted.stderr.count("node busy") == status["busy_retries"]
        assert wait_for_status(devnet, node, accepted["data_root"], {"certified"})["status"] == "certified"
    finally:
        _restart(devnet, node)


def test_an_accepted_blob_survives_a_sigkill_right_after_the_post(devnet: Devnet) -> None:
    node = 6
    data = random.Random(60).randbytes(MIB)
    code, body, headers = http_with_headers("POST", api(devnet, node) + "/v1/blobs", data)
    assert code == 202, body  # accepted: durably queued, the certificate is to come
    accepted = json.loads(body)
    assert accepted["status"] == "received"
    assert headers["Location"] == f"/v1/blobs/{accepted['data_root']}"
    # Known but not certified yet: the certificate route says "not yet" (409, with the status), not 404.
    code, body = http("GET", api(devnet, node) + headers["Location"] + "/certificate")
    assert code == 409, body
    pending = json.loads(body)["error"]
    assert pending["code"] == "not_certified"
    assert pending["blob"]["data_root"] == accepted["data_root"] and pending["blob"]["status"] != "certified"
    devnet.stop_node(node, signal.SIGKILL)  # before its encoding can have finished
    log = devnet.directory / f"node-{node}.log"
    restart_offset = log.stat().st_size  # the log is appended to: read only this run's lines
    devnet.start_node(node)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    status = wait_for_status(devnet, node, accepted["data_root"], {"certified", "failed"}, timeout=120)
    assert status["status"] == "certified", status
    with log.open("rb") as lines:
        lines.seek(restart_offset)
        since_restart = lines.read().decode(errors="replace").splitlines()
    root = accepted["data_root"][2:]
    assert any("resuming blob" in line and root in line for line in since_restart)


@pytest.mark.slow
def test_a_burst_of_twelve_1mib_blobs_is_certified_in_full(devnet: Devnet, tmp_path: Path) -> None:
    node = 0
    refused_before = metric(devnet, node, "tessera_blobs_refused_total")
    roots: list[str] = []
    retries = 0
    for index in range(12):  # back to back, as a sequencer posts a burst
        blob = tmp_path / f"burst-{index}.bin"
        blob.write_bytes(random.Random(1200 + index).randbytes(MIB))
        posted = das(
            "blob", "post", str(blob), "--node", api(devnet, node), "--json", "--busy-timeout", "600"
        )
        assert posted.returncode == 0, posted.stdout + posted.stderr
        status = json.loads(posted.stdout)
        roots.append(status["data_root"])
        retries += status["busy_retries"]
    statuses = [wait_for_status(devnet, node, root, {"certified", "failed"}, timeout=600) for root in roots]
    assert [s["status"] for s in statuses] == ["certified"] * 12, statuses
    assert len(set(roots)) == 12
    refused = metric(devnet, node, "tessera_blobs_refused_total") - refused_before
    assert refused == retries  # every refusal was a 429 the client waited out and posted again
