"""Two processes on 127.0.0.1: a peer in a child process serves (or stalls); this process requests.

The child is a real separate Python process (`tests.network.peer_process`), so these tests exercise
the wire between two interpreters, and SIGKILL mid-request is a real crash, not a graceful close.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from da import CkzgBackend, EncodedBlob
from da.types import CellCoordinate, ColumnIndex, RowIndex
from network.errors import PeerDisconnected, PeerUnreachable
from network.messages import CustodyPush, custody_push_to_bytes
from network.sample_fetch import fetch_verified_samples
from network.service import open_service
from network.types import PeerName
from tests.network.conftest import FAST

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 30


@asynccontextmanager
async def child_peer(*args: str) -> AsyncIterator[tuple[trio.Process, PeerName, str]]:
    """Start `peer_process` with `args`; yields the process, its peer id and address; reaps it after."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "tests.network.peer_process", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = b""
        with trio.fail_after(START_TIMEOUT_SECONDS):
            while not line.endswith(b"\n"):
                chunk = await process.stdout.receive_some(4096)
                if not chunk:
                    pytest.fail(f"peer process exited early with {await process.wait()}")
                line += chunk
        announced = json.loads(line)
        yield process, PeerName(announced["peer"]), announced["addr"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        with trio.move_on_after(10):
            await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
        if process.stdout is not None:
            await process.stdout.aclose()


async def test_samples_requested_from_another_process_verify(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob], tmp_path: Path
) -> None:
    blob = two_row_blob[1]
    custody_file = tmp_path / "blob.ssz"
    everything = [
        blob.get_sample(CellCoordinate(RowIndex(r), ColumnIndex(col))) for r in (0, 1) for col in range(128)
    ]
    custody_file.write_bytes(custody_push_to_bytes(CustodyPush(blob.header, tuple(everything))))
    coordinates = [CellCoordinate(RowIndex(i % 2), ColumnIndex((7 * i) % 128)) for i in range(128)]
    async with (
        child_peer("serve", str(custody_file)) as (process, peer, address),
        open_service(FAST) as client,
    ):
        assert await client.connect(address) == peer
        result = await fetch_verified_samples(
            client.request_samples, peer, blob.data_root, coordinates, kzg, client.guard
        )
    assert result.samples == tuple(blob.get_samples(coordinates))
    assert result.missing == ()
    assert process.returncode == 0, "SIGTERM shuts the peer down cleanly"


async def test_killing_the_peer_process_mid_request_yields_a_typed_error_within_the_timeout(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    coordinates = [CellCoordinate(RowIndex(0), ColumnIndex(c)) for c in range(16)]
    async with child_peer("stall") as (process, peer, address), open_service(FAST) as client:
        await client.connect(address)

        async def kill_soon() -> None:
            await trio.sleep(0.3)
            process.kill()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_soon)
            # The kill shows as a disconnect (typed), not as a response timeout (PeerTimeout).
            with pytest.raises(PeerDisconnected):
                await client.request_samples(peer, blob.data_root, coordinates)
    assert process.returncode == -signal.SIGKILL


LEAVE_NOTICED_S = 5.0


async def test_a_peer_process_that_dies_leaves_the_peer_list_and_its_ping_is_unreachable() -> None:
    """A light client that left (here: SIGKILL, no goodbye) is no longer listed by `connected_peers`
    (so `GET /v1/node/peers` offers no stale peer to ping); the node still has its address, so a
    ping dials it and fails as unreachable (the API's 502), not unknown."""
    async with open_service(FAST) as node, child_peer("stall") as (process, peer, address):
        assert await node.connect(address) == peer
        assert node.connected_peers() == [peer]
        process.kill()
        await process.wait()
        with trio.fail_after(LEAVE_NOTICED_S):
            while node.connected_peers():
                await trio.sleep(0.01)
        assert node.knows_peer(peer)
        with pytest.raises(PeerUnreachable):
            await node.ping(peer)
