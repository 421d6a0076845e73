"""Custody pushed in chunks of whole rows between real nodes (issue 30 step 3; specs/validator.md,
Custody and Executing outputs): real `Node`s over real libp2p hosts on loopback, a real SQLite
registry, real ckzg and blspy.

- An aggregator node whose chunk limit is one row sends a two-row blob's custody to its member in
  two pushes, each ACCEPTed; the member stores both and the blob is certified.
- A member restarted with one row of its custody stored does not attest from it: the row pushed
  again after the restart changes nothing, and it attests once the missing row arrives.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog.testing
import trio

from da import EncodedBlob
from da.kzg import CkzgBackend
from network.server import ServerPorts
from network.service import open_service, open_services
from network.types import Verdict
from tests.network.conftest import FAST
from tests.validator.daemon.test_restart import (
    Clock,
    RecordingAttestations,
    _assignment,
    _blob_settled,
    _context,
    _genesis,
    _push_for,
    _running,
    _wait_for,
)
from validator.daemon.node import Node
from validator.daemon.store import BlobStatus
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch, ValidatorIndex

pytestmark = pytest.mark.anyio

QUIET_SECONDS = 2.0
"""How long a member is watched for an attestation it must not send (a few core ticks)."""


@pytest.fixture
def anyio_backend() -> str:
    """The nodes run in trio, as in the daemon's trio thread."""
    return "trio"


async def test_custody_in_several_pushes_between_nodes_is_certified(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    # Two validators of 4 slots each: the certificate needs both (6 of 8 slots). The member's four
    # slots hold more than 64 columns, so it attests once its custody is stored, without sampling.
    keys = _genesis(tmp_path / "registry.sqlite", [4, 4])
    clock = Clock(0.2)
    registries = [SqliteRegistry(tmp_path / "registry.sqlite", clock=clock) for _ in range(3)]
    registry = registries[2]  # the test's own view, to publish the nodes' addresses
    contexts = [_context(tmp_path, registries[i], i, kzg) for i in range(2)]
    aggregator = Node(contexts[0], keys[0], FAST, custody_cells_per_push=1)  # one row a push
    member = Node(contexts[1], keys[1], FAST)
    quorum, threshold = _assignment(registry, encoded.data_root, Epoch(0))
    # What the aggregator wrote when it answered `received`: its intake disperses it when it starts.
    contexts[0].store.add_blob(data, encoded.header, encoded.data_root, Epoch(0), quorum, threshold)
    settled = _blob_settled(contexts[0].store, encoded.data_root)
    try:
        with structlog.testing.capture_logs() as logs:
            async with open_services([aggregator.service, member.service]), trio.open_nursery() as nursery:
                for index, node in enumerate((aggregator, member)):
                    addresses = tuple(node.service.listen_addrs)
                    registry.update_endpoint(ValidatorIndex(index), node.service.peer_id, addresses)
                await nursery.start(member.run)
                await nursery.start(aggregator.run)
                await _wait_for("the blob to be certified", lambda: settled() is not None)
                nursery.cancel_scope.cancel()
        record = settled()
        assert record is not None and record.status is BlobStatus.CERTIFIED, record
        pushes = [e for e in logs if e["event"] == "custody pushed" and e.get("validator") == 1]
        assert len(pushes) >= 2 and {e["verdict"] for e in pushes} == {"accept"}
        held = contexts[1].store.custody_coordinates(encoded.data_root)
        rows = {coordinate.row for coordinate in held}
        assert rows == {0, 1}
        columns = {coordinate.column for coordinate in held}
        assert {e["cells"] for e in pushes} == {len(columns)}  # each push one whole row
    finally:
        for context in contexts:
            context.store.close()
        for each in registries:
            each.close()


async def test_a_member_restarted_with_part_of_its_custody_attests_only_once_it_holds_all(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    encoded = two_row_blob[1]
    keys = _genesis(tmp_path / "registry.sqlite", [1, 1, 1, 5])  # the member holds 5 of 8 slots
    registry = SqliteRegistry(tmp_path / "registry.sqlite", clock=Clock(0.2))
    epoch_zero = registry.get_epoch_context(Epoch(0))
    wanted = _push_for(keys, epoch_zero, encoded, 3, kzg)
    rows = [[s for c in wanted.columns for s in encoded.get_column(c) if s.row == row] for row in (0, 1)]
    attestations = RecordingAttestations()
    ports = ServerPorts(attestations=attestations)
    store_path = tmp_path / "member"
    store_path.mkdir()
    try:
        async with open_service(FAST, ports) as pusher:
            registry.update_endpoint(ValidatorIndex(0), pusher.peer_id, tuple(pusher.listen_addrs))

            async def push_rows(node: Node, *chunk: int) -> Verdict:
                peer = node.service.peer_id
                await pusher.connect(f"{node.service.listen_addrs[0]}/p2p/{peer}")
                samples = [s for row in chunk for s in rows[row]]
                return await pusher.push_custody(peer, encoded.header, samples, 0, 0)

            # Before the restart: row 0 only is pushed and stored; no attestation.
            context = _context(store_path, registry, 3, kzg)
            first = Node(context, keys[3], FAST)
            async with _running(first):
                assert await push_rows(first, 0) is Verdict.ACCEPT
                await trio.sleep(QUIET_SECONDS)
            stored = context.store.custody_coordinates(encoded.data_root)
            assert {c.row for c in stored} == {0}
            context.store.close()
            assert attestations.received == []

            # After the restart: row 0 again changes nothing; row 1 completes custody: it attests.
            context = _context(store_path, registry, 3, kzg)
            second = Node(context, keys[3], FAST)
            async with _running(second):
                assert await push_rows(second, 0) is Verdict.ACCEPT
                await trio.sleep(QUIET_SECONDS)
                assert attestations.received == []
                assert await push_rows(second, 1) is Verdict.ACCEPT
                await _wait_for("the member's attestation", lambda: bool(attestations.received))
            assert {c.row for c in context.store.custody_coordinates(encoded.data_root)} == {0, 1}
            context.store.close()
    finally:
        registry.close()
