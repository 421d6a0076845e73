"""The recency rule against a real L1 (anvil): block timestamps read over JSON-RPC, an unknown block
or an unreachable RPC a typed error (503, asked again), and the server dropping a commitment included
too late (418, code 2) while keeping one within the window."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from altda.commitment import compute_commitment
from altda.errors import L1Unavailable
from altda.l1 import RpcL1Clock
from contracts.toolchain import ChainToolMissing
from da import CkzgBackend
from da.types import DataRoot
from tests.altda.fixtures import EPOCH_SECONDS, GENESIS_TIME, certify
from tests.altda.test_server import _closed_port, serving
from tests.environment import require_or_skip
from validator.registry.chain.anvil import Anvil, start_anvil


@pytest.fixture(scope="module")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    try:
        chain = start_anvil(Path(tmp_path_factory.mktemp("l1")), accounts=1)
    except ChainToolMissing as missing:
        require_or_skip(str(missing))
    with chain:
        yield chain


def _rpc(url: str, method: str, *params: object) -> object:
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return httpx.post(url, json=request, timeout=10).json()["result"]


def _head(url: str) -> tuple[int, float]:
    """The L1 head: its number and timestamp."""
    block = _rpc(url, "eth_getBlockByNumber", "latest", False)
    assert isinstance(block, dict)
    return int(block["number"], 16), float(int(block["timestamp"], 16))


def test_block_times_come_from_the_l1_and_an_unknown_block_is_a_typed_error(anvil: Anvil) -> None:
    _rpc(anvil.rpc_url, "evm_mine")
    number, stamp = _head(anvil.rpc_url)
    clock = RpcL1Clock(anvil.rpc_url)
    assert clock.block_time(number) == stamp
    with pytest.raises(L1Unavailable, match="no block"):
        clock.block_time(number + 1000)
    with pytest.raises(L1Unavailable):
        RpcL1Clock(f"http://127.0.0.1:{_closed_port()}").block_time(0)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_server_drops_a_commitment_included_too_late(anvil: Anvil, kzg: CkzgBackend) -> None:
    """The certificate's epoch 0 ended at GENESIS_TIME + 1 h. A window that reaches the L1 head's
    time keeps the commitment (the certificate is checked and the bytes asked for: 404, nobody
    serves them); a window of 1 h drops it (418, code 2); a block the L1 does not have yet is 503."""
    commitment = "/get/0x" + compute_commitment(certify(DataRoot(b"\x51" * 32))).hex()
    number, stamp = _head(anvil.rpc_url)
    included = {"l1_inclusion_block_number": str(number)}
    nodes = (f"http://127.0.0.1:{_closed_port()}",)
    l1 = RpcL1Clock(anvil.rpc_url)
    reach = stamp - (GENESIS_TIME + EPOCH_SECONDS)
    async with serving(kzg, nodes, l1, recency_window_s=EPOCH_SECONDS) as session:
        async with session.get(commitment, params=included) as late:
            assert late.status == 418 and (await late.json())["StatusCode"] == 2
        async with session.get(commitment, params={"l1_inclusion_block_number": str(number + 1000)}) as ahead:
            assert ahead.status == 503  # the L1 has no such block yet: asked again, not dropped
    async with (
        serving(kzg, nodes, l1, recency_window_s=reach) as session,
        session.get(commitment, params=included) as kept,
    ):
        assert kept.status == 404
