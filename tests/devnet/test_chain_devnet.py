"""`das devnet up --chain anvil`: the registry is a contract on a local anvil chain, not a file.
Validators, `das cert verify` and `das light check` reach it by RPC URL and address only; a restart
finds the same chain and registry again (anvil's saved state)."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import httpx
import pytest

from contracts.toolchain import ChainToolMissing, find_anvil
from tests.devnet.helpers import das, following
from tests.environment import require_or_skip
from validator.certificate import bytes_to_certificate
from validator.devnet import Devnet
from validator.registry.chain.payments import DEVNET_PRICE_PER_BYTE_WEI, ChainPayments

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # two devnet starts on anvil, ~90 s

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

        _follow_samples_a_new_blob(on_chain, report["nodes"][1]["api_url"], tmp_path)

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


def _follow_samples_a_new_blob(on_chain: list[str], api_url: str, tmp_path: Path) -> None:
    """`das light follow --rpc ...` samples a blob certified while it follows (gossip validated against
    the contract's epoch contexts) and serves its result."""
    with following(on_chain, tmp_path / "results.sqlite") as base:
        blob = tmp_path / "followed.bin"
        blob.write_bytes(random.Random(15).randbytes(100_000))
        posted = das("blob", "post", str(blob), "--node", api_url, "--wait", "--json")
        assert posted.returncode == 0, posted.stdout + posted.stderr
        root = json.loads(posted.stdout)["data_root"]
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
