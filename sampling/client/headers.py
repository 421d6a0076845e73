"""Getting a blob's header (and certificate) and checking it against the data root.

Sources: a node's HTTP API (`GET {url}/v1/blobs/0x{root}/header`, SSZ bytes; `.../certificate`, SSZ
bytes; 404 when absent) through httpx's AsyncClient (anyio runs it under trio), or libp2p peers over
`/tessera/header/1`, asked in turn; the first header that hashes to the data root wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import httpx
import structlog
import trio

from da.errors import MalformedHeader
from da.header import bytes_to_header, compute_data_root
from da.types import BlobHeader, DataRoot
from network.errors import NetworkError
from network.service import NetworkService
from network.types import PeerName
from sampling.client.defaults import HEADER_PARALLEL_REQUESTS
from sampling.client.errors import HeaderUnavailable, NodeRequestFailed

log = structlog.get_logger(__name__)

# HEADER_PARALLEL_REQUESTS is one: with py-libp2p 0.8.1, cancelling the losers of a race mid-request
# leaves their connections unusable (the next stream on them fails its negotiation).
MAX_NODE_ANSWER_BYTES = 64 * 1024
"""Largest HTTP answer read from a node (a header is at most 3,092 bytes, a certificate 181)."""


class NodeClient:
    """The parts of a Tessera node's HTTP API a light client uses."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> NodeClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with trio.CancelScope(shield=True), trio.move_on_after(1.0):
            await self._client.aclose()

    async def _get(self, data_root: DataRoot, what: str) -> bytes | None:
        url = f"{self.base_url}/v1/blobs/0x{data_root.hex()}/{what}"
        try:
            async with self._client.stream("GET", url) as response:
                if response.status_code == httpx.codes.NOT_FOUND:
                    return None
                body = b""
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_NODE_ANSWER_BYTES:
                        raise NodeRequestFailed(url, response.status_code, "answer too large")
                if response.status_code != httpx.codes.OK:
                    raise NodeRequestFailed(url, response.status_code, body[:200].decode(errors="replace"))
                return body
        except httpx.HTTPError as error:
            raise NodeRequestFailed(url, None, f"{type(error).__name__}: {error}") from error

    async def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """The node's header of `data_root`, checked against it; None when the node has none."""
        body = await self._get(data_root, "header")
        if body is None:
            return None
        try:
            header = bytes_to_header(body)
        except MalformedHeader as error:
            raise NodeRequestFailed(self.base_url, 200, f"the header does not decode: {error}") from error
        if compute_data_root(header) != data_root:
            raise NodeRequestFailed(self.base_url, 200, "the header does not hash to the data root")
        return header

    async def get_certificate(self, data_root: DataRoot) -> bytes | None:
        """The node's certificate bytes for `data_root` (unverified), or None when it has none."""
        return await self._get(data_root, "certificate")


async def fetch_header_from_peers(
    service: NetworkService,
    data_root: DataRoot,
    peers: Sequence[PeerName],
    parallel: int = HEADER_PARALLEL_REQUESTS,
) -> tuple[BlobHeader, PeerName]:
    """The header from the first of `peers` that has it (each answer checked against the root).

    Asks `parallel` peers at a time, each bounded by the service's response timeout; raises
    `HeaderUnavailable` when none has it.
    """
    peers = list(dict.fromkeys(peers))
    if not peers:
        raise HeaderUnavailable(data_root, 0, "no peer to ask")
    failures: list[str] = []
    found: list[tuple[BlobHeader, PeerName]] = []
    limiter = trio.CapacityLimiter(parallel)

    async def ask(peer: PeerName, nursery: trio.Nursery) -> None:
        async with limiter:
            if found:
                return
            try:
                await service.ensure_connected(peer)
                header = await service.request_header(peer, data_root)
            except NetworkError as error:
                failures.append(str(error))
                return
            if header is None:
                failures.append(f"peer {peer} does not hold it")
                return
            found.append((header, peer))
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for peer in peers:
            nursery.start_soon(ask, peer, nursery)
    if found:
        return found[0]
    log.info("header not found", data_root=data_root.hex(), failures=failures)
    raise HeaderUnavailable(data_root, len(peers), failures[-1] if failures else "no answer")
