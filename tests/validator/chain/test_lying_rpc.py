"""Several RPCs must agree: `das cert verify` through an honest RPC and a lying one (a proxy that
doubles a validator's stake in the registry's logs) exits 2 naming the disagreement; through the
honest one alone it exits 0; with a quorum of 2 of 3 the liar is outvoted. And one RPC that withholds
a log is caught by the reader's own checks (`MissingLogs`), not believed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from web3 import Web3

from da.types import DataRoot
from tests.devnet.helpers import das
from validator.certificate import certificate_to_bytes
from validator.errors import RegistryError
from validator.keys import aggregate_signatures
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.registry.chain.backend import ChainRegistry
from validator.registry.chain.logcheck import MissingLogs
from validator.registry.chain.view import InconsistentEvents, RegistryView
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, QuorumIndex, Seed

from .registry_network import KEYS, STAKE, Network, cast_ballots, register
from .rpc_proxy import Rewrite, RpcProxy

pytestmark = pytest.mark.xdist_group("chain")

STAKE_CHANGED = Web3.keccak(text="StakeChanged(uint32,int128,uint64)").to_0x_hex()
REGISTERED = Web3.keccak(text="ValidatorRegistered(uint32,address,bytes,bytes)").to_0x_hex()
BALLOT_DRAW = "0x" + Web3.keccak(text="ballotDraw(uint64)")[:4].hex()
LIED_ABOUT = 3


def _topic_of(validator: int) -> str:
    return "0x" + validator.to_bytes(32, "big").hex()


def double_the_stake_in_logs(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Doubles validator `LIED_ABOUT`'s stake changes in eth_getLogs answers."""
    if request.get("method") != "eth_getLogs" or not isinstance(response.get("result"), list):
        return response
    for entry in response["result"]:
        if entry["topics"][:2] == [STAKE_CHANGED, _topic_of(LIED_ABOUT)]:
            amount, effective = abi_decode(["int128", "uint64"], bytes.fromhex(entry["data"][2:]))
            entry["data"] = "0x" + abi_encode(["int128", "uint64"], [2 * amount, effective]).hex()
    return response


