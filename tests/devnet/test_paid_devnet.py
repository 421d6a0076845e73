"""Paid dispersal on a real daemon (`das validator run`, payments on, the devnet's embedded escrow):
a paid post is acknowledged, the node is killed with SIGKILL, and after its restart it still holds
the promise (a replay is refused), and `das validator settle` is paid it once."""

from __future__ import annotations

import json
import random
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from da import CkzgBackend, compute_blob_header, compute_data_root
from tests.devnet.helpers import api, das, http
from tests.validator.payments.keys import sequencer
from validator.devnet import Devnet
from validator.payments.promise import PAYMENT_HEADER, PaymentDomain, PaymentPromise, encode_payment_header
from validator.payments.sqlite_escrow import SqliteEscrow

pytestmark = pytest.mark.slow  # its own one-validator devnet, started twice


def _paid_post(url: str, data: bytes, header: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url + "/v1/blobs",
        data=data,
        method="POST",
        headers={"Content-Type": "application/octet-stream", PAYMENT_HEADER: header},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_paid_post_survives_sigkill_and_is_settled_once(tmp_path: Path, kzg: CkzgBackend) -> None:
    network = Devnet(tmp_path / "net")
    network.create(1, 3600.0)  # payments on, as `das devnet up`
    try:
        network.start_node(0)
        network.wait_until_connected([0])
        status, body = http("GET", api(network, 0) + "/v1/payments")
        terms = json.loads(body)
        assert status == 200 and terms["enabled"], terms
        alice = sequencer(1)
        with SqliteEscrow(network.registry_path) as escrow:
            escrow.account(alice.address).deposit(10**15)
            assert PaymentDomain(terms["chain_id"], terms["verifying_contract"]) == escrow.payment_domain()
            domain = escrow.payment_domain()
        data = random.Random(31).randbytes(50_000)
        root = compute_data_root(compute_blob_header(data, kzg))
        cost = 50_000 * int(terms["price_per_byte"])
        header = encode_payment_header(
            alice.sign(domain, PaymentPromise(alice.address, terms["payee"], root, 50_000, cost, 2**40))
        )
        assert _paid_post(api(network, 0), random.Random(32).randbytes(50_000), "")[0] == 400  # empty header
        status, answer = _paid_post(api(network, 0), data, header)
        assert status == 202, answer

        network.stop_node(0, signal.SIGKILL)  # right after the acknowledgement
        network.start_node(0)
        network.wait_until_connected([0])
        url = api(network, 0)
        status, body = http("GET", f"{url}/v1/payments?account={alice.address}")
        assert json.loads(body)["held"] == str(cost)
        # The same promise with its blob again (a sequencer that lost the 202): the blob's record,
        # nothing charged; with another blob it pays for nothing.
        status, answer = _paid_post(url, data, header)
        assert (status, answer["data_root"]) == (202, "0x" + root.hex()), answer
        status, answer = _paid_post(url, random.Random(33).randbytes(50_000), header)
        assert (status, answer["error"]["code"]) == (402, "promise_root_mismatch")  # type: ignore[index]
        status, body = http("GET", f"{url}/v1/payments?account={alice.address}")
        assert json.loads(body)["held"] == str(cost)

        config = str(network.directory / "node-0.run.toml")
        settled = das("validator", "settle", "--config", config, "--json")
        assert settled.returncode == 0, settled.stdout + settled.stderr
        assert json.loads(settled.stdout)["paid"] == str(cost)
        again = das("validator", "settle", "--config", config, "--json")
        assert json.loads(again.stdout)["paid"] == "0"
        with SqliteEscrow(network.registry_path) as escrow:
            assert escrow.escrow_of(alice.address).balance == 10**15 - cost
            assert escrow.settled(alice.address, terms["payee"]) == cost
    finally:
        network.stop_all()
