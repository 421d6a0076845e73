"""On-chain certificate checks, in one run on a real anvil chain: the gas of `checkCertificate`
(`TesseraVerifier`) for a devnet quorum and for a mainnet-preset quorum of 64 slots (43 and 64
signers), and what making a quorum checkable costs once per epoch (commitQuorums, publishQuorum)
and per validator (castBallot, verified on-chain). Target (issue 16): under 250k gas for 43 signers
of 64. EigenDA's published `checkDACert` figures, for comparison: 594k gas on Sepolia, 3.5M worst
case.

Gas is deterministic, so one run is the figure. Run with `make bench` (or
`python bench/bench_certificate_gas.py [--json]`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import statistics
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from da.types import DataRoot
from network.logs import configure_logging
from validator.certificate import certificate_to_bytes
from validator.keys import SecretKey, aggregate_signatures
from validator.presets import get_preset
from validator.quorums import compute_quorums
from validator.registry.chain.anvil import Anvil, start_anvil
from validator.registry.chain.backend import ChainRegistry, deploy_registry
from validator.registry.chain.verifier import ChainVerifier, deploy_verifier
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, QuorumIndex, Seed, ValidatorIndex
from validator.vrf import compute_ballot

GENESIS_SEED = Seed(hashlib.sha256(b"bench certificate gas").digest())
GENESIS_IN_SECONDS = 3600
EIGENDA_CHECK_DA_CERT_GAS = {"sepolia": 594_000, "worst case": 3_500_000}


def _quorum_case(
    anvil: Anvil, preset_name: str, validators: int, slots: int, signers: list[int]
) -> dict[str, Any]:
    """`validators` validators of `slots` slots each, all voting for epoch 0; quorum 0 of epoch 0
    committed, published and checked with each count of signing slots in `signers`."""
    preset = get_preset(preset_name)
    web3 = Web3(Web3.HTTPProvider(anvil.rpc_url, request_kwargs={"timeout": 60}))
    owner = Account.from_key(anvil.private_keys[0])
    now = int(web3.eth.get_block("latest")["timestamp"])
    genesis = now + GENESIS_IN_SECONDS
    address = deploy_registry(
        anvil.rpc_url,
        owner,
        genesis_time=genesis,
        epoch_seconds=600,
        genesis_seed=GENESIS_SEED,
        preset=preset_name,
    )
    chain_id = int(web3.eth.chain_id)
    keys = [SecretKey.from_seed(hashlib.sha256(b"bench gas key %d" % i).digest()) for i in range(validators)]
    ballot_gas: list[int] = []
    for number, key in enumerate(keys):
        account = _funded(web3, owner)
        registry = ChainRegistry(anvil.rpc_url, address, account=account, sync_interval=0)
        index = registry.register_validator(
            key.pubkey, registry.sign_registration(key), slots * preset.STAKE_PER_SLOT
        )
        registry.put_ballot(compute_ballot(key, ValidatorIndex(index), chain_id, Epoch(0), GENESIS_SEED))
        assert registry.last_transaction is not None and index == number
        ballot_gas.append(registry.last_transaction.gas_used)
    web3.provider.make_request("evm_increaseTime", [GENESIS_IN_SECONDS + 1])  # type: ignore[arg-type]
    web3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    context = ChainRegistry(anvil.rpc_url, address, sync_interval=0).get_epoch_context(Epoch(0))
    quorum = compute_quorums(context, preset)[0]
    verifier = ChainVerifier(anvil.rpc_url, deploy_verifier(anvil.rpc_url, owner, address), account=owner)
    commit = verifier.commit_quorums(context).gas_used
    publish = verifier.publish_quorum(quorum).gas_used
    root = DataRoot(hashlib.sha256(b"bench blob").digest())
    message = compute_attestation_signing_root(chain_id, Epoch(0), QuorumIndex(0), root)
    members = list(dict.fromkeys(slot.validator for slot in quorum.slots))
    checks = {}
    for wanted in signers:
        signing = members[: -(-wanted // slots)]  # whole members, in slot order, until `wanted` slots
        certificate = Certificate(
            root,
            Epoch(0),
            QuorumIndex(0),
            tuple(slot.validator in signing for slot in quorum.slots),
            aggregate_signatures([keys[m].sign(message) for m in signing]),
        )
        data = certificate_to_bytes(certificate)
        verdict = verifier.check_certificate(data)
        if not verdict.valid:
            raise SystemExit(f"setup error: the certificate of {wanted} signers is {verdict.status.name}")
        checks[f"{verdict.signed_slots} of {len(quorum.slots)} slots"] = verifier.check_certificate_gas(data)
    return {
        "preset": preset_name,
        "validators": validators,
        "quorum_slots": len(quorum.slots),
        "members": len(members),
        "check_certificate_gas": checks,
        "commit_quorums_gas": commit,
        "publish_quorum_gas": publish,
        "cast_ballot_gas_median": statistics.median(ballot_gas),
    }


def _funded(web3: Web3, funder: LocalAccount) -> LocalAccount:
    account: LocalAccount = Account.create(secrets.token_hex(8))
    tx = {"from": funder.address, "to": account.address, "value": 10**21}
    web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx))  # type: ignore[arg-type]
    return account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    configure_logging(verbose=False)  # the figures are the output
    with tempfile.TemporaryDirectory() as scratch, start_anvil(Path(scratch), accounts=2) as anvil:
        figures = {
            "devnet: 4 validators of 2 slots": _quorum_case(anvil, "devnet", 4, 2, [6, 8]),
            "mainnet: 64 validators of 1 slot": _quorum_case(anvil, "mainnet", 64, 1, [43, 64]),
            "eigenda_check_da_cert_gas": EIGENDA_CHECK_DA_CERT_GAS,
        }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for name, case in figures.items():
        print(f"{name}: {json.dumps(case)}")


if __name__ == "__main__":
    main()
