"""A sequencer's escrow in the payments contract, as it types it: `das sequencer deposit`, `withdraw
--request`, `withdraw` and `balance` with `--rpc URL --registry-address A --payments-address P
--eth-keystore E` on a real anvil; a withdrawal before the delay exits 1 naming when, and nothing
moves."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from tests.devnet.helpers import das
from validator.payments.promise import PriceTerms
from validator.registry.chain.accounts import create_account_keystore
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.backend import deploy_registry
from validator.registry.chain.payments import deploy_payments
from validator.types import Seed

from .registry_network import advance

pytestmark = pytest.mark.xdist_group("chain")

DELAY_S = 600


def test_a_sequencer_deposits_asks_to_withdraw_and_withdraws_after_the_delay_by_rpc(
    anvil: Anvil, web3: Web3, tmp_path: Path
) -> None:
    deployer = Account.from_key(anvil.private_keys[0])
    now = int(web3.eth.get_block("latest")["timestamp"])
    registry = deploy_registry(
        anvil.rpc_url, deployer, genesis_time=now - 10, epoch_seconds=3600,
        genesis_seed=Seed(hashlib.sha256(b"sequencer cli").digest()), preset="devnet",
    )  # fmt: skip
    payments = deploy_payments(
        anvil.rpc_url,
        deployer,
        registry_address=registry,
        terms=PriceTerms(7, 1024),
        withdrawal_delay=DELAY_S,
    )
    keystore, password = tmp_path / "sequencer.json", tmp_path / "password.txt"
    password.write_text("sequencer password")
    account = create_account_keystore(keystore, "sequencer password", light_kdf=True).address
    funding = {"from": web3.eth.accounts[3], "to": account, "value": 10 * 10**18}
    web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(funding))  # type: ignore[arg-type]
    chain = ["--rpc", anvil.rpc_url, "--registry-address", registry, "--payments-address", payments]
    signer = [*chain, "--eth-keystore", str(keystore), "--eth-password-file", str(password), "--json"]

    deposited = das("sequencer", "deposit", "2ether", *signer)
    assert deposited.returncode == 0, deposited.stderr
    report = json.loads(deposited.stdout)
    assert (report["backend"], report["account"], report["balance"]) == ("chain", account, str(2 * 10**18))
    assert (report["price_per_byte"], report["min_billed_bytes"], report["withdrawal_delay_s"]) == (
        "7",
        1024,
        DELAY_S,
    )
    assert report["transaction"].startswith("0x") and len(report["transaction"]) == 66
    requested = das("sequencer", "withdraw", "--request", "0.5ether", *signer)
    assert requested.returncode == 0, requested.stderr
    pending = json.loads(requested.stdout)
    assert (pending["pending_withdrawal"], pending["covered"]) == (str(5 * 10**17), str(15 * 10**17))
    early = das("sequencer", "withdraw", *signer)
    assert early.returncode == 1 and "not yet" in early.stderr and "WithdrawalNotReady" in early.stderr
    too_much = das("sequencer", "withdraw", "--request", "3ether", *signer)
    assert too_much.returncode == 2 and "WithdrawalExceedsBalance" in too_much.stderr, too_much.stderr

    before = web3.eth.get_balance(account)
    advance(web3, DELAY_S + 1)
    withdrawn = das("sequencer", "withdraw", *signer)
    assert withdrawn.returncode == 0, withdrawn.stderr
    after = json.loads(withdrawn.stdout)
    assert (after["action"], after["amount"], after["balance"]) == (
        "withdraw",
        str(5 * 10**17),
        str(15 * 10**17),
    )
    assert web3.eth.get_balance(account) > before  # the ether came back, less gas
    balance = das("sequencer", "balance", *chain, "--account", account.lower(), "--json")
    assert balance.returncode == 0, balance.stderr
    assert json.loads(balance.stdout)["balance"] == str(15 * 10**17)
    missing = das(
        "sequencer", "balance", "--rpc", anvil.rpc_url, "--registry-address", registry, "--account", account
    )
    assert missing.returncode == 2 and "--payments-address" in missing.stderr
    stranger = Account.create().address
    other = das(
        "sequencer", "balance", "--rpc", anvil.rpc_url, "--registry-address", stranger,
        "--payments-address", payments, "--account", account,
    )  # fmt: skip
    assert other.returncode == 2 and "not of" in other.stderr, other.stderr  # another registry's escrow
