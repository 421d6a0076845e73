"""A reader follows a reorganized chain: blocks holding a registration and a ballot are replaced
(anvil's `evm_snapshot` / `evm_revert`, then other blocks mined at the same heights). With
confirmations 0 the reader finds the changed block hash, rewinds to the fork point, drops the epoch
context it had cached from the replaced blocks and ends with the chain's truth; with confirmations N
a reorg shallower than N changes nothing it had counted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from web3 import Web3

from validator.registry.chain.backend import ChainRegistry
from validator.registry.chain.logcheck import default_confirmations
from validator.registry.chain.view import InconsistentEvents, RegistryView
from validator.types import Epoch, Seed, ValidatorIndex
from validator.vrf import compute_ballot

from .registry_network import KEYS, Network, chain_time, register

pytestmark = pytest.mark.xdist_group("chain")


def _mine(web3: Web3, blocks: int) -> None:
    for _ in range(blocks):
        web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _snapshot(web3: Web3) -> str:
    return str(web3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]


def _revert(web3: Web3, snapshot: str) -> None:
    assert web3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]


def _reader(net: Network, confirmations: int) -> ChainRegistry:
    return ChainRegistry(net.rpc_url, net.address, confirmations=confirmations, sync_interval=0)


def test_a_reader_at_the_head_rewinds_a_replaced_registration_and_ballot(
    network: Callable[..., Network],
) -> None:
    net = network(genesis_in=60, accounts=3)
    register(net.registry(0), KEYS[0])
    reader = _reader(net, 0)
    reader.sync(force=True)
    fork = _snapshot(net.web3)

    # The branch that will vanish: validator 1 is KEYS[1], validator 0 votes for epoch 0, and the
    # chain runs into epoch 0, so the reader freezes and caches epoch 0's context with that ballot.
    register(net.registry(1), KEYS[1])
    chain_id = net.web3.eth.chain_id
    seed = reader.get_epoch_context(Epoch(0)).seed
    net.registry(0).put_ballot(compute_ballot(KEYS[0], ValidatorIndex(0), chain_id, Epoch(0), seed))
    net.to_epoch(0)
    stale = reader.get_epoch_context(Epoch(0))
    assert [b.validator for b in stale.ballots] == [0]
    assert reader.find_validator(KEYS[1].pubkey) == 1
    vanished_height = int(net.web3.eth.block_number)

    # The branch that wins: validator 1 is KEYS[2] (account 2), nobody votes, and it grows taller.
    _revert(net.web3, fork)
    register(net.registry(2), KEYS[2])
    net.to_epoch(0)
    _mine(net.web3, vanished_height + 2 - int(net.web3.eth.block_number))

    truth = _reader(net, 0)
    assert reader.find_validator(KEYS[1].pubkey) is None
    assert reader.find_validator(KEYS[2].pubkey) == truth.find_validator(KEYS[2].pubkey) == 1
    assert reader.reorgs == 1
    context = reader.get_epoch_context(Epoch(0))
    assert context == truth.get_epoch_context(Epoch(0))
    assert context.ballots == ()
    assert [v.pubkey for v in context.validators] == [KEYS[0].pubkey, KEYS[2].pubkey]


def test_a_reorg_shallower_than_the_confirmations_changes_nothing_counted(
    network: Callable[..., Network],
) -> None:
    net = network(genesis_in=600, accounts=3)
    deep = _reader(net, 4)
    register(net.registry(0), KEYS[0])
    _mine(net.web3, 4)
    assert deep.find_validator(KEYS[0].pubkey) == 0
    fork = _snapshot(net.web3)
    register(net.registry(1), KEYS[1])
    _mine(net.web3, 2)  # three blocks on the fork: fewer than the reader's four
    assert deep.find_validator(KEYS[1].pubkey) is None
    counted = deep.get_epoch_context(Epoch(0))

    _revert(net.web3, fork)
    register(net.registry(2), KEYS[2])
    _mine(net.web3, 2)
    assert deep.find_validator(KEYS[1].pubkey) is None
    assert deep.find_validator(KEYS[2].pubkey) is None  # not deep enough yet either
    assert deep.get_epoch_context(Epoch(0)) == counted
    _mine(net.web3, 2)  # the new registration has its four blocks on top
    assert deep.find_validator(KEYS[2].pubkey) == 1
    assert deep.find_validator(KEYS[1].pubkey) is None
    assert deep.reorgs == 0  # the replaced blocks were never synced: nothing to rewind


def test_confirmations_default_to_zero_on_the_dev_chain_only(network: Callable[..., Network]) -> None:
    net = network(genesis_in=600, accounts=1)
    assert ChainRegistry(net.rpc_url, net.address).confirmations == 0  # anvil's chain id 31337
    assert default_confirmations(31337) == 0
    assert default_confirmations(1) == default_confirmations(8453) == 12
    assert chain_time(net.web3) > 0


def test_the_view_undoes_each_change_of_rewound_blocks_exactly() -> None:
    """The journal in the pure view: a rewind restores the registration set, the stake history, the
    previous endpoint and the ballots of the blocks kept, and reports the lowest epoch it touched; a
    rewind below what was pruned is refused (the reader rebuilds instead)."""
    view = RegistryView(31337, Seed(bytes(32)))

    def register_at(block: int, index: int) -> None:
        key = KEYS[index]
        view.apply("ValidatorRegistered", {"validator": index, "account": "0x0", "pubkey": bytes(key.pubkey),
                                           "proofOfPossession": bytes(96)}, block)  # fmt: skip
        view.apply("StakeChanged", {"validator": index, "amount": 5, "effectiveEpoch": 0}, block)
        view.apply("EndpointUpdated", {"validator": index, "peerId": f"p{block}", "multiaddrs": []}, block)

    register_at(10, 0)
    view.apply("BallotCast", {"epoch": 1, "validator": 0, "signature": bytes(96)}, 11)
    before = (
        dict(view.stake_changes),
        view.validators[0].peer_id,
        {e: dict(b) for e, b in view.ballots.items()},
    )
    view.apply("EndpointUpdated", {"validator": 0, "peerId": "moved", "multiaddrs": ["/ip4/1.2.3.4"]}, 12)
    view.apply("StakeChanged", {"validator": 0, "amount": -2, "effectiveEpoch": 4}, 12)
    view.apply("BallotCast", {"epoch": 2, "validator": 0, "signature": bytes(96)}, 13)
    register_at(13, 1)
    assert view.rewind(11) == 0  # validator 1's stake (effective at 0), a ballot of 2, a change at 4
    assert (dict(view.stake_changes), view.validators[0].peer_id, view.ballots) == (
        before[0], before[1], {1: before[2][1], 2: {}},
    )  # fmt: skip
    assert view.validators[0].multiaddrs == () and set(view.validators) == {0}
    view.prune_journal(10)
    assert view.rewind(10) == 1 and view.ballots[1] == {}
    with pytest.raises(InconsistentEvents, match="cannot rewind below block 10"):
        view.rewind(9)
    with pytest.raises(InconsistentEvents, match="after an event of block 10"):
        view.apply("BallotCast", {"epoch": 1, "validator": 0, "signature": bytes(96)}, 9)