def double_the_stake(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A consistent liar: doubles validator `LIED_ABOUT`'s stake in the logs and in `ballotDraw`."""
    response = double_the_stake_in_logs(request, response)
    if request.get("method") != "eth_call" or not isinstance(response.get("result"), str):
        return response
    if not str(request["params"][0].get("data", request["params"][0].get("input", ""))).startswith(
        BALLOT_DRAW
    ):
        return response
    types = ["uint32[]", "bytes32[]", "uint64[]"]
    voters, outputs, stakes = abi_decode(types, bytes.fromhex(response["result"][2:]))
    stakes = [2 * s if v == LIED_ABOUT else s for v, s in zip(voters, stakes, strict=True)]
    response["result"] = "0x" + abi_encode(types, [voters, outputs, stakes]).hex()
    return response


def withholding(topics: list[str]) -> Rewrite:
    """A rewrite that drops the eth_getLogs entries whose topics start with `topics`."""

    def rewrite(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") == "eth_getLogs" and isinstance(response.get("result"), list):
            kept = [entry for entry in response["result"] if entry["topics"][: len(topics)] != topics]
            response["result"] = kept
        return response

    return rewrite


def _certified_chain(net: Network, tmp_path: Path) -> Path:
    """Four validators (3+2+2+1 slots: one quorum of 8), ballots for epoch 0, the chain in epoch 0, and
    a certificate of quorum 0 signed by every member; returns the certificate file."""
    for i, slots in enumerate([3, 2, 2, 1]):
        register(net.registry(i), KEYS[i], slots=slots)
    cast_ballots(net, dict(enumerate(KEYS[:4])), Epoch(0))
    net.to_epoch(0)
    context = net.registry().get_epoch_context(Epoch(0))
    quorum = compute_quorums(context, DEVNET)[0]
    root = DataRoot(hashlib.sha256(b"a blob").digest())
    message = compute_attestation_signing_root(context.chain_id, Epoch(0), QuorumIndex(0), root)
    certificate = Certificate(
        data_root=root,
        epoch=Epoch(0),
        quorum=QuorumIndex(0),
        signers=tuple(True for _ in quorum.slots),
        signature=aggregate_signatures([KEYS[m].sign(message) for m in quorum.members]),
    )
    path = tmp_path / "blob.cert"
    path.write_bytes(certificate_to_bytes(certificate))
    return path


def test_cert_verify_refuses_rpcs_that_disagree(network: Callable[..., Network], tmp_path: Path) -> None:
    net = network(genesis_in=60, accounts=4)
    cert = _certified_chain(net, tmp_path)
    with (
        RpcProxy(net.rpc_url) as honest,
        RpcProxy(net.rpc_url) as also_honest,
        RpcProxy(net.rpc_url, rewrite=double_the_stake) as liar,
        RpcProxy(net.rpc_url, rewrite=double_the_stake_in_logs) as clumsy_liar,
    ):
        verify = ["cert", "verify", str(cert), "--registry-address", net.address]
        both = das(*verify, "--rpc", honest.url, "--rpc", liar.url)
        assert both.returncode == 2, (both.stdout, both.stderr)
        assert "RPCs disagree on epoch 0's context" in both.stderr
        assert f"validator {LIED_ABOUT}'s stake" in both.stderr and liar.url in both.stderr
        caught = das(*verify, "--rpc", clumsy_liar.url)
        assert caught.returncode == 2, (caught.stdout, caught.stderr)
        assert (
            f"validator {LIED_ABOUT}'s stake in epoch 0: logs {2 * STAKE}, contract {STAKE}" in caught.stderr
        )
        with_honest = das(*verify, "--rpc", honest.url, "--rpc", clumsy_liar.url)
        assert with_honest.returncode == 2 and "RPCs disagree on epoch 0's context" in with_honest.stderr
        alone = das(*verify, "--rpc", honest.url)
        assert alone.returncode == 0 and alone.stdout.startswith("VALID"), (alone.stdout, alone.stderr)
        outvoted = das(
            *verify, "--rpc", honest.url, "--rpc", liar.url, "--rpc", also_honest.url, "--rpc-quorum", "2"
        )
        assert outvoted.returncode == 0 and outvoted.stdout.startswith("VALID"), (
            outvoted.stdout,
            outvoted.stderr,
        )
        lonely = das(*verify, "--rpc", honest.url, "--rpc", liar.url, "--rpc-quorum", "1")
        assert lonely.returncode == 2 and "--rpc-quorum" not in lonely.stderr
        assert "the RPC quorum must be 2..2" in lonely.stderr
    assert liar.counts["forwarded"] > 0 and honest.counts["forwarded"] > 0


def withholding_validator(validator: int) -> Rewrite:
    """A rewrite that drops every eth_getLogs entry about `validator` (its index is topic 1)."""

    def rewrite(request: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") == "eth_getLogs" and isinstance(response.get("result"), list):
            kept = [e for e in response["result"] if e["topics"][1:2] != [_topic_of(validator)]]
            response["result"] = kept
        return response

    return rewrite


@pytest.mark.parametrize(
    ("rewrite", "why"),
    [
        (
            withholding([REGISTERED, _topic_of(1)]),
            "a stake change for validator 1, which no event registered",
        ),
        (withholding_validator(1), "the contract has 2 validators at block [0-9]+, the logs 1"),
    ],
    ids=["registration", "every event of validator 1"],
)
def test_withheld_logs_are_missing_logs_not_news(
    network: Callable[..., Network], rewrite: Rewrite, why: str
) -> None:
    net = network(genesis_in=60, accounts=2)
    register(net.registry(0), KEYS[0])
    register(net.registry(1), KEYS[1])
    with RpcProxy(net.rpc_url, rewrite=rewrite) as censor, pytest.raises(MissingLogs, match=why):
        ChainRegistry(censor.url, net.address, sync_interval=0).find_validator(KEYS[1].pubkey)


def test_an_event_for_an_unregistered_validator_is_typed() -> None:
    view = RegistryView(31337, Seed(bytes(32)))
    events: list[tuple[str, dict[str, object]]] = [
        ("EndpointUpdated", {"validator": 5, "peerId": "p", "multiaddrs": []}),
        ("StakeChanged", {"validator": 5, "amount": 1, "effectiveEpoch": 0}),
    ]
    for event, args in events:
        with pytest.raises(InconsistentEvents, match="validator 5, which no event registered") as raised:
            view.apply(event, args, block=9)
        assert isinstance(raised.value, RegistryError) and raised.value.block == 9
    assert view.validators == {} and view.stake_changes == {}
