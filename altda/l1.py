"""The rollup's L1 as the recency rule needs it: the timestamp of a block, by number (JSON-RPC
`eth_getBlockByNumber`), remembered in a bounded map (a block's timestamp never changes once final)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Protocol

import httpx
import structlog

from altda.errors import L1Unavailable

log = structlog.get_logger(__name__)

MAX_REMEMBERED_BLOCKS = 4096
L1_TIMEOUT_S = 10.0


class L1Clock(Protocol):
    """Timestamps of L1 blocks."""

    def block_time(self, number: int) -> float:
        """Block `number`'s timestamp (Unix seconds); `L1Unavailable` when it cannot be had (its
        message never names the RPC's URL, which may carry an API key: it goes to the log)."""


class RpcL1Clock:
    """`block_time` over JSON-RPC, the last `MAX_REMEMBERED_BLOCKS` answers kept (thread-safe)."""

    def __init__(self, url: str, timeout_s: float = L1_TIMEOUT_S) -> None:
        self.url = url
        self._timeout_s = timeout_s
        self._known: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()

    def block_time(self, number: int) -> float:
        """The block's timestamp, from memory or the RPC."""
        with self._lock:
            known = self._known.get(number)
        if known is not None:
            return known
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_getBlockByNumber",
            "params": [hex(number), False],
        }
        try:
            answer = httpx.post(self.url, json=request, timeout=self._timeout_s).json()
        except (httpx.HTTPError, ValueError) as error:
            # the URL may carry an API key: it is logged, never put in an answer
            log.warning("altda L1 RPC failed", rpc=self.url, block=number, error=str(error))
            raise L1Unavailable(f"the L1 RPC failed: {type(error).__name__}") from error
        block = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(block, dict) or not isinstance(block.get("timestamp"), str):
            log.info("altda L1 has no such block", rpc=self.url, block=number, answer=f"{answer!r:.200}")
            raise L1Unavailable(f"the L1 RPC has no block {number}")
        try:
            timestamp = float(int(block["timestamp"], 16))
        except ValueError as error:
            log.warning("altda L1 block timestamp", rpc=self.url, block=number, timestamp=block["timestamp"])
            raise L1Unavailable(f"the L1 RPC gave block {number} a timestamp that is not hex") from error
        with self._lock:
            self._known[number] = timestamp
            while len(self._known) > MAX_REMEMBERED_BLOCKS:
                self._known.popitem(last=False)
        return timestamp
