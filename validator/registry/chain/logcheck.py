"""What a chain reader accepts from an RPC's log answers, and how deep it waits (pure: no web3 calls).

specs/validator.md "The chain reader's fault model": a log answer must be exactly the range asked
for; blocks deeper than `REORG_WINDOW_BLOCKS` are final; `confirmations` defaults by chain id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from hexbytes import HexBytes
from web3 import Web3

from validator.errors import RegistryError

REORG_WINDOW_BLOCKS: Final = 256
"""Blocks deeper than this below the head are final for this reader: their hashes and the undo journal
are forgotten (a deeper reorg rebuilds the view from the deploy block). Ethereum finalizes in 64."""
DEV_CHAIN_IDS: Final = frozenset({31337})
"""anvil's (and hardhat's) chain id: a local devnet, which never reorganizes on its own."""
DEFAULT_CONFIRMATIONS: Final = 12
"""Blocks a reader waits on a chain other than a devnet before it counts a change (Ethereum's
reorgs are 1-2 blocks deep; 12 blocks is about 2.4 minutes there)."""


def default_confirmations(chain_id: int) -> int:
    """The confirmations a reader uses when none is given: 0 on a dev chain, else 12."""
    return 0 if chain_id in DEV_CHAIN_IDS else DEFAULT_CONFIRMATIONS


class MissingLogs(RegistryError):
    """The RPC's answer for the registry's logs of blocks `start..end` is not that range's whole log
    (a log outside it, removed, of a block the chain does not have, or fewer validators than the
    contract counts): nothing of it is applied."""

    def __init__(self, endpoint: str, start: int, end: int, reason: str) -> None:
        super().__init__(f"registry logs of blocks {start}..{end} from {endpoint}: {reason}")
        self._reduce_args = (endpoint, start, end, reason)
        self.endpoint, self.start, self.end, self.reason = endpoint, start, end, reason


def check_log_entries(
    logs: Sequence[Any], start: int, end: int, address: str, endpoint: str
) -> dict[int, HexBytes]:
    """The block hash of each block `logs` come from; `MissingLogs` unless every entry is of `address`,
    inside `start..end`, not removed, and every height has one hash."""
    blocks: dict[int, HexBytes] = {}
    for raw in logs:
        number, block_hash = int(raw["blockNumber"]), HexBytes(raw["blockHash"])
        if not start <= number <= end or raw.get("removed", False):
            removed = raw.get("removed", False)
            raise MissingLogs(
                endpoint, start, end, f"a log of block {number} (removed: {removed}) in the answer"
            )
        if Web3.to_checksum_address(raw["address"]) != address:
            raise MissingLogs(endpoint, start, end, f"a log of another contract, {raw['address']}")
        if blocks.setdefault(number, block_hash) != block_hash:
            raise MissingLogs(endpoint, start, end, f"logs of two blocks at height {number}")
    return blocks
