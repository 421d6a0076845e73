"""`das light check` against the real 8-validator devnet, as a light-client user runs it.

The checks run as separate `das` processes (cold start included) against validators that a
sequencer posted to with `das blob post`. Faults are real: validators stopped (their columns gone),
a validator process frozen with SIGSTOP (it never answers), and a Byzantine validator: a libp2p host
holding a stopped validator's identity and registry entry that serves its custody cells corrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import trio

from da.constants import CELLS_PER_ROW
from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, Sample
from network.config import NetworkConfig
from network.server import ServerPorts
from network.service import NetworkService, open_service
from sampling.confidence import compute_samples_needed_2d
from tests.devnet.helpers import DAS_COMMAND, VALIDATORS, api, das, post, quorum_of
from validator.daemon.store import NodeStore
from validator.devnet import Devnet
from validator.registry.sqlite import SqliteRegistry
from validator.types import ValidatorIndex

pytestmark = pytest.mark.xdist_group("devnet")

CHECK_TIMEOUT_S = 120.0
"""Bound on one `das light check` process (cold start about 2 s; a faulty check a few timeouts)."""


def light_check(devnet: Devnet, root: str, *extra: str) -> tuple[int, dict[str, Any]]:
    """`das light check ROOT --registry R --json EXTRA...`: (exit code, the JSON report)."""
    result = das(
        "light", "check", root, "--registry", str(devnet.registry_path), "--json", *extra,
        timeout=CHECK_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.returncode, json.loads(result.stdout)


def restart(devnet: Devnet, indices: Sequence[int]) -> None:
    """Start stopped validators again and wait until the whole devnet is connected."""
    for index in indices:
        devnet.start_node(index)
    devnet.wait_until_connected(list(range(VALIDATORS)))


def test_a_certified_blob_is_available_at_the_target(devnet: Devnet, tmp_path: Path) -> None:
    status, _, certificate = post(devnet, tmp_path, 1024 * 1024, seed=61)
    code, report = light_check(
        devnet, status["data_root"], "--cert", str(certificate), "--confidence", "0.9999"
    )
    assert code == 0, report
    assert report["verdict"] == "available" and report["confidence"] >= 0.9999
    assert report["rows"] == 9  # 1 MiB and its length prefix
    # The check samples the 2D grid (18 rows, the validators serve their custody over all of them):
    # 28 cells when all 128 columns are held, against 148 over the original rows alone.
    needed = compute_samples_needed_2d(9, 0.9999, report["served_columns"])  # specs/sampling.md
    assert report["verified"] >= report["needed"] == needed >= 28
    assert report["grid"]["rows"] == 18 and report["grid"]["extended_rows"] == 9
    assert report["bound"]["name"] == "2d"
    assert report["invalid"] == report["missing"] == 0
    assert report["certificate"].startswith("verified")
    timings = report["timings_s"]
    assert timings["startup"] > 0.0
    assert 0.0 < timings["verification"] < timings["sampling"] < timings["total"]
    # The same check with ckzg as the verifier: the same verdict, its setup load in the start-up.
    code, with_ckzg = light_check(
        devnet, status["data_root"], "--cert", str(certificate), "--confidence", "0.9999",
        "--verifier", "ckzg",
    )  # fmt: skip
    assert code == 0 and with_ckzg["verdict"] == "available" and with_ckzg["invalid"] == 0
    assert with_ckzg["timings_s"]["startup"] > timings["startup"]  # ckzg parses the whole setup (~2 s)
    # Without --cert: the node's API gives the certificate; the human report says what was reached.
    result = das("light", "check", status["data_root"], "--registry", str(devnet.registry_path),
                 "--node", api(devnet, 4), timeout=CHECK_TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("AVAILABLE: " + status["data_root"])
    assert "confidence  0.99" in result.stdout and f"header      from node {api(devnet, 4)}" in result.stdout


def test_the_encoding_node_keeps_a_blob_available_and_without_it_the_check_exits_1(
    devnet: Devnet, tmp_path: Path
) -> None:
    aggregator = 7  # the blob is posted to 7, which encodes it and stores its whole extension
    status, _, certificate = post(devnet, tmp_path, 256 * 1024, seed=62, node=aggregator)
    quorum, custody = quorum_of(devnet, status)
    members = [m for m in quorum.members if m != aggregator]
    keep = min(combinations(members, 2), key=lambda pair: len(custody[pair[0]] | custody[pair[1]]))
    held = custody[keep[0]] | custody[keep[1]]
    assert len(held) < CELLS_PER_ROW // 2  # more than half of the columns are gone with the others
    stopped = [index for index in range(VALIDATORS) if index not in (*keep, aggregator)]
    try:
        for index in stopped:
            assert devnet.stop_node(index)
        # The custodians of most columns are down, but the certified blob's encoder serves every cell.
        code, report = light_check(devnet, status["data_root"], "--cert", str(certificate), "--timeout", "2")
        assert code == 0, report
        assert report["verdict"] == "available" and report["missing"] == 0
        assert len(report["peers_abandoned"]) >= 1  # stopped custodians were tried first
        # Without the encoder too, more than half of the columns are gone.
        assert devnet.stop_node(aggregator)
        stopped.append(aggregator)
        code, report = light_check(devnet, status["data_root"], "--cert", str(certificate), "--timeout", "2")
        # A sequencer asking a remaining custodian for the bytes gets the 503 path: exit 1, and why.
        out = tmp_path / "unrecoverable.bin"
        got = das("blob", "get", status["data_root"], "-o", str(out), "--node", api(devnet, keep[0]))
        unknown = das("blob", "status", "0x" + "ab" * 32, "--node", api(devnet, keep[0]))
    finally:
        restart(devnet, stopped)
    assert code == 1, report
    assert report["verdict"] == "unavailable" and report["missing"] > 0
    assert 0 <= report["confidence"] < 0.9999 and report["verified"] > 0  # the confidence it did reach
    assert report["header_source"].startswith("custodian")
    assert got.returncode == 1, got
    assert "das: error: service_unavailable: cannot rebuild the blob" in got.stderr, got.stderr
    assert not out.exists()
    assert unknown.returncode == 1 and "das: error: not_found" in unknown.stderr, unknown


def test_a_peer_serving_corrupted_cells_is_rejected_and_its_cells_fetched_elsewhere(
    devnet: Devnet, tmp_path: Path
) -> None:
    status, _, certificate = post(devnet, tmp_path, 512 * 1024, seed=63)
    quorum, custody = quorum_of(devnet, status)
    byzantine = 3
    assert byzantine in quorum.members and custody[ValidatorIndex(byzantine)]
    info = devnet.node_info(byzantine)
    assert info is not None
    assert devnet.stop_node(byzantine)
    store = NodeStore(devnet.directory / f"node-{byzantine}" / "node.sqlite")
    liar = CorruptingStore(store)
    outcome: dict[str, Any] = {}

    async def scenario() -> None:
        config = NetworkConfig(identity_path=devnet.directory / f"node-{byzantine}" / "identity.key")
        async with open_service(
            config, ServerPorts(samples=liar, grid_samples=liar, headers=liar)
        ) as service:
            assert service.peer_id == info["peer_id"]  # the validator's own identity
            publish_endpoint(devnet, byzantine, service)
            with trio.fail_after(CHECK_TIMEOUT_S):
                process = await trio.run_process(
                    [*DAS_COMMAND, "light", "check", status["data_root"], "--registry",
                     str(devnet.registry_path), "--cert", str(certificate), "--json",
                     "--confidence", ASK_EVERY_CUSTODIAN_CONFIDENCE],
                    capture_stdout=True, capture_stderr=True, check=False,
                )  # fmt: skip
            outcome.update(code=process.returncode, stdout=process.stdout, stderr=process.stderr)

    try:
        trio.run(scenario)
    finally:
        store.close()
        restart(devnet, [byzantine])
    assert outcome["code"] == 0, outcome
    report = json.loads(outcome["stdout"])
    assert liar.served > 0, report  # the light client did ask the Byzantine peer
    assert report["invalid"] >= 1  # its cells were rejected ...
    assert report["peers_abandoned"].get(info["peer_id"]) == "InvalidSamples"
    assert report["verdict"] == "available" and report["missing"] == 0  # ... and fetched from others
    assert report["verified"] >= report["needed"]


def test_a_peer_that_never_answers_is_abandoned_after_the_timeout(devnet: Devnet, tmp_path: Path) -> None:
    status, _, certificate = post(devnet, tmp_path, 512 * 1024, seed=64)
    frozen = 5
    info = devnet.node_info(frozen)
    assert info is not None
    os.kill(info["pid"], signal.SIGSTOP)  # the process hangs: its port accepts, nothing answers
    try:
        code, report = light_check(
            devnet, status["data_root"], "--cert", str(certificate), "--timeout", "2", "--attempts", "3",
            "--confidence", ASK_EVERY_CUSTODIAN_CONFIDENCE,
        )  # fmt: skip
    finally:
        os.kill(info["pid"], signal.SIGCONT)
    devnet.wait_until_connected(list(range(VALIDATORS)))
    assert code == 0, report
    assert report["peers_abandoned"].get(info["peer_id"]) in {"PeerTimeout", "PeerUnreachable"}, report
    assert report["verdict"] == "available" and report["missing"] == 0
    assert 2.0 <= report["timings_s"]["sampling"] < 30.0  # waited for the timeout, then went on


# --- the Byzantine validator ------------------------------------------------------------------------


ASK_EVERY_CUSTODIAN_CONFIDENCE = "0.9999999999999999"
"""About 100 cells over the 2D grid instead of the 28-32 that reach 0.9999: each column's custodians are
asked in a random order and the first that answers well settles the cell, so with 30 cells the
Byzantine member was, in one CI run, never asked at all; with 100 it is all but certain to be."""


class CorruptingStore:
    """A validator's real store (both sample protocols), served corrupted: each cell's lowest bit
    flipped (the sample still decodes, its KZG proof no longer verifies). Headers are served
    honestly."""

    def __init__(self, store: NodeStore) -> None:
        self._store = store
        self.served = 0

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        """The stored samples, with their cells altered."""
        samples = self._store.get_samples(data_root, coordinates)
        self.served += sum(s is not None for s in samples)
        return [None if s is None else dataclasses.replace(s, cell=_flip(s.cell)) for s in samples]

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        """The stored cells of the 2D grid (custody and its derived extended rows), altered."""
        samples = self._store.get_grid_samples(data_root, coordinates)
        self.served += sum(s is not None for s in samples)
        return [None if s is None else dataclasses.replace(s, cell=_flip(s.cell)) for s in samples]

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """The stored header."""
        known = self._store.get_header(data_root)
        return None if known is None else known[0]


def _flip(cell: bytes) -> Any:
    altered = bytearray(cell)
    altered[31] ^= 1  # the first field element's lowest bit: still canonical, no longer the proven cell
    return type(cell)(bytes(altered))


def publish_endpoint(devnet: Devnet, index: int, service: NetworkService) -> None:
    """Point validator `index`'s registry entry at `service`, as its daemon does at start."""
    with SqliteRegistry(devnet.registry_path) as registry:
        registry.update_endpoint(ValidatorIndex(index), service.peer_id, tuple(service.listen_addrs))
