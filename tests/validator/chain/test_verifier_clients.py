"""The verifier's users on a real anvil chain: a rollup inbox that takes a batch only with a valid
certificate of its data root, and `das cert verify --onchain`, which gives the offline verdict."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from web3 import Web3

from contracts.toolchain import load_contract
from da.types import DataRoot
from tests.devnet.helpers import das
from validator.certificate import CertificateStatus, certificate_to_bytes
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.rpc import (
    SentTransaction,
    TransactionReverted,
    deploy_contract,
    send_transaction,
)
from validator.registry.chain.verifier import signature_point_of
from validator.types import QuorumIndex

from .verifier_world import World, build_world, certificate_of

pytestmark = pytest.mark.xdist_group("chain")


@pytest.fixture(scope="module")
def world(anvil: Anvil, web3: Web3) -> World:
    return build_world(anvil, web3)


def test_a_rollup_inbox_accepts_a_batch_only_with_a_valid_certificate_of_its_data_root(world: World) -> None:
    net = world.net
    compiled = load_contract("RollupInbox")
    address = deploy_contract(net.rpc_url, net.deployer, compiled, world.verifier.address)
    inbox = net.web3.eth.contract(address=Web3.to_checksum_address(address), abi=compiled.abi)
    sequencer = net.accounts[3]  # any account: the certificate, not the sender, is what is checked

    def submit(commitment: bytes, root: bytes, data: bytes) -> SentTransaction:
        call = inbox.functions.submitBatch(commitment, root, data, signature_point_of(data))
        return send_transaction(net.web3, net.rpc_url, inbox, sequencer, call)

    quorum = world.quorum(0, 0)
    certificate = certificate_of(world, 0, 0, sorted(quorum.members))
    data = certificate_to_bytes(certificate)
    commitment = hashlib.sha256(b"rollup batch 1").digest()
    sent = submit(commitment, certificate.data_root, data)
    (accepted,) = inbox.events.BatchAccepted().process_receipt(sent.receipt)
    assert accepted["args"]["number"] == 0 and accepted["args"]["dataRoot"] == certificate.data_root
    assert accepted["args"]["commitment"] == commitment and accepted["args"]["epoch"] == 0
    assert inbox.functions.batches(0).call() == [commitment, certificate.data_root, 0, 0]

    short = certificate_of(world, 0, 0, [quorum.members[0]])
    forged = replace(certificate, data_root=DataRoot(b"\x02" * 32))
    refusals = {
        "another data root claimed": (certificate.data_root[::-1], data, ("DataRootMismatch", None)),
        "too few signers": (short.data_root, certificate_to_bytes(short), ("CertificateRejected", (7,))),
        "a certificate relabelled": (
            forged.data_root,
            certificate_to_bytes(forged),
            ("CertificateRejected", (8,)),
        ),
        "no certificate": (certificate.data_root, b"\x00" * 10, ("CertificateRejected", (1,))),
    }
    for what, (root, damaged, (error, args)) in refusals.items():
        with pytest.raises(TransactionReverted) as refused:
            submit(commitment, root, damaged)
        assert refused.value.error == error, what
        if args is not None:
            assert refused.value.args_ == args, what
    assert inbox.functions.batchCount().call() == 1


def test_das_cert_verify_onchain_gives_the_offline_verdict_and_refuses_a_wrong_verifier(
    world: World, tmp_path: Path
) -> None:
    net = world.net
    registry = ["--rpc", net.rpc_url, "--registry-address", net.address]
    onchain = [*registry, "--onchain", "--verifier-address", world.verifier.address, "--json"]
    quorum = world.quorum(0, 0)
    genuine = certificate_of(world, 0, 0, sorted(quorum.members))
    cases = {
        "genuine.cert": (certificate_to_bytes(genuine), CertificateStatus.VALID),
        "relabelled.cert": (
            certificate_to_bytes(replace(genuine, quorum=QuorumIndex(1))),
            CertificateStatus.INVALID_SIGNATURE,
        ),
        "short.cert": (
            certificate_to_bytes(certificate_of(world, 0, 0, [quorum.members[0]])),
            CertificateStatus.BELOW_THRESHOLD,
        ),
    }
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        verdicts = {
            "on-chain": das("cert", "verify", str(tmp_path / name), *onchain),
            "offline": das("cert", "verify", str(tmp_path / name), *registry, "--json"),
        }
        reports = {where: json.loads(result.stdout) for where, result in verdicts.items()}
        for where, result in verdicts.items():
            # Each verdict pinned on its own, so a bug shared by both checks cannot pass as agreement.
            assert result.returncode == (0 if expected is CertificateStatus.VALID else 1), (
                name, where, result.stdout + result.stderr,
            )  # fmt: skip
            assert reports[where]["status"] == expected.name, (name, where, reports[where])
            assert reports[where]["valid"] is (expected is CertificateStatus.VALID), (name, where)
            assert reports[where]["checked"] == where, (name, where, reports[where])
        for field in ("signed_slots", "threshold"):
            assert reports["on-chain"][field] == reports["offline"][field], (name, field)

    missing = das("cert", "verify", str(tmp_path / "genuine.cert"), *registry, "--onchain")
    assert missing.returncode == 2 and "--verifier-address" in missing.stderr
    not_a_verifier = das("cert", "verify", str(tmp_path / "genuine.cert"), *registry, "--onchain",
                         "--verifier-address", net.address)  # fmt: skip
    assert not_a_verifier.returncode == 2 and "protocol()" in not_a_verifier.stderr
