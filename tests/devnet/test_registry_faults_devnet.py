"""A chain devnet whose validators reach anvil through a faulty JSON-RPC proxy (written here): while
the proxy answers every request with HTTP 429, HTTP 503, a JSON-RPC error or a dropped connection
(chosen at random, seeded), every validator keeps running and reports `registry: stale` in
`GET /v1/health` (and `tessera_registry_stale 1`); once the faults stop, each reports `ok` again and
a posted blob is certified (specs/validator.md, Restarts and a failing registry). The faults last
longer than any bounded retry of the chain backend, so the daemon's degrade is what is tested."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from contracts.toolchain import ChainToolMissing, find_anvil
from tests.devnet.helpers import api, http, metric, wait_for_status
from tests.environment import require_or_skip
from validator.devnet import Devnet

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # a chain devnet of its own, ~3 min

VALIDATORS = 4
FAULT_SECONDS = 30.0
RECOVERY_SECONDS = 60.0
FAULTS = ("429", "503", "jsonrpc_error", "drop")


class FaultyRpcProxy:
    """An HTTP proxy in front of one JSON-RPC endpoint that, while `faulty`, answers every request
    with a fault drawn from `FAULTS` by a seeded generator, and otherwise forwards it unchanged."""

    def __init__(self, upstream: str, seed: int) -> None:
        self.upstream = upstream
        self.faulty = False
        self.counts: dict[str, int] = dict.fromkeys((*FAULTS, "forwarded"), 0)
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fault = proxy.draw()
                if fault == "drop":
                    self.close_connection = True  # no answer at all: the client sees the socket close
                    return
                if fault in {"429", "503"}:
                    self._answer(int(fault), b'{"error": "proxy fault"}')
                    return
                if fault == "jsonrpc_error":
                    self._answer(200, json.dumps(_rpc_errors(json.loads(body))).encode())
                    return
                request = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        self._answer(response.status, response.read())
                except urllib.error.HTTPError as error:
                    self._answer(error.code, error.read())

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="rpc-proxy", daemon=True)

    def draw(self) -> str:
        """The fault for the next request, or "forwarded"."""
        with self._lock:
            outcome = self._random.choice(FAULTS) if self.faulty else "forwarded"
            self.counts[outcome] += 1
            return outcome

    def __enter__(self) -> FaultyRpcProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _rpc_errors(request: Any) -> Any:
    """A JSON-RPC error answer (one per call of a batch) with the request's ids."""

    def error(call: Any) -> dict[str, Any]:
        ident = call.get("id") if isinstance(call, dict) else None
        return {"jsonrpc": "2.0", "id": ident, "error": {"code": -32005, "message": "limit exceeded"}}

    return [error(call) for call in request] if isinstance(request, list) else error(request)


@pytest.fixture
def faulty_devnet(tmp_path: Path) -> Iterator[tuple[Devnet, FaultyRpcProxy]]:
    """A chain devnet whose validators' `rpc_url` is the proxy (healthy at first), all connected."""
    try:
        find_anvil()
    except ChainToolMissing as missing:
        require_or_skip(str(missing))
    network = Devnet(tmp_path / "devnet")
    try:
        # One long epoch: faults never span a ballot window; a private network: posts are unpaid.
        network.create(VALIDATORS, 3600.0, chain="anvil", payments=False)
        chain = network.chain_info()
        assert chain is not None
        with FaultyRpcProxy(str(chain["rpc_url"]), seed=32) as proxy:
            for index in range(VALIDATORS):
                config = network.directory / f"node-{index}.toml"
                config.write_text(config.read_text().replace(str(chain["rpc_url"]), proxy.url))
                network.start_node(index)
            network.wait_until_connected(list(range(VALIDATORS)))
            yield network, proxy
    finally:
        network.stop_all()


def _health(devnet: Devnet, index: int) -> dict[str, Any]:
    code, body = http("GET", api(devnet, index) + "/v1/health")
    assert code == 200, body
    answer: dict[str, Any] = json.loads(body)
    return answer


def test_validators_degrade_while_the_rpc_fails_and_certify_once_it_answers(
    faulty_devnet: tuple[Devnet, FaultyRpcProxy],
) -> None:
    devnet, proxy = faulty_devnet
    assert all(_health(devnet, i)["registry"] == "ok" for i in range(VALIDATORS))

    proxy.faulty = True
    ends = time.monotonic() + FAULT_SECONDS
    seen_stale: set[int] = set()
    while time.monotonic() < ends:
        assert devnet.running() == list(range(VALIDATORS)), "a validator exited while the RPC failed"
        for index in range(VALIDATORS):
            health = _health(devnet, index)  # the API keeps answering
            if health["registry"] == "stale":
                seen_stale.add(index)
                assert health["registry_stale_seconds"] >= 0 and health["registry_error"]
        time.sleep(1.0)
    assert seen_stale == set(range(VALIDATORS)), f"validators that never reported stale: {seen_stale}"
    assert metric(devnet, 1, "tessera_registry_stale") == 1.0
    assert all(proxy.counts[fault] > 0 for fault in FAULTS), proxy.counts

    proxy.faulty = False
    deadline = time.monotonic() + RECOVERY_SECONDS
    while not all(_health(devnet, i)["registry"] == "ok" for i in range(VALIDATORS)):
        assert time.monotonic() < deadline, [_health(devnet, i) for i in range(VALIDATORS)]
        time.sleep(1.0)
    assert devnet.running() == list(range(VALIDATORS))
    assert metric(devnet, 1, "tessera_registry_stale") == 0.0

    data = random.Random(3203).randbytes(200_000)
    code, body = http("POST", api(devnet, 2) + "/v1/blobs", data)
    assert code == 202, body
    root = json.loads(body)["data_root"]
    assert wait_for_status(devnet, 2, root, {"certified", "failed"}, timeout=120)["status"] == "certified"
