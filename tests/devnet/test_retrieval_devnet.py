"""Reading a blob back on the real devnet: concurrent `GET /v1/blobs/{root}/data` on a quorum member
that was not posted to rebuild the blob from custodians once, and a later read is served from the
node's cache of recovered blobs (counted by the node's own metrics)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.devnet.helpers import api, http, metric, post, quorum_of
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

READERS = 6


def test_concurrent_reads_of_one_blob_rebuild_it_once_then_serve_the_cache(
    devnet: Devnet, tmp_path: Path
) -> None:
    status, data, _ = post(devnet, tmp_path, 300_000, seed=2727, node=0)
    _, custody = quorum_of(devnet, status)
    reader = next(member for member in sorted(custody) if member != 0)  # holds custody, not the bytes
    url = f"{api(devnet, reader)}/v1/blobs/{status['data_root']}/data"
    rebuilt = metric(devnet, reader, "tessera_blob_reconstructions_total")
    hits = metric(devnet, reader, "tessera_retrieval_cache_hits_total")
    with ThreadPoolExecutor(READERS) as pool:
        answers = list(pool.map(lambda _: http("GET", url), range(READERS)))
    assert [code for code, _ in answers] == [200] * READERS, [body[:200] for _, body in answers]
    assert all(body == data for _, body in answers)
    assert metric(devnet, reader, "tessera_blob_reconstructions_total") == rebuilt + 1
    code, body = http("GET", url)
    assert (code, body == data) == (200, True)
    assert metric(devnet, reader, "tessera_blob_reconstructions_total") == rebuilt + 1
    assert metric(devnet, reader, "tessera_retrieval_cache_hits_total") >= hits + 1
