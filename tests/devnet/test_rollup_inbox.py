"""A rollup's path on a chain devnet, as its sequencer would drive it: `das blob post --wait`, then
`das cert publish` (the certificate's quorum made checkable on-chain), `das cert verify --onchain`
(the same verdict as the offline check), and a batch accepted by the example `RollupInbox` only with
the certificate of its data root (specs/validator.md, On-chain certificate checks)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
from web3 import Web3
from web3.exceptions import ContractCustomError

from altda.commitment import compute_commitment
from contracts.toolchain import ChainToolMissing, find_anvil, load_contract
from da.types import DataRoot
from tests.devnet.helpers import das
from tests.environment import require_or_skip
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.registry.chain.rpc import decode_revert
from validator.registry.chain.verifier import signature_point_of

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # one devnet on anvil, ~60 s


def test_a_posted_blob_is_accepted_by_a_rollup_inbox_on_chain(tmp_path: Path) -> None:
    try:
        find_anvil()
    except ChainToolMissing as missing:
        require_or_skip(str(missing))
    directory = tmp_path / "devnet"
    try:
        up = das("devnet", "up", "--chain", "anvil", "--validators", "4", "--dir", str(directory), "--detach",
                 timeout=300)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        report = json.loads(das("devnet", "status", "--dir", str(directory), "--json").stdout)
        chain = report["chain"]
        assert chain["verifier_address"], chain
        on_chain = ["--rpc", chain["rpc_url"], "--registry-address", chain["registry_address"]]
        verifier = ["--verifier-address", chain["verifier_address"]]

        blob = tmp_path / "batch.bin"
        blob.write_bytes(random.Random(16).randbytes(200_000))
        certificate_file = tmp_path / "batch.cert"
        # The devnet takes paid posts: its demo sequencer pays (funded by `das devnet up`).
        paying = [
            "--eth-keystore",
            str(directory / "keys" / "sequencer.json"),
            "--eth-password-file",
            str(directory / "password.txt"),
        ]
        posted = das("blob", "post", str(blob), "--node", report["nodes"][0]["api_url"], "--wait",
                     "--cert-out", str(certificate_file), "--json", *paying)  # fmt: skip
        assert posted.returncode == 0, posted.stdout + posted.stderr
        certificate = bytes_to_certificate(certificate_file.read_bytes())
        assert "0x" + certificate.data_root.hex() == json.loads(posted.stdout)["data_root"]

        before = das("cert", "verify", str(certificate_file), *on_chain, "--onchain", *verifier, "--json")
        assert before.returncode == 1, before.stdout + before.stderr
        assert json.loads(before.stdout)["status"] in ("EPOCH_NOT_COMMITTED", "QUORUM_NOT_PUBLISHED")
        # A derivation checking the Alt-DA commitment on-chain: not checkable yet (exit 2), never dropped.
        commitment = "0x" + compute_commitment(certificate).hex()
        altda_check = ("altda", "check", commitment, *on_chain, *verifier, "--json")
        pending = das(*altda_check)
        assert pending.returncode == 2, pending.stdout + pending.stderr
        assert json.loads(pending.stdout)["pending"]

        signer = ["--eth-keystore", str(directory / "keys" / "eth-0.json"),
                  "--eth-password-file", str(directory / "password.txt")]  # fmt: skip
        published = das("cert", "publish", str(certificate_file), *on_chain, *verifier, *signer, "--json")
        assert published.returncode == 0, published.stdout + published.stderr
        functions = [tx["function"] for tx in json.loads(published.stdout)["transactions"]]
        assert functions[-1] == "publishQuorum" and set(functions) <= {"commitQuorums", "publishQuorum"}
        again = das("cert", "publish", str(certificate_file), *on_chain, *verifier, *signer, "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["transactions"] == []

        onchain = das("cert", "verify", str(certificate_file), *on_chain, "--onchain", *verifier, "--json")
        offline = das("cert", "verify", str(certificate_file), *on_chain, "--json")
        assert onchain.returncode == offline.returncode == 0, onchain.stdout + offline.stdout
        for field in ("valid", "status", "signed_slots", "threshold", "epoch", "quorum", "data_root"):
            assert json.loads(onchain.stdout)[field] == json.loads(offline.stdout)[field], field

        kept = das(*altda_check)
        assert kept.returncode == 0, kept.stdout + kept.stderr
        late = das(*altda_check, "--l1-block-time", str(10**10), "--recency-window", "60")
        assert late.returncode == 1 and json.loads(late.stdout)["status_code"] == 2, late.stdout

        relabelled = tmp_path / "relabelled.cert"
        relabelled.write_bytes(certificate_to_bytes(replace(certificate, data_root=DataRoot(bytes(32)))))
        bad_onchain = das("cert", "verify", str(relabelled), *on_chain, "--onchain", *verifier, "--json")
        bad_offline = das("cert", "verify", str(relabelled), *on_chain, "--json")
        assert bad_onchain.returncode == bad_offline.returncode == 1
        assert json.loads(bad_onchain.stdout)["status"] == json.loads(bad_offline.stdout)["status"]
        assert json.loads(bad_onchain.stdout)["status"] == "INVALID_SIGNATURE"
        relabelled_commitment = "0x" + compute_commitment(bytes_to_certificate(relabelled.read_bytes())).hex()
        dropped = das("altda", "check", relabelled_commitment, *on_chain, *verifier, "--json")
        assert dropped.returncode == 1 and json.loads(dropped.stdout)["status_code"] == 3, dropped.stdout

        _submit_to_an_inbox(chain, certificate_file.read_bytes(), relabelled.read_bytes())
    finally:
        das("devnet", "down", "--dir", str(directory))


def _submit_to_an_inbox(chain: dict[str, str], data: bytes, relabelled: bytes) -> None:
    """Deploy the example inbox from the devnet chain's dev account; the genuine certificate's batch is
    accepted, the relabelled one's refused with the verifier's status."""
    web3 = Web3(Web3.HTTPProvider(chain["rpc_url"], request_kwargs={"timeout": 30}))
    compiled = load_contract("RollupInbox")
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    sender = web3.eth.accounts[0]
    receipt = web3.eth.wait_for_transaction_receipt(
        factory.constructor(Web3.to_checksum_address(chain["verifier_address"])).transact({"from": sender})
    )
    inbox = web3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)
    root = bytes_to_certificate(data).data_root
    commitment = bytes(range(32))
    tx = inbox.functions.submitBatch(commitment, root, data, signature_point_of(data)).transact(
        {"from": sender}
    )
    (accepted,) = inbox.events.BatchAccepted().process_receipt(web3.eth.wait_for_transaction_receipt(tx))
    assert accepted["args"]["dataRoot"] == root and accepted["args"]["commitment"] == commitment
    call = inbox.functions.submitBatch(commitment, bytes(32), relabelled, signature_point_of(relabelled))
    with pytest.raises(ContractCustomError) as refused:
        call.call({"from": sender})
    assert decode_revert(inbox, "submitBatch", refused.value).args_ == (8,)  # CertificateRejected(8)
    assert inbox.functions.batchCount().call() == 1
