"""The sequencer's side of paid dispersal against real validators: `das sequencer deposit` into the
devnet's escrow, `das blob post --eth-keystore` paying a node, a client killed after its counter
advanced and before the node got the promise (the next run pays the right cumulative), and two
sequencer processes paying one node at once (never the same cumulative)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.devnet.helpers import DAS_COMMAND, api, das, http
from validator.devnet import Devnet
from validator.payments.counters import CounterKey, PromiseCounters, default_counters_path
from validator.registry.chain.accounts import create_account_keystore

pytestmark = pytest.mark.xdist_group("devnet")


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A one-validator devnet with payments on, as `das devnet up` makes it (the package's shared
    devnet is a private network: payments off)."""
    network = Devnet(tmp_path_factory.mktemp("paid-devnet"))
    network.create(1, 3600.0, payments=True)
    try:
        network.start_node(0)
        network.wait_until_connected([0])
        yield network
    finally:
        network.stop_all()


PASSWORD = "paid posts"  # noqa: S105 - a throwaway test keystore's
BLOB_BYTES = 6_000


class _HoldingProxy:
    """A TCP proxy to a node on 127.0.0.1: every connection is forwarded, except that while `hold`
    is set one that starts with `POST` is read and kept, never forwarded (`held` is set then)."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.hold = threading.Event()
        self.held = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._connection, args=(client,), daemon=True).start()

    def _connection(self, client: socket.socket) -> None:
        with client:
            first = client.recv(4, socket.MSG_PEEK)
            if self.hold.is_set() and first == b"POST":
                self.held.set()
                while client.recv(65536):  # until the poster is gone
                    pass
                return
            with socket.create_connection(self.upstream) as node:
                pump = threading.Thread(target=_pump, args=(node, client), daemon=True)
                pump.start()
                _pump(client, node)
                pump.join(timeout=30)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
        target.shutdown(socket.SHUT_WR)
    except OSError:
        return


@contextmanager
def _proxy(url: str) -> Iterator[tuple[str, _HoldingProxy]]:
    parsed = urlparse(url)
    proxy = _HoldingProxy((parsed.hostname or "127.0.0.1", int(parsed.port or 80)))
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.port}", proxy
    finally:
        proxy.listener.close()
        thread.join(timeout=5)


def _sequencer(devnet: Devnet, tmp_path: Path) -> tuple[Path, str]:
    """A new sequencer account with 0.01 ether in the devnet's escrow (through `das sequencer`)."""
    keystore = tmp_path / "sequencer.json"
    account = str(create_account_keystore(keystore, PASSWORD, light_kdf=True).address)
    (tmp_path / "password.txt").write_text(PASSWORD)
    deposited = das(
        "sequencer", "deposit", "0.01ether", "--registry", str(devnet.registry_path),
        "--eth-keystore", str(keystore), "--eth-password-file", str(tmp_path / "password.txt"), "--json",
    )  # fmt: skip
    assert deposited.returncode == 0, deposited.stderr
    assert json.loads(deposited.stdout)["covered"] == str(10**16)
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * (BLOB_BYTES // 256) + b"x" * (BLOB_BYTES % 256))
    return keystore, account


def _post_args(url: str, keystore: Path, blob: str = "blob.bin") -> list[str]:
    return [
        "blob", "post", str(keystore.parent / blob), "--node", url, "--json", "--encoder-workers", "1",
        "--eth-keystore", str(keystore), "--eth-password-file", str(keystore.parent / "password.txt"),
    ]  # fmt: skip


def _terms(url: str, account: str) -> dict[str, object]:
    status, body = http("GET", f"{url}/v1/payments?account={account}")
    assert status == 200, body
    return dict(json.loads(body))


def test_a_client_killed_before_the_node_got_its_promise_is_paid_on_top_by_the_next_run(
    devnet: Devnet, tmp_path: Path
) -> None:
    keystore, account = _sequencer(devnet, tmp_path)
    url = api(devnet, 0)
    terms = _terms(url, account)
    assert terms["enabled"] is True and terms["held"] == "0"
    cost = int(str(terms["price_per_byte"])) * max(BLOB_BYTES, int(str(terms["min_billed_bytes"])))
    key = CounterKey(
        account, str(terms["payee"]), int(str(terms["chain_id"])), str(terms["verifying_contract"])
    )
    with _proxy(url) as (proxy_url, proxy):
        proxy.hold.set()
        client = subprocess.Popen(
            [*DAS_COMMAND, *_post_args(proxy_url, keystore)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proxy.held.wait(timeout=120), "the post never left the client"
            with PromiseCounters(default_counters_path(keystore)) as counters:
                assert counters.get(key) == cost  # on disk before the promise was sent
            client.send_signal(signal.SIGKILL)
            assert client.wait(timeout=30) == -signal.SIGKILL
        finally:
            if client.poll() is None:
                client.kill()
                client.wait(timeout=30)
    assert _terms(url, account)["held"] == "0"  # the node never got the lost promise
    again = das(*_post_args(url, keystore))
    assert again.returncode == 0, again.stderr
    payment = json.loads(again.stdout)["payment"]
    assert payment["cumulative"] == str(2 * cost) and payment["increment"] == str(2 * cost)
    assert _terms(url, account)["held"] == str(2 * cost)  # the lost blob's cost, once, and no more
    (tmp_path / "other.bin").write_bytes(b"another blob" * 500)
    third = das(*_post_args(url, keystore, "other.bin"))
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout)["payment"]["increment"] == str(cost)


def test_two_sequencer_processes_paying_one_node_never_share_a_cumulative(
    devnet: Devnet, tmp_path: Path
) -> None:
    keystore, account = _sequencer(devnet, tmp_path)
    for number in range(4):
        (tmp_path / f"blob-{number}.bin").write_bytes(f"concurrent blob {number}".encode() * 300)
    url = api(devnet, 0)
    cumulatives: list[int] = []
    for round_ in range(2):
        processes = [
            subprocess.Popen(
                [*DAS_COMMAND, *_post_args(url, keystore, f"blob-{2 * round_ + number}.bin")],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for number in range(2)
        ]
        for process in processes:
            out, err = process.communicate(timeout=180)
            assert process.returncode == 0, err
            cumulatives.append(int(json.loads(out)["payment"]["cumulative"]))
    assert len(set(cumulatives)) == 4
    assert _terms(url, account)["held"] == str(max(cumulatives))


def test_a_blob_the_node_already_has_costs_nothing(devnet: Devnet, tmp_path: Path) -> None:
    """The node answers a blob it has with its status and takes no promise: the value is given back."""
    keystore, account = _sequencer(devnet, tmp_path)
    url = api(devnet, 0)
    first = das(*_post_args(url, keystore))
    assert first.returncode == 0, first.stderr
    cumulative = json.loads(first.stdout)["payment"]["cumulative"]
    again = das(*_post_args(url, keystore))
    assert again.returncode == 0, again.stderr
    payment = json.loads(again.stdout)["payment"]
    assert payment["charged"] is False and payment["increment"] == "0"
    assert payment["cumulative"] == cumulative == _terms(url, account)["held"]


def test_the_altda_server_pays_for_its_puts_from_the_rollups_account(devnet: Devnet, tmp_path: Path) -> None:
    """`das altda serve --eth-keystore` pays the node it posts to, so a paid network's rollup needs no
    code; without an account its put finds no validator that takes it (503) and nothing is held."""
    from tests.devnet.test_altda_devnet import altda_server  # noqa: PLC0415 - its server runner

    keystore, account = _sequencer(devnet, tmp_path)
    url = api(devnet, 0)
    payload = b"rollup batch " * 300
    with altda_server(devnet, [0], "--certify-timeout", "4") as unpaid:
        refused = httpx.post(f"{unpaid}/put", content=payload + b"unpaid", timeout=60)
    assert refused.status_code == 503, refused.text
    assert _terms(url, account)["held"] == "0"
    options = ("--eth-keystore", str(keystore), "--eth-password-file", str(tmp_path / "password.txt"))
    with altda_server(devnet, [0], *options) as server:
        put = httpx.post(f"{server}/put", content=payload, timeout=150)
        assert put.status_code == 200, put.text
        fetched = httpx.get(f"{server}/get/0x{put.content.hex()}", timeout=60)
    assert fetched.status_code == 200 and fetched.content == payload
    terms = _terms(url, account)
    held = int(str(terms["held"]))
    assert held > 0
    key = CounterKey(
        account, str(terms["payee"]), int(str(terms["chain_id"])), str(terms["verifying_contract"])
    )
    with PromiseCounters(default_counters_path(keystore)) as counters:
        assert counters.get(key) == held  # the server's counter is what the node holds
