"""`POST /v1/blobs` with a pre-encoded upload, against a real node in this process: an honest upload
is taken, stored with its extension and served back; every inconsistent one is refused with its
code (and the first bad row and cell), nothing is stored, and the node's metrics count it."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from da import CkzgBackend, EncodedBlob, compute_data_root, compute_upload, upload_to_bytes
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.header import header_to_bytes
from da.media import UPLOAD_MEDIA_TYPE
from da.pool import EncoderPool
from da.types import CellCoordinate, ColumnIndex, KZGProof, RowIndex
from da.upload import EncodedUpload, compute_max_upload_bytes
from tests.validator.daemon.live_node import LiveNode, live_node
from tests.validator.daemon.test_extensions import holds_no_extension
from validator.daemon.api import ApiConfig, ApiServer, build_app, start_api

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """The HTTP side is aiohttp's (asyncio); the node runs in its own trio thread."""
    return "asyncio"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, kzg: CkzgBackend) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("node"), kzg) as running:
        yield running


@pytest.fixture
async def server(node: LiveNode) -> AsyncIterator[ApiServer]:
    limit = compute_max_upload_bytes(DEFAULT_MAX_BLOB_BYTES) + 64 * 1024
    api = await start_api(build_app(node.api, ApiConfig(max_request_bytes=limit)))
    try:
        yield api
    finally:
        await api.close()


async def _post(server: ApiServer, body: bytes) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.post("/v1/blobs", data=body, headers={"Content-Type": UPLOAD_MEDIA_TYPE}) as response,
    ):
        return response.status, await response.json()


