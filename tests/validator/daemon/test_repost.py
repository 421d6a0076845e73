"""A sequencer posts again a blob that failed: after a failure a new post clears (its write failed
on a full disk, its epoch expired uncertified) the same bytes are a new blob, taken and dispersed;
after a failure that cannot clear the post answers the failed record, as before. Against a real
node in this process (SQLite store, core, libp2p host) over its HTTP API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from da import CkzgBackend, EncodedBlob, compute_data_root
from da.types import DataRoot
from tests.validator.daemon.live_node import LiveNode, live_node
from validator.daemon.api import ApiConfig, ApiServer, build_app, start_api
from validator.daemon.store import BlobFailure, BlobStatus
from validator.types import Epoch, QuorumIndex

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def node(tmp_path: Path, kzg: CkzgBackend) -> Iterator[LiveNode]:
    with live_node(tmp_path, kzg) as running:
        yield running


@pytest.fixture
async def server(node: LiveNode) -> AsyncIterator[ApiServer]:
    api = await start_api(build_app(node.api, ApiConfig(max_request_bytes=1 << 20)))
    try:
        yield api
    finally:
        await api.close()


def _failed_record(node: LiveNode, data: bytes, encoded: EncodedBlob, failure: BlobFailure) -> DataRoot:
    """What a previous run left: the bytes recorded, then failed for `failure`."""
    root = compute_data_root(encoded.header)
    node.store.add_blob(data, encoded.header, root, Epoch(0), QuorumIndex(0), 1)
    node.store.update_blob(root, BlobStatus.FAILED, error="earlier failure", failure=failure)
    return root


async def _post_raw(server: ApiServer, data: bytes) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.post("/v1/blobs", data=data, headers={"Content-Type": "application/octet-stream"}) as answer,
    ):
        return answer.status, await answer.json()


@pytest.mark.parametrize("failure", [BlobFailure.STORE_WRITE_FAILED, BlobFailure.EPOCH_EXPIRED])
async def test_a_blob_whose_failure_a_new_post_clears_is_taken_again(
    node: LiveNode, server: ApiServer, one_row_blob: tuple[bytes, EncodedBlob], failure: BlobFailure
) -> None:
    data, encoded = one_row_blob
    root = _failed_record(node, data, encoded, failure)
    status, answer = await _post_raw(server, data)
    assert status == 202, answer
    assert answer["data_root"] == "0x" + root.hex()
    assert answer["status"] != "failed" and answer.get("failure") is None
    record = node.store.get_blob(root)
    assert record is not None and record.status is not BlobStatus.FAILED and record.failure is None


async def test_a_blob_failed_for_good_answers_its_failed_record(
    node: LiveNode, server: ApiServer, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    root = _failed_record(node, data, encoded, BlobFailure.NO_SUCH_QUORUM)
    status, answer = await _post_raw(server, data)
    assert status == 202, answer
    assert (answer["status"], answer["failure"]) == ("failed", "no_such_quorum")
    record = node.store.get_blob(root)
    assert record is not None and record.failure is BlobFailure.NO_SUCH_QUORUM
