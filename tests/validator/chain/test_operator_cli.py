"""Operators on a chain registry, as they would type it: `das validator account`, `register`,
`deposit`, `withdraw` and `claim` with `--rpc URL --registry-address A --eth-keystore E`; each prints
the epoch its change takes effect and its transaction, and a refused one exits 2 naming the error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from contracts.toolchain import load_contract
from tests.devnet.helpers import das
from validator.keystore import get_keystore_pubkey, read_keystore
from validator.presets import DEVNET
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.backend import ChainRegistry, deploy_registry
from validator.types import Seed

pytestmark = pytest.mark.xdist_group("chain")


def test_an_operator_registers_deposits_withdraws_and_claims_by_rpc(
    anvil: Anvil, web3: Web3, tmp_path: Path
) -> None:
    now = int(web3.eth.get_block("latest")["timestamp"])
    address = deploy_registry(
        anvil.rpc_url,
        Account.from_key(anvil.private_keys[0]),
        genesis_time=now - 10,  # genesis has passed: changes count three epochs later
        epoch_seconds=3600,
        genesis_seed=Seed(hashlib.sha256(b"operator test").digest()),
        preset="devnet",
    )
    password = tmp_path / "password.txt"
    password.write_text("operator password\n")
    secrets_ = ["--password-file", str(password)]
    keygen = das("validator", "keygen", "--out", str(tmp_path / "bls.json"), "--light-kdf", *secrets_)
    assert keygen.returncode == 0, keygen.stderr
    made = das(
        "validator", "account", "--out", str(tmp_path / "eth.json"), "--light-kdf", *secrets_, "--json"
    )
    assert made.returncode == 0, made.stderr
    account = json.loads(made.stdout)["address"]
    funding = {"from": web3.eth.accounts[2], "to": account, "value": 100 * 10**18}
    web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(funding))  # type: ignore[arg-type]

    chain = ["--rpc", anvil.rpc_url, "--registry-address", address]
    signer = [*chain, "--eth-keystore", str(tmp_path / "eth.json"), "--eth-password-file", str(password)]
    bls = ["--keystore", str(tmp_path / "bls.json"), *secrets_]
    stake = str(DEVNET.STAKE_PER_SLOT)

    registered = das("validator", "register", *bls, *signer, "--amount", stake, "--peer-id", "p1", "--json")
    assert registered.returncode == 0, registered.stderr
    receipt = json.loads(registered.stdout)
    assert (receipt["validator"], receipt["current_epoch"], receipt["effective_epoch"]) == (0, 0, 3)
    assert receipt["transaction"].startswith("0x") and len(receipt["transaction"]) == 66
    text = das("validator", "deposit", *bls, *signer, "--amount", stake)
    assert text.returncode == 0, text.stderr
    assert "effective   epoch 3 (now epoch 0)" in text.stdout and "transaction 0x" in text.stdout

    too_much = das("validator", "withdraw", *bls, *signer, "--amount", str(3 * DEVNET.STAKE_PER_SLOT))
    assert too_much.returncode == 2 and "WithdrawalExceedsStake" in too_much.stderr, too_much.stderr
    withdrawn = das("validator", "withdraw", *bls, *signer, "--amount", stake, "--json")
    assert withdrawn.returncode == 0 and json.loads(withdrawn.stdout)["effective_epoch"] == 3
    early = das("validator", "claim", *signer)
    assert early.returncode == 2 and "NothingToClaim" in early.stderr, early.stderr
    again = das("validator", "register", *bls, *signer, "--amount", stake)
    assert again.returncode == 2 and "already validator 0" in again.stderr
    unsigned = das("validator", "deposit", *bls, *chain, "--amount", stake)
    assert unsigned.returncode == 2 and "--eth-keystore" in unsigned.stderr

    pubkey = get_keystore_pubkey(read_keystore(tmp_path / "bls.json"))
    assert ChainRegistry(anvil.rpc_url, address).find_validator(pubkey) == 0
    contract = web3.eth.contract(address=address, abi=load_contract("TesseraRegistry").abi)
    owner, balance = contract.functions.validator(0).call()
    assert (owner, balance) == (account, DEVNET.STAKE_PER_SLOT)  # 2 deposited, 1 withdrawn
