"""Reading a blob back on the real devnet: concurrent `GET /v1/blobs/{root}/data` on a quorum member
that was not posted to rebuild the blob from custodians once, and a later read is served from the
node's cache of recovered blobs (counted by the node's own metrics); reads of more blobs at once than
the node rebuilds at a time (2) are refused with 429 and Retry-After, and taken when asked again."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.devnet.helpers import api, http, http_with_headers, metric, post, quorum_of
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

READERS = 6
MIB = 1024 * 1024


def test_concurrent_reads_of_one_blob_rebuild_it_once_then_serve_the_cache(
    devnet: Devnet, tmp_path: Path
) -> None:
    status, data, _ = post(devnet, tmp_path, 1_100_000, seed=2727, node=0)  # 9 rows: two windows of 8
    _, custody = quorum_of(devnet, status)
    reader = next(member for member in sorted(custody) if member != 0)  # holds custody, not the bytes
    url = f"{api(devnet, reader)}/v1/blobs/{status['data_root']}/data"
    rebuilt = metric(devnet, reader, "tessera_blob_reconstructions_total")
    windows = metric(devnet, reader, "tessera_retrieval_windows_total")
    hits = metric(devnet, reader, "tessera_retrieval_cache_hits_total")
    with ThreadPoolExecutor(READERS) as pool:
        answers = list(pool.map(lambda _: http("GET", url), range(READERS)))
    assert [code for code, _ in answers] == [200] * READERS, [body[:200] for _, body in answers]
    assert all(body == data for _, body in answers)
    assert metric(devnet, reader, "tessera_blob_reconstructions_total") == rebuilt + 1
    assert metric(devnet, reader, "tessera_retrieval_windows_total") == windows + 2, "rows 0-7, then row 8"
    code, body = http("GET", url)
    assert (code, body == data) == (200, True)
    assert metric(devnet, reader, "tessera_blob_reconstructions_total") == rebuilt + 1
    assert metric(devnet, reader, "tessera_retrieval_cache_hits_total") >= hits + 1


def test_reads_of_more_blobs_than_the_cap_at_once_are_refused_with_retry_after(
    devnet: Devnet, tmp_path: Path
) -> None:
    statuses = [post(devnet, tmp_path, MIB, seed=2800 + index, node=0) for index in range(4)]
    custodians = [set(quorum_of(devnet, status)[1]) - {0} for status, _, _ in statuses]
    reader = min(set.intersection(*custodians))  # holds custody of all four, the bytes of none
    urls = [f"{api(devnet, reader)}/v1/blobs/{status['data_root']}/data" for status, _, _ in statuses]
    refused = metric(devnet, reader, "tessera_retrieval_refused_total")
    with ThreadPoolExecutor(len(urls)) as pool:  # four blobs at once, two rebuilt at a time
        answers = list(pool.map(lambda url: http_with_headers("GET", url), urls))
    codes = [code for code, _, _ in answers]
    assert set(codes) <= {200, 429} and codes.count(429) >= 1, codes
    for (_, data, _), url, (code, body, headers) in zip(statuses, urls, answers, strict=True):
        if code == 200:
            assert body == data
            continue
        assert json.loads(body)["error"]["code"] == "too_many_requests"
        assert 1 <= int(headers["Retry-After"]) <= 30
        assert http("GET", url) == (200, data)  # the others are done by now: taken
    assert metric(devnet, reader, "tessera_retrieval_refused_total") == refused + codes.count(429)
