"""The blob routes' semantics over a real aiohttp server and an in-process node: a post is 202
Accepted with the status resource in `Location`; a certificate not formed yet is 409 `not_certified`
with the blob's status, and only a blob the node does not know is 404; the OpenAPI document says so."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from da.types import DataRoot
from network.types import PeerName
from validator.daemon.api import ApiError, BlobView, NodeIdentity, PeerSummary, build_app, start_api

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # aiohttp's loop


class MemoryNode:
    """A node's blob desk held in dicts (a blob's root: the SHA-256 of its bytes); `certify` plays
    the quorum signing."""

    def __init__(self) -> None:
        self.blobs: dict[DataRoot, bytes] = {}
        self.certificates: dict[DataRoot, bytes] = {}

    def certify(self, root: DataRoot, certificate: bytes) -> None:
        self.certificates[root] = certificate

    def is_running(self) -> bool:
        return True

    async def identity(self) -> NodeIdentity:
        return NodeIdentity(PeerName("12D3KooWmemory"), (), "devnet")

    async def peers(self) -> list[PeerSummary]:
        return []

    async def ping(self, peer: PeerName) -> float:
        raise ApiError("unknown_peer", f"no peer {peer}")

    async def admit_blob(
        self,
        byte_length: int | None,
        pre_encoded: bool = False,
        payment: object = None,
        client: str | None = None,
    ) -> None:
        return None

    async def submit_blob(self, data: bytes, payment: object = None, client: str | None = None) -> BlobView:
        root = DataRoot(hashlib.sha256(data).digest())
        self.blobs[root] = data
        status = await self.blob_status(root)
        assert status is not None
        return status

    async def blob_status(self, data_root: DataRoot) -> BlobView | None:
        if data_root not in self.blobs:
            return None
        certified = data_root in self.certificates
        return BlobView(
            data_root, "certified" if certified else "received", True, 0, 0, 0, 3, len(self.blobs[data_root])
        )

    async def certificate(self, data_root: DataRoot) -> bytes | None:
        return self.certificates.get(data_root)

    async def header(self, data_root: DataRoot) -> bytes | None:
        return None

    async def blob_data(self, data_root: DataRoot) -> bytes | None:
        return self.blobs.get(data_root)

    def metrics(self) -> bytes:
        return b""


@pytest.fixture
async def served() -> AsyncIterator[tuple[MemoryNode, aiohttp.ClientSession]]:
    node = MemoryNode()
    server = await start_api(build_app(node))
    try:
        async with aiohttp.ClientSession(server.url) as http:
            yield node, http
    finally:
        await server.close()


OCTETS = {"Content-Type": "application/octet-stream"}


async def test_a_post_is_accepted_with_the_location_of_its_status(
    served: tuple[MemoryNode, aiohttp.ClientSession],
) -> None:
    _, http = served
    async with http.post("/v1/blobs", data=b"rollup batch", headers=OCTETS) as response:
        assert response.status == 202
        body = await response.json()
        location = response.headers["Location"]
    root = "0x" + hashlib.sha256(b"rollup batch").hexdigest()
    assert body["data_root"] == root and body["status"] == "received"
    assert location == f"/v1/blobs/{root}"
    async with http.get(location) as response:
        assert response.status == 200 and (await response.json())["data_root"] == root


async def test_the_certificate_route_says_not_yet_for_a_known_blob_and_404_for_an_unknown_one(
    served: tuple[MemoryNode, aiohttp.ClientSession],
) -> None:
    node, http = served
    async with http.post("/v1/blobs", data=b"batch", headers=OCTETS) as response:
        location = response.headers["Location"]
    async with http.get(location + "/certificate") as response:
        assert response.status == 409
        pending = await response.json()
    error = pending["error"]
    assert error["code"] == "not_certified"
    assert error["blob"]["status"] == "received" and error["blob"]["threshold"] == 3
    async with http.get("/v1/blobs/0x" + "cd" * 32 + "/certificate") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    node.certify(DataRoot(hashlib.sha256(b"batch").digest()), b"certificate bytes")
    async with http.get(location + "/certificate") as response:
        assert response.status == 200 and await response.read() == b"certificate bytes"


async def test_the_document_describes_202_location_409_and_links_to_the_certificate(
    served: tuple[MemoryNode, aiohttp.ClientSession],
) -> None:
    _, http = served
    async with http.get("/v1/openapi.json") as response:
        document = await response.json()
    post = document["paths"]["/v1/blobs"]["post"]["responses"]
    assert "200" not in post and set(post["202"]["headers"]) == {"Location"}
    assert set(post["202"]["links"]) == {"getBlob", "getCertificate", "getHeader", "getData"}
    conflict = document["paths"]["/v1/blobs/{data_root}/certificate"]["get"]["responses"]["409"]
    schema = conflict["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]
    assert schema["required"] == ["blob"] and "status" in schema["properties"]["blob"]["properties"]