async def _refused(server: ApiServer, reason: str) -> float:
    """`tessera_uploads_refused_total{reason=...}` as the node's /metrics reports it."""
    async with aiohttp.ClientSession(server.url) as http, http.get("/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "tessera_uploads_refused_total" and sample.labels == {"reason": reason}:
                return float(sample.value)
    return 0.0


async def test_an_upload_is_taken_stored_with_its_extension_and_served(
    node: LiveNode, server: ApiServer, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    body = upload_to_bytes(compute_upload(data, encoded))
    status, answer = await _post(server, body)
    assert status == 202, answer
    assert answer["data_root"] == "0x" + encoded.data_root.hex()
    assert answer["status"] in {"encoded", "dispersed", "certified"}
    assert node.store.get_extension(encoded.data_root) == encoded
    corner = [CellCoordinate(RowIndex(0), ColumnIndex(0)), CellCoordinate(RowIndex(0), ColumnIndex(127))]
    assert node.extensions.get_samples(encoded.data_root, corner) == encoded.get_samples(corner)
    assert holds_no_extension(node.extensions), "dispersal and serving read the store, not memory"
    root = answer["data_root"]
    async with aiohttp.ClientSession(server.url) as http:
        async with http.get(f"/v1/blobs/{root}/header") as response:
            assert await response.read() == header_to_bytes(encoded.header)
        async with http.get(f"/v1/blobs/{root}/data") as response:
            assert await response.read() == data
        async with http.get("/v1/health") as response:
            assert await response.json() == {"status": "ok", "encoder": {"workers": 0, "ready": True}}
        async with http.get("/v1/openapi.json") as response:
            post = (await response.json())["paths"]["/v1/blobs"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/octet-stream", UPLOAD_MEDIA_TYPE}
    assert "invalid_cell_proof" in post["responses"]["422"]["description"]
    again_status, again = await _post(server, body)  # the same bytes again: the same blob
    assert (again_status, again["data_root"]) == (202, root)


def _with_proof(upload: EncodedUpload, row: int, column: int, proof: bytes) -> EncodedUpload:
    proofs = [list(row_proofs) for row_proofs in upload.proofs]
    proofs[row][column] = KZGProof(proof)
    return dataclasses.replace(upload, proofs=tuple(tuple(p) for p in proofs))


def _tampered(case: str, upload: EncodedUpload) -> bytes:
    """The upload's bytes with one inconsistency."""
    if case == "altered proof":
        return upload_to_bytes(_with_proof(upload, 1, 37, upload.proofs[0][37]))
    if case == "swapped proofs":
        swapped = _with_proof(upload, 0, 90, upload.proofs[0][5])
        return upload_to_bytes(_with_proof(swapped, 0, 5, upload.proofs[0][90]))
    if case == "foreign commitment":
        first, second = upload.row_commitments
        foreign = dataclasses.replace(upload, row_commitments=(second, first))
        return upload_to_bytes(dataclasses.replace(foreign, data_root=compute_data_root(foreign.header)))
    body = upload_to_bytes(upload)
    if case == "wrong root":
        return body[:24] + bytes(32) + body[56:]
    if case == "row count":
        return body[:16] + (3).to_bytes(8, "little") + body[24:]
    if case == "length":
        return body[:8] + (len(upload.data) - 1).to_bytes(8, "little") + body[16:]
    if case == "truncated":
        return body[:-1000]
    raise AssertionError(case)


@pytest.mark.parametrize(
    ("case", "status", "code", "reason", "where"),
    [
        ("altered proof", 422, "invalid_cell_proof", "InvalidCellProof", {"row": 1, "column": 37}),
        ("swapped proofs", 422, "invalid_cell_proof", "InvalidCellProof", {"row": 0, "column": 5}),
        ("foreign commitment", 422, "commitment_mismatch", "CommitmentMismatch", {"row": 0}),
        ("wrong root", 422, "data_root_mismatch", "DataRootMismatch", {}),
        ("row count", 400, "row_count_mismatch", "RowCountMismatch", {}),
        ("length", 400, "malformed_upload", "MalformedUpload", {}),
        ("truncated", 400, "upload_truncated", "UploadTruncated", {}),
    ],
)
async def test_an_inconsistent_upload_is_refused_with_its_code_and_nothing_is_stored(
    node: LiveNode,
    server: ApiServer,
    two_row_blob: tuple[bytes, EncodedBlob],
    case: str,
    status: int,
    code: str,
    reason: str,
    where: dict[str, int],
) -> None:
    data, encoded = two_row_blob
    before = await _refused(server, reason)
    answer_status, answer = await _post(server, _tampered(case, compute_upload(data, encoded)))
    assert answer_status == status, answer
    error = answer["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert {name: error[name] for name in ("row", "column") if name in error} == where
    assert await _refused(server, reason) == before + 1
    assert node.store.find_blob_by_content(data) is None
    assert node.store.get_blob(encoded.data_root) is None
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.get(f"/v1/blobs/0x{encoded.data_root.hex()}") as response,
    ):
        assert response.status == 404


async def test_a_node_with_an_encoder_pool_reports_its_readiness_and_checks_uploads_on_it(
    tmp_path: Path, kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = two_row_blob
    upload = compute_upload(data, encoded)
    limit = compute_max_upload_bytes(DEFAULT_MAX_BLOB_BYTES) + 64 * 1024
    with EncoderPool(workers=1) as pool, live_node(tmp_path, kzg, pool) as node:
        server = await start_api(build_app(node.api, ApiConfig(max_request_bytes=limit)))
        try:
            async with aiohttp.ClientSession(server.url) as http:
                async with http.get("/v1/health") as response:  # the worker is still loading its tables
                    assert (await response.json())["encoder"] == {"workers": 1, "ready": False}
                deadline = asyncio.get_running_loop().time() + 60
                ready = False
                while not ready and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.2)
                    async with http.get("/v1/health") as response:
                        ready = (await response.json())["encoder"]["ready"]
                assert ready, "the pool's worker never reported ready"
            status, answer = await _post(server, _tampered("swapped proofs", upload))
            assert (status, answer["error"]["code"]) == (422, "invalid_cell_proof")  # type: ignore[index]
            status, answer = await _post(server, upload_to_bytes(upload))
            assert (status, answer["data_root"]) == (202, "0x" + encoded.data_root.hex())
            assert node.store.get_extension(encoded.data_root) == encoded
        finally:
            await server.close()


async def test_uploads_are_refused_while_the_encoded_blobs_held_for_dispersal_are_at_their_bound(
    tmp_path: Path,
    kzg: CkzgBackend,
    one_row_blob: tuple[bytes, EncodedBlob],
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    """An upload's dispersal counts until its blob is certified: past
    `max_dispersing` held, a new upload is 429 with Retry-After before its body is checked, as a raw
    post is, and taken once room frees."""
    data, encoded = one_row_blob
    with live_node(tmp_path, kzg, max_dispersing=1) as bounded:
        api = await start_api(
            build_app(bounded.api, ApiConfig(max_request_bytes=compute_max_upload_bytes(len(data)) * 2))
        )
        try:
            another = two_row_blob[1].data_root  # another blob still being dispersed
            bounded.extensions.hold(another, "ip:198.51.100.1")
            body = upload_to_bytes(compute_upload(data, encoded))
            status, answer = await _post(api, body)
            assert status == 429, answer
            assert bounded.store.get_blob(encoded.data_root) is None
            bounded.extensions.release(two_row_blob[1].data_root)
            status, answer = await _post(api, body)
            assert status == 202, answer
            assert answer["data_root"] == "0x" + encoded.data_root.hex()
        finally:
            await api.close()
