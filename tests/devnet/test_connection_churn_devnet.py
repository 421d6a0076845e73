"""(slow) Connection churn against the real devnet: 400 short-lived inbound libp2p connections to one
validator, then a light check that must reach every custodian. py-libp2p 0.8.1 kept an inbound slot
per connection until the process stopped (300 slots), so the validator refused every connection
from about the 300th on and light checks reported it unreachable (specs/p2p-interface.md, Notes)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import trio

from network.config import NetworkConfig
from network.errors import NetworkError
from network.service import open_service
from tests.devnet.helpers import das, post, quorum_of
from validator.devnet import Devnet

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # 400 connections and a check, ~90 s

CONNECTIONS = 400
CHECK_TIMEOUT_S = 120.0


async def _churn(address: str, count: int) -> int:
    """Open and close `count` connections to `address` one after another, as `count` light checks
    would; returns how many could not connect."""
    refused = 0
    config = dataclasses.replace(NetworkConfig(), gossip=False)
    async with open_service(config) as client:
        for _ in range(count):
            try:
                peer = await client.connect(address)
            except NetworkError:
                refused += 1
                continue
            await client.disconnect(peer)
    return refused


def test_400_short_lived_connections_leave_a_validator_reachable_to_light_checks(
    devnet: Devnet, tmp_path: Path
) -> None:
    status, _, certificate = post(devnet, tmp_path, 512 * 1024, seed=94, node=0)
    quorum, _ = quorum_of(devnet, status)
    target = next(member for member in quorum.members if member != 0)  # a custodian, not the encoder
    info = devnet.node_info(target)
    assert info is not None
    refused = trio.run(_churn, str(info["addrs"][0]), CONNECTIONS)
    result = das(
        "light", "check", status["data_root"], "--registry", str(devnet.registry_path),
        "--cert", str(certificate), "--json", "--timeout", "5", timeout=CHECK_TIMEOUT_S,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["peers_abandoned"] == {}, (refused, report)
    assert report["peers_asked"] == report["custodians"] == len(quorum.members), report
    assert refused == 0, f"{refused} of {CONNECTIONS} connections refused"
    assert result.returncode == 0 and report["verdict"] == "available" and report["missing"] == 0
