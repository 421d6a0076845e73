"""Getting a blob's header from libp2p peers and checking it against the data root.

Peers are asked over `/tessera/header/2`, in turn; the first header that hashes to the data root wins.
A node's HTTP API (`--node URL`) is the other source, through `validator.api_client.AsyncNodeApiClient`.
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog
import trio

from da.types import BlobHeader, DataRoot
from network.errors import NetworkError
from network.service import NetworkService
from network.types import PeerName
from sampling.client.defaults import HEADER_PARALLEL_REQUESTS
from sampling.client.errors import HeaderUnavailable

log = structlog.get_logger(__name__)

# HEADER_PARALLEL_REQUESTS is one: with py-libp2p 0.8.1, cancelling the losers of a race mid-request
# leaves their connections unusable (the next stream on them fails its negotiation).


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
