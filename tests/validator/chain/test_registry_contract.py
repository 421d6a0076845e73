"""The registry contract on a real anvil chain, through `ChainRegistry` (web3.py): the committed
artifact matches the source, the chain is the clock, genesis, stake delays, ballots, and the attacks
the chain now stops (specs/validator.md, The chain registry; specs/consensus.md gaps 3 and 4)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError

from contracts.toolchain import CompiledContract, check_artifact, compile_sources
from da.types import DataRoot
from validator.certificate import verify_certificate
from validator.errors import RegistryError, UnknownEpoch
from validator.keys import aggregate_signatures, compute_proof_of_possession
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.backend import ChainRegistry
from validator.registry.chain.points import g2_to_eip2537
from validator.registry.chain.rpc import (
    ChainUnreachable,
    NotATesseraRegistry,
    TransactionReverted,
    decode_revert,
)
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, QuorumIndex, Seed, ValidatorIndex
from validator.vrf import compute_ballot, compute_next_seed

from .registry_network import (
    GENESIS_SEED,
    KEYS,
    STAKE,
    Network,
    register,
)

pytestmark = pytest.mark.xdist_group("chain")


def test_the_committed_artifact_is_what_the_source_compiles_to(
    compiled_contracts: dict[str, CompiledContract],
) -> None:
    stale = check_artifact(compiled_contracts)
    assert stale == [], "run `python -m contracts.toolchain` and commit the artifact"


def test_genesis_registrations_and_ballots_count_from_epoch_zero_and_seeds_follow_the_rule(
    network: Callable[..., Network],
) -> None:
    net = network()
    writers = [net.registry(i) for i in range(4)]
    indexes = [register(w, KEYS[i], slots=2, peer=f"peer{i}") for i, w in enumerate(writers)]
    assert indexes == [0, 1, 2, 3]
    for i, writer in enumerate(writers):
        writer.put_ballot(
            compute_ballot(KEYS[i], ValidatorIndex(i), net.web3.eth.chain_id, Epoch(0), GENESIS_SEED),
        )
    reader = net.registry()
    assert reader.current_epoch() == 0
    with pytest.raises(UnknownEpoch):
        reader.get_epoch_context(Epoch(1))  # before genesis: the genesis ballots seed(1) mixes are open
    net.to_epoch(0)
    context = reader.get_epoch_context(Epoch(0))
    assert [v.stake for v in context.validators] == [2 * STAKE] * 4
    assert [v.peer_id for v in context.validators] == ["peer0", "peer1", "peer2", "peer3"]
    assert [b.validator for b in context.ballots] == indexes
    assert context.seed == GENESIS_SEED
    assert reader.get_epoch_context(Epoch(1)).seed == compute_next_seed(
        GENESIS_SEED, Epoch(0), context.ballots
    )
    with pytest.raises(UnknownEpoch):
        reader.get_epoch_context(Epoch(2))  # seed(2) needs ballots(1), cast during epoch 0: not frozen
    assert len(compute_quorums(context, DEVNET)) == 1


def test_a_registration_after_genesis_counts_three_epochs_later_and_the_clock_is_the_chains(
    network: Callable[..., Network],
) -> None:
    net = network(genesis_in=5)
    net.to_epoch(1)
    writer = net.registry(0)
    assert writer.current_epoch() == 1
    index = register(writer, KEYS[0])
    for epoch in (1, 2, 3):
        net.to_epoch(epoch)
        assert writer.get_epoch_context(Epoch(epoch)).validators == ()
    net.to_epoch(4)
    (record,) = writer.get_epoch_context(Epoch(4)).validators
    assert (record.index, record.stake) == (index, STAKE)
    assert writer.change_stake(index, STAKE) == 7  # deposit in epoch 4 -> 7
    assert writer.change_stake(index, -STAKE // 2) == 7


def test_nobody_moves_or_redirects_another_validators_stake_or_endpoint(
    network: Callable[..., Network],
) -> None:
    net = network()
    alice, mallory = net.registry(0), net.registry(1)
    victim = register(alice, KEYS[0], peer="alice")
    register(mallory, KEYS[1], peer="mallory")
    with pytest.raises(RegistryError, match="only a validator's own account"):
        mallory.change_stake(victim, -STAKE)
    with pytest.raises(RegistryError, match="only a validator's own account"):
        mallory.update_endpoint(victim, "mallory", ("/ip4/6.6.6.6/tcp/1",))
    # Straight to the contract: every call acts on msg.sender's own validator, or reverts.
    stranger = net.registry(2)
    for call in (
        lambda: stranger._send(stranger._contract.functions.withdraw(STAKE)),
        lambda: stranger._send(stranger._contract.functions.updateEndpoint("x", [])),
        lambda: stranger._send(stranger._contract.functions.castBallot(0, bytes(96), bytes(256))),
    ):
        with pytest.raises(TransactionReverted) as refused:
            call()
        assert refused.value.error == "NotAValidator"
    with pytest.raises(TransactionReverted) as refused:
        alice._send(alice._contract.functions.withdraw(2 * STAKE))
    assert (refused.value.error, refused.value.args_) == ("WithdrawalExceedsStake", (STAKE, 2 * STAKE))
    mallory._send(mallory._contract.functions.updateEndpoint("mallory2", []))
    records = {v.index: v for v in net.registry().get_epoch_context(Epoch(0)).validators}
    assert records[victim].peer_id == "alice" and records[victim].stake == STAKE


def test_ballots_for_a_running_or_past_epoch_and_second_ballots_revert(
    network: Callable[..., Network],
) -> None:
    net = network(genesis_in=5)
    writer = net.registry(0)
    index = register(writer, KEYS[0])
    net.to_epoch(2)
    seed_3 = net.registry().get_epoch_context(Epoch(3)).seed
    assert bytes(writer._contract.functions.seedOf(3).call()) == seed_3  # derived on-chain alike
    chain_id = net.web3.eth.chain_id
    for epoch in (0, 1, 2, 4):
        with pytest.raises(TransactionReverted) as refused:
            writer.put_ballot(compute_ballot(KEYS[0], index, chain_id, Epoch(epoch), seed_3))
        assert (refused.value.error, refused.value.args_) == ("BallotNotOpen", (epoch, 3))
    ballot = compute_ballot(KEYS[0], index, chain_id, Epoch(3), seed_3)
    writer.put_ballot(ballot)
    with pytest.raises(TransactionReverted) as refused:
        writer.put_ballot(ballot)
    assert refused.value.error == "BallotAlreadyCast"
    with pytest.raises(ContractCustomError) as unfixed:
        writer._contract.functions.seedOf(5).call()  # ballots for 4 are still open
    assert decode_revert(writer._contract, "seedOf", unfixed.value).args_ == (5, 3)


def test_the_contract_refuses_every_ballot_that_does_not_verify(network: Callable[..., Network]) -> None:
    net = network()
    writers = [net.registry(i) for i in range(2)]
    for i, writer in enumerate(writers):
        register(writer, KEYS[i])
    chain_id = net.web3.eth.chain_id
    writers[0].put_ballot(compute_ballot(KEYS[0], ValidatorIndex(0), chain_id, Epoch(0), GENESIS_SEED))
    other_seed = Seed(hashlib.sha256(b"another seed").digest())
    for forged in (
        compute_ballot(KEYS[0], ValidatorIndex(1), chain_id, Epoch(0), GENESIS_SEED),  # key 0 signs for 1
        compute_ballot(KEYS[1], ValidatorIndex(1), chain_id, Epoch(0), other_seed),  # over another seed
        compute_ballot(KEYS[1], ValidatorIndex(1), chain_id + 1, Epoch(0), GENESIS_SEED),  # another chain
    ):
        with pytest.raises(TransactionReverted) as refused:
            writers[1].put_ballot(forged)
        assert (refused.value.error, refused.value.args_) == ("InvalidBallot", (0, 1))
    genuine = compute_ballot(KEYS[1], ValidatorIndex(1), chain_id, Epoch(0), GENESIS_SEED)
    mismatched = g2_to_eip2537(KEYS[1].sign(b"not the ballot"))  # a point that is not the signature
    with pytest.raises(TransactionReverted) as refused:
        writers[1]._send(writers[1]._contract.functions.castBallot(0, genuine.signature, mismatched))
    assert refused.value.error == "KeyEncodingMismatch"
    net.to_epoch(0)
    assert [b.validator for b in net.registry().get_epoch_context(Epoch(0)).ballots] == [0]
    functions = writers[1]._contract.functions
    assert functions.ballotCast(0, 0).call() and not functions.ballotCast(0, 1).call()


def test_nobody_registers_another_validators_key(network: Callable[..., Network]) -> None:
    net = network()
    alice, mallory = net.registry(0), net.registry(1)
    alice_proof = alice.sign_registration(KEYS[0])
    attempts = {
        "alice's proof, replayed": alice_proof,
        "a proof of possession of the key alone (PopProve)": compute_proof_of_possession(KEYS[0]),
        "mallory's key signing": mallory.sign_registration(KEYS[1]),
    }
    for what, proof in attempts.items():
        with pytest.raises(TransactionReverted) as refused:
            mallory.register_validator(KEYS[0].pubkey, proof, STAKE)
        assert refused.value.error == "InvalidProofOfPossession", what
    register(alice, KEYS[0])
    with pytest.raises(TransactionReverted) as refused:
        mallory.register_validator(KEYS[0].pubkey, mallory.sign_registration(KEYS[0]), STAKE)
    assert refused.value.error == "PubkeyAlreadyRegistered"
    with pytest.raises(TransactionReverted) as refused:
        alice.register_validator(KEYS[2].pubkey, alice.sign_registration(KEYS[2]), STAKE)
    assert refused.value.error == "AccountAlreadyRegistered"
    with pytest.raises(TransactionReverted) as refused:
        mallory.register_validator(KEYS[1].pubkey, mallory.sign_registration(KEYS[1]), 0)
    assert refused.value.error == "InvalidStake"


def test_a_certificate_of_an_epoch_verifies_the_same_after_later_stake_changes(
    network: Callable[..., Network],
) -> None:
    net = network()
    writers = [net.registry(i) for i in range(4)]
    chain_id = net.web3.eth.chain_id
    for i, writer in enumerate(writers):
        register(writer, KEYS[i], slots=2)
        writer.put_ballot(compute_ballot(KEYS[i], ValidatorIndex(i), chain_id, Epoch(0), GENESIS_SEED))
    net.to_epoch(0)
    context = net.registry().get_epoch_context(Epoch(0))
    (quorum,) = compute_quorums(context, DEVNET)
    root = DataRoot(b"\x07" * 32)
    message = compute_attestation_signing_root(chain_id, Epoch(0), QuorumIndex(0), root)
    members = sorted({slot.validator for slot in quorum.slots})
    certificate = Certificate(
        data_root=root,
        epoch=Epoch(0),
        quorum=QuorumIndex(0),
        signers=tuple(True for _ in quorum.slots),
        signature=aggregate_signatures([KEYS[m].sign(message) for m in members]),
    )
    assert verify_certificate(certificate, context, DEVNET).valid
    writers[0].change_stake(ValidatorIndex(0), -2 * STAKE)
    writers[1].change_stake(ValidatorIndex(1), 4 * STAKE)
    register(net.registry(4), KEYS[4], slots=4)
    net.to_epoch(5)
    later = net.registry()  # a fresh reader: everything from the logs
    assert later.get_epoch_context(Epoch(0)) == context
    assert verify_certificate(certificate, later.get_epoch_context(Epoch(0)), DEVNET).valid
    assert [v.stake for v in later.get_epoch_context(Epoch(5)).validators] == [
        6 * STAKE,
        2 * STAKE,
        2 * STAKE,
        4 * STAKE,
    ]


def test_withdrawn_stake_is_claimable_once_its_epoch_starts(network: Callable[..., Network]) -> None:
    net = network(genesis_in=5)
    writer = net.registry(0)
    index = register(writer, KEYS[0], slots=2)
    net.to_epoch(1)
    assert writer.change_stake(index, -STAKE) == 4
    with pytest.raises(TransactionReverted) as refused:
        writer.claim_withdrawals()
    assert refused.value.error == "NothingToClaim"
    net.to_epoch(4)
    before = net.web3.eth.get_balance(net.accounts[0].address)
    sent = writer.claim_withdrawals()
    paid = net.web3.eth.get_balance(net.accounts[0].address) - before
    assert paid > 0 and paid == STAKE * 10**9 - sent.gas_used * sent.receipt["effectiveGasPrice"]


def test_unreachable_rpc_and_foreign_addresses_are_typed_errors(anvil: Anvil, web3: Web3) -> None:
    with pytest.raises(ChainUnreachable, match=r"127\.0\.0\.1:9"):
        ChainRegistry("http://127.0.0.1:9", "0x" + "11" * 20)
    with pytest.raises(NotATesseraRegistry, match="no contract"):
        ChainRegistry(anvil.rpc_url, "0x" + "22" * 20)
    with pytest.raises(NotATesseraRegistry, match="not an Ethereum address"):
        ChainRegistry(anvil.rpc_url, "0x1234")
    source = (
        "pragma solidity 0.8.37;\n"
        'contract Other { function protocol() external pure returns (string memory) { return "other/1"; } }'
    )
    other = compile_sources({"Other.sol": source})["Other"]
    factory = web3.eth.contract(abi=other.abi, bytecode=other.bytecode)
    receipt = web3.eth.wait_for_transaction_receipt(
        factory.constructor().transact({"from": web3.eth.accounts[0]})
    )
    with pytest.raises(NotATesseraRegistry, match="other/1"):
        ChainRegistry(anvil.rpc_url, str(receipt["contractAddress"]))
