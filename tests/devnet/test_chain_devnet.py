"""`das devnet up --chain anvil`: the registry is a contract on a local anvil chain, not a file.
Validators, `das cert verify` and `das light check` reach it by RPC URL and address only; a restart
finds the same chain and registry again (anvil's saved state). Its nodes take paid posts against the
payments contract beside the registry: a sequencer deposits, posts paid blobs, a node settles them
once (`das validator settle`), bad promises are refused by the chain-backed gate, and the sequencer
withdraws after the delay (the same devnet: one heavy start serves it all)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from contracts.toolchain import ChainToolMissing, find_anvil
from tests.devnet.helpers import das, following
from tests.environment import require_or_skip
from tests.validator.payments.keys import sequencer
from validator.api_client import NodeApiClient
from validator.certificate import bytes_to_certificate
from validator.devnet import PASSWORD_FILE, SEQUENCER_KEYSTORE, Devnet
from validator.payments.demo import create_demo_keystore
from validator.payments.payer import compute_raw_data_root, read_node_terms
from validator.payments.promise import (
    PAYMENT_HEADER,
    PaymentDomain,
    PaymentPromise,
    encode_payment_header,
    sign_promise,
)
from validator.registry.chain.accounts import load_account
from validator.registry.chain.payments import DEVNET_PRICE_PER_BYTE_WEI, ChainPayments

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # two devnet starts on anvil, ~2 min

VALIDATORS = 4
FOLLOW_SAMPLED_S = 120.0


def _require_anvil() -> None:
    try:
        find_anvil()
    except ChainToolMissing as missing:
        require_or_skip(str(missing))


def test_a_devnet_on_anvil_certifies_and_light_clients_need_only_the_rpc_url(tmp_path: Path) -> None:
    _require_anvil()
    directory = tmp_path / "devnet"
    try:
        up = das("devnet", "up", "--chain", "anvil", "--validators", str(VALIDATORS), "--dir", str(directory),
                 "--detach", timeout=300)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        assert "light check: AVAILABLE" in up.stdout, up.stdout
        assert not (directory / "registry.sqlite").exists()

        status = das("devnet", "status", "--dir", str(directory), "--json")
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        chain = report["chain"]
        assert chain["kind"] == "anvil" and chain["chain_id"] == 31337 and report["registry"] is None
        assert [node["running"] for node in report["nodes"]] == [True] * VALIDATORS
        assert all(node["peer_id"].startswith("12D3KooW") for node in report["nodes"])
        assert (
            json.loads((directory / "chain.json").read_text())["registry_address"]
            == chain["registry_address"]
        )
        on_chain = ["--rpc", chain["rpc_url"], "--registry-address", chain["registry_address"]]
        payments = ChainPayments(
            chain["rpc_url"], chain["payments_address"], registry_address=chain["registry_address"]
        )  # the network's escrow, deployed beside the registry and bound to it
        assert payments.price_terms().price_per_byte == DEVNET_PRICE_PER_BYTE_WEI

        (certificate_file,) = directory.glob("certificate-*.ssz")
        root = "0x" + bytes_to_certificate(certificate_file.read_bytes()).data_root.hex()
        verify = das("cert", "verify", str(certificate_file), *on_chain, "--json")
        assert verify.returncode == 0 and json.loads(verify.stdout)["valid"], verify.stdout + verify.stderr
        check = das("light", "check", root, *on_chain, "--cert", str(certificate_file), "--json")
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["available"] is True

        demo = ["--eth-keystore", str(directory / SEQUENCER_KEYSTORE),
                "--eth-password-file", str(directory / PASSWORD_FILE)]  # fmt: skip
        _follow_samples_a_new_blob(on_chain, report["nodes"][1]["api_url"], tmp_path, demo)
        _paid_posts_are_settled_once_and_withdrawn_after_the_delay(directory, chain, tmp_path)

        missing_address = das(
            "light", "check", root, "--rpc", chain["rpc_url"], "--cert", str(certificate_file)
        )
        assert missing_address.returncode == 2 and "--registry-address" in missing_address.stderr
        unreachable = das("cert", "verify", str(certificate_file), "--rpc", "http://127.0.0.1:9",
                          "--registry-address", chain["registry_address"])  # fmt: skip
        assert unreachable.returncode == 2 and "no answer from http://127.0.0.1:9" in unreachable.stderr

        down = das("devnet", "down", "--dir", str(directory))
        assert down.returncode == 0
        assert not Devnet(directory).is_alive(int(chain_pid(directory)))
        again = das("devnet", "up", "--dir", str(directory), "--detach", timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "restarting the devnet" in again.stdout
        verify_again = das("cert", "verify", str(certificate_file), *on_chain)
        assert verify_again.returncode == 0, verify_again.stdout + verify_again.stderr
    finally:
        das("devnet", "down", "--dir", str(directory))


def _follow_samples_a_new_blob(on_chain: list[str], api_url: str, tmp_path: Path, payer: list[str]) -> None:
    """`das light follow --rpc ...` samples a blob certified while it follows (gossip validated against
    the contract's epoch contexts) and serves its result (the blob paid by `payer`'s options)."""
    with following(on_chain, tmp_path / "results.sqlite") as base:
        blob = tmp_path / "followed.bin"
        blob.write_bytes(random.Random(15).randbytes(100_000))
        posted = das("blob", "post", str(blob), "--node", api_url, "--wait", "--json", *payer)
        assert posted.returncode == 0, posted.stdout + posted.stderr
        root = json.loads(posted.stdout)["data_root"]
        assert json.loads(posted.stdout)["payment"]["account"] == ANVIL_DEMO_ACCOUNT
        deadline = time.monotonic() + FOLLOW_SAMPLED_S
        while True:  # 404 until the certificate arrives, then 200 "queued" / "sampling", then the verdict
            answer = httpx.get(f"{base}/v1/blobs/{root}", timeout=10)
            if answer.status_code == 200 and answer.json()["status"] not in ("queued", "sampling"):
                break
            assert time.monotonic() < deadline, f"the follower never judged the blob: {answer.text}"
            time.sleep(0.5)
        assert answer.json()["status"] == "available", answer.json()


def chain_pid(directory: Path) -> int:
    """The pid the devnet recorded for its anvil."""
    return int(json.loads((directory / "chain.json").read_text())["pid"])


ANVIL_DEMO_ACCOUNT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEPOSIT_WEI = 10**15
PASSWORD = "bob's devnet password"  # noqa: S105 - a throwaway test key's
WAIT_S = 120.0


def _paid_posts_are_settled_once_and_withdrawn_after_the_delay(
    directory: Path, chain: dict[str, Any], tmp_path: Path
) -> None:
    """A fresh sequencer deposits (`das sequencer deposit`), posts two paid blobs to node 1 (certified);
    the chain-backed gate refuses a replayed promise, one for another root, one signed by another key
    and one beyond the escrow, storing none of their blobs; `das validator settle` pays the node
    what it holds, once; a withdrawal is refused before the delay and taken after it."""
    rpc, payments_address = str(chain["rpc_url"]), str(chain["payments_address"])
    devnet = Devnet(directory)
    config = directory / "node-1.toml"
    assert f'payments_address = "{payments_address}"' in config.read_text()
    # Only `das validator settle` settles node 1 here: no automatic round races it.
    devnet.stop_node(1)
    config.write_text(config.read_text() + "settle_interval_s = 3600.0\n")
    devnet.start_node(1)
    running = config.with_suffix(".run.toml")  # the config it runs with (its encoder_workers)
    api_url = devnet.wait_until_connected(list(range(VALIDATORS)), timeout=WAIT_S)[1]
    payments = ChainPayments(rpc, payments_address, registry_address=str(chain["registry_address"]))
    web3 = Web3(Web3.HTTPProvider(rpc))

    keystore, password_file = tmp_path / "bob.json", tmp_path / "bob-password.txt"
    password_file.write_text(PASSWORD)
    bob = create_demo_keystore(keystore, PASSWORD, deterministic=False)
    _rpc(rpc, "anvil_setBalance", [bob, hex(10**18)])  # gas money
    paying = ["--rpc", rpc, "--registry-address", str(chain["registry_address"]),
              "--payments-address", payments_address]  # fmt: skip
    account = ["--eth-keystore", str(keystore), "--eth-password-file", str(password_file)]
    deposited = das("sequencer", "deposit", str(DEPOSIT_WEI), *paying, *account, "--json")
    assert deposited.returncode == 0, deposited.stdout + deposited.stderr
    assert payments.escrow_of(bob).balance == DEPOSIT_WEI

    cumulative = 0
    for seed in (1, 2):
        data = tmp_path / f"paid-{seed}.bin"
        data.write_bytes(random.Random(seed).randbytes(50_000 * seed))
        posted = das("blob", "post", str(data), "--node", api_url, "--wait", "--json", *account)
        assert posted.returncode == 0, posted.stdout + posted.stderr
        answer = json.loads(posted.stdout)
        assert answer["status"] == "certified", answer
        payment = answer["payment"]
        assert (payment["account"], int(payment["cumulative"])) == (
            bob,
            cumulative + int(payment["increment"]),
        )
        cumulative = int(payment["cumulative"])
    node = str(payment["node"])
    terms = payments.price_terms()
    assert cumulative == 2 * terms.min_billed_bytes * terms.price_per_byte  # both blobs below the minimum

    key = bytes(load_account(keystore, PASSWORD).key)
    cumulative = _bad_promises_are_refused_and_nothing_is_stored(
        api_url, payments.payment_domain(), node, bob, key, cumulative
    )

    held_demo = _held(api_url, ANVIL_DEMO_ACCOUNT)
    before = (payments.settled(bob, node), payments.settled(ANVIL_DEMO_ACCOUNT, node))
    assert before[0] == 0
    node_balance = web3.eth.get_balance(Web3.to_checksum_address(node))
    settle = das("validator", "settle", "--config", str(running), "--json", timeout=WAIT_S)
    assert settle.returncode == 0, settle.stdout + settle.stderr
    settled = json.loads(settle.stdout)
    assert (
        payments.settled(bob, node) == cumulative and payments.settled(ANVIL_DEMO_ACCOUNT, node) == held_demo
    )
    assert int(settled["paid"]) == cumulative + held_demo - before[1] > 0
    gas = sum(_gas_cost(web3, transaction) for transaction in settled["transactions"])
    assert web3.eth.get_balance(Web3.to_checksum_address(node)) - node_balance == int(settled["paid"]) - gas
    assert payments.escrow_of(bob).balance == DEPOSIT_WEI - cumulative
    again = das("validator", "settle", "--config", str(running), "--json", timeout=WAIT_S)
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["paid"] == "0" and payments.settled(bob, node) == cumulative

    leaving = DEPOSIT_WEI - cumulative
    asked = das("sequencer", "withdraw", "--request", str(leaving), *paying, *account, "--json")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    early = das("sequencer", "withdraw", *paying, *account)
    assert early.returncode == 1 and "not yet" in early.stderr, early.stdout + early.stderr
    _rpc(rpc, "evm_increaseTime", [payments.withdrawal_delay() + 1])
    _rpc(rpc, "evm_mine", [])
    took = das("sequencer", "withdraw", *paying, *account, "--json")
    assert took.returncode == 0, took.stdout + took.stderr
    assert json.loads(took.stdout)["amount"] == str(leaving)
    assert payments.escrow_of(bob).balance == 0
    devnet.stop_node(1)  # this process started it: stop and reap it here (`das devnet up` restarts it)


def _bad_promises_are_refused_and_nothing_is_stored(
    api_url: str, domain: PaymentDomain, node: str, account: str, key: bytes, cumulative: int
) -> int:
    """Hand-signed promises against a node whose escrow is the payments contract; returns the
    cumulative amount the node then holds from `account`."""
    terms = read_node_terms(NodeApiClient(api_url), account).terms
    assert terms is not None
    cost = terms.min_billed_bytes * terms.price_per_byte  # each blob here is below the minimum

    def promise(
        data: bytes, amount: int, *, root_of: bytes | None = None, signer: bytes = key, ttl_s: int = 3600
    ) -> str:
        billed = max(len(data), terms.min_billed_bytes)
        signed = sign_promise(
            domain,
            PaymentPromise(account, node, compute_raw_data_root(root_of or data), billed, amount,
                           int(time.time()) + ttl_s),
            signer,
        )  # fmt: skip
        return encode_payment_header(signed)

    def post(data: bytes, header: str) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/octet-stream", PAYMENT_HEADER: header}
        answer = httpx.post(f"{api_url}/v1/blobs", content=data, headers=headers, timeout=60)
        body: dict[str, Any] = answer.json()
        return answer.status_code, body

    def refused(data: bytes, header: str, status: int, code: str) -> None:
        answered, body = post(data, header)
        assert (answered, body.get("error", {}).get("code")) == (status, code), body
        root = "0x" + compute_raw_data_root(data).hex()
        assert httpx.get(f"{api_url}/v1/blobs/{root}", timeout=10).status_code == 404, code
        assert _held(api_url, account) == cumulative, code

    first, second = (random.Random(seed).randbytes(20_000) for seed in (31, 32))
    good = promise(first, cumulative + cost)
    answered, body = post(first, good)
    assert answered == 202, body
    cumulative += cost
    assert post(first, good)[0] == 202  # the held promise again with its blob: a retry, charged once
    assert _held(api_url, account) == cumulative
    refused(second, good, 402, "promise_root_mismatch")  # ... and with another blob it pays for nothing
    refused(second, promise(second, cumulative), 402, "promise_replayed")
    refused(second, promise(second, cumulative + cost, root_of=first), 402, "promise_root_mismatch")
    refused(second, promise(second, cumulative + cost - 1), 402, "insufficient_increment")
    refused(second, promise(second, cumulative + cost, ttl_s=-60), 402, "promise_expired")
    forged = sequencer(8).key
    refused(second, promise(second, cumulative + cost, signer=forged), 401, "bad_payment_signature")
    refused(second, promise(second, cumulative + DEPOSIT_WEI), 402, "insufficient_escrow")
    return cumulative


def _held(api_url: str, account: str) -> int:
    """The cumulative amount the node holds from `account` (`GET /v1/payments`)."""
    return read_node_terms(NodeApiClient(api_url), account).held


def _gas_cost(web3: Web3, transaction: str) -> int:
    receipt = web3.eth.get_transaction_receipt(transaction)  # type: ignore[arg-type]
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def _rpc(rpc_url: str, method: str, params: list[Any]) -> Any:
    """One JSON-RPC call to the devnet's anvil (its test methods: balances, the clock)."""
    answer = httpx.post(
        rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, timeout=10
    )
    body = answer.json()
    assert "error" not in body, body
    return body["result"]
