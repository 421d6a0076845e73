"""Restarts across epochs on a real devnet of its own (4 `das validator run` processes, one quorum of
4 slots, threshold 3; short epochs so the next one comes within the test): nothing a node
acknowledged is lost when it comes back in a later epoch (specs/validator.md, Restarts and a failing
registry).

- The aggregator is SIGKILLed before it dispersed a blob it answered `received` for, and restarted
  after the epoch turned: the blob is certified under its own epoch's quorum.
- Two members are down when a blob is dispersed, and a third is SIGKILLed holding its custody: too
  few attest, so nothing is certified; restarted in the next epoch, they take the aggregator's
  repeated pushes for the passed epoch, attest, and the blob is certified.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator

import pytest

from tests.devnet.helpers import api, http, wait_for_status
from validator.devnet import Devnet
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # a devnet of its own, ~5 min

VALIDATORS = 4
EPOCH_SECONDS = 45.0
"""Long enough that 4 validators start (and cast the next epoch's ballots) within one epoch."""
MIB = 1024 * 1024
CERTIFIED_WITHIN_S = 400.0
"""Bound on the wait after the members' restart (the aggregator pushes again 45, 90 and 180 s after
its first push)."""


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A 4-validator devnet with short epochs, every validator running and connected."""
    network = Devnet(tmp_path_factory.mktemp("restart-devnet"))
    network.create(VALIDATORS, EPOCH_SECONDS, payments=False)  # a private network: posts go unpaid
    try:
        for index in range(VALIDATORS):
            network.start_node(index)
        network.wait_until_connected(list(range(VALIDATORS)))
        yield network
    finally:
        network.stop_all()


def _current_epoch(devnet: Devnet) -> Epoch:
    with SqliteRegistry(devnet.registry_path) as registry:
        return registry.current_epoch()


def _wait_for_epoch_after(devnet: Devnet, epoch: int) -> None:
    """Sleep (bounded) until the registry's clock has passed `epoch`."""
    deadline = time.monotonic() + 2 * EPOCH_SECONDS
    while _current_epoch(devnet) <= epoch:
        assert time.monotonic() < deadline, f"epoch {epoch} never ended"
        time.sleep(0.5)


def _post(devnet: Devnet, node: int, data: bytes) -> dict[str, object]:
    """POST a blob; retried while its epoch has no quorum yet (ballots of a just-started devnet)."""
    deadline = time.monotonic() + 2 * EPOCH_SECONDS
    while True:
        code, body = http("POST", api(devnet, node) + "/v1/blobs", data)
        if code == 202:
            answer: dict[str, object] = json.loads(body)
            return answer
        assert code == 503 and b"no quorum" in body and time.monotonic() < deadline, body
        time.sleep(1.0)


def _lines_since(devnet: Devnet, index: int, offset: int) -> list[str]:
    with (devnet.directory / f"node-{index}.log").open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").splitlines()


def _events(devnet: Devnet, index: int, offset: int) -> list[dict[str, object]]:
    """The JSON log events of validator `index` from `offset` on (other lines skipped)."""
    events = []
    for line in _lines_since(devnet, index, offset):
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a line cut short by a SIGKILL
    return events


def _log_size(devnet: Devnet, index: int) -> int:
    return (devnet.directory / f"node-{index}.log").stat().st_size


def test_an_aggregator_killed_before_dispersal_certifies_after_the_epoch_turned(
    devnet: Devnet,
) -> None:
    node = 0
    data = random.Random(3201).randbytes(2 * MIB - 4096)  # 17 rows: seconds of encoding in its thread
    accepted = _post(devnet, node, data)
    assert accepted["status"] == "received"
    devnet.stop_node(node, signal.SIGKILL)  # before its encoding (let alone dispersal) can have finished
    epoch = int(str(accepted["epoch"]))
    _wait_for_epoch_after(devnet, epoch)
    offset = _log_size(devnet, node)
    devnet.start_node(node)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    root = str(accepted["data_root"])
    status = wait_for_status(devnet, node, root, {"certified", "failed"}, timeout=180)
    assert status["status"] == "certified", status
    assert (status["epoch"], status["quorum"]) == (epoch, accepted["quorum"])  # its own epoch's quorum
    assert status["failure"] is None
    since = _lines_since(devnet, node, offset)
    assert any("resuming blob" in line and root[2:] in line for line in since)


def test_members_killed_around_custody_attest_after_a_restart_in_the_next_epoch(devnet: Devnet) -> None:
    aggregator, holder, down = 0, 3, (1, 2)
    for index in down:  # with two members down, 2 of 4 slots can attest: below the threshold of 3
        devnet.stop_node(index, signal.SIGKILL)
    data = random.Random(3202).randbytes(300_000)
    accepted = _post(devnet, aggregator, data)
    root, epoch = str(accepted["data_root"]), int(str(accepted["epoch"]))
    assert wait_for_status(devnet, holder, root, {"custody"}, timeout=60)["epoch"] == epoch
    devnet.stop_node(holder, signal.SIGKILL)  # killed while holding custody
    short = wait_for_status(devnet, aggregator, root, {"dispersed"})  # some attested: too few to certify
    assert short["signed_slots"] < short["threshold"], short
    _wait_for_epoch_after(devnet, epoch)
    offsets = {index: _log_size(devnet, index) for index in (*down, holder)}
    for index in (*down, holder):
        devnet.start_node(index)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    status = wait_for_status(devnet, aggregator, root, {"certified", "failed"}, timeout=CERTIFIED_WITHIN_S)
    assert status["status"] == "certified", status
    assert status["epoch"] == epoch
    for index in down:  # each restarted member took custody for the passed epoch and attested
        assert wait_for_status(devnet, index, root, {"custody", "certified"})["epoch"] == epoch
        learnt = [e for e in _events(devnet, index, offsets[index]) if e.get("event") == "epoch known"]
        assert epoch in [e.get("epoch") for e in learnt], f"validator {index} never learnt epoch {epoch}"
