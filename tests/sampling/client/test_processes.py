"""`das light` as separate processes, exactly as a user starts them: a cold check, follow with Ctrl-C,
and follow killed with SIGKILL mid-round and started again."""

from __future__ import annotations

import dataclasses
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from network.service import NetworkService, open_service
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from sampling.store import ResultStore
from tests.sampling.client.conftest import CHAIN_ID, FAST, Mode, ThreadedNet
from validator.registry.sqlite import SqliteRegistry

NetFactory = Callable[..., ThreadedNet]
DAS = [sys.executable, "-m", "cli.main"]
VALIDATORS_NETWORK = dataclasses.replace(FAST, network_name=f"tessera-{CHAIN_ID}")
"""Validators name their gossip topics' network after the chain (what `follow` assumes by default)."""


NOT_FOR_A_CHECK = (
    "sampling.client.follow",
    "sampling.client.follow_command",
    "sampling.client.status_http",
    "sampling.store",
    "sampling.backlog",
    "validator.daemon",
    "validator.openapi",
    "da.encoding",
    "da.pool",
    "hypercorn",
    "aiohttp",
    "web3",
    "numpy",
)
"""What `das light check` does not use: the follower, the validator, the encoder and their libraries."""


def test_a_cold_check_process_exits_0_and_prints_its_report(threaded_net: NetFactory) -> None:
    with threaded_net() as net:
        args = [sys.executable, "-X", "importtime", "-m", "cli.main", "light", "check", net.root_hex]
        result = subprocess.run(  # bounded by the subprocess timeout
            [*args, "--registry", str(net.registry_path), "--cert", str(net.cert_file()), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "available" and report["confidence"] >= 0.9999
    assert set(report["timings_s"]) >= {"startup", "header", "sampling", "verification", "close", "total"}
    lines = result.stderr.splitlines()
    noise = [line for line in lines if not line.startswith("import time:")]
    assert noise == [], "no progress line or log noise when stderr is not a terminal"
    imported = {line.split("|")[-1].strip() for line in lines[1:]}
    assert "sampling.client.check_command" in imported and "libp2p" in imported
    assert sorted(imported & set(NOT_FOR_A_CHECK)) == []


class Lines:
    """A child's stdout, line by line, with a bounded wait for the next matching line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream], daemon=True).start()
        self.seen: list[str] = []

    def wait_for(self, prefix: str, seconds: float = 60.0) -> str:
        deadline = time.monotonic() + seconds
        while True:
            line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            self.seen.append(line)
            if line.startswith(prefix):
                return line.rstrip("\n")


def _open_publisher(stack: ExitStack, net: ThreadedNet) -> tuple[NetworkService, str]:
    """A gossip publisher on the light net's validator network (closed with `stack`), and its address."""
    registry = stack.enter_context(SqliteRegistry(net.registry_path))
    assert net.portal is not None
    validator = RegistryCertificateValidator(RegistryView(registry))
    publisher = stack.enter_context(
        net.portal.wrap_async_context_manager(
            open_service(VALIDATORS_NETWORK, certificate_validator=validator)
        )
    )
    return publisher, net.portal.call(lambda: publisher.listen_addrs[0])


def test_follow_process_samples_gossip_serves_status_and_stops_cleanly_on_ctrl_c(
    threaded_net: NetFactory, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        net = stack.enter_context(threaded_net())
        publisher, address = _open_publisher(stack, net)
        db = tmp_path / "follow.sqlite"
        command = [*DAS, "light", "follow", "--registry", str(net.registry_path), "--db", str(db)]
        command += ["--peer", address, "--http", "127.0.0.1:0", "--registry-peers", "0", "--timeout", "2"]
        process = stack.enter_context(
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        )
        try:
            lines = Lines(process)
            lines.wait_for(f"following /tessera/tessera-{CHAIN_ID}/certificate/1/ssz as ")
            status_url = lines.wait_for("status    ").split()[-1]
            net.portal.call(publisher.publish_certificate, net.certificate)
            finished = lines.wait_for("AVAILABLE")
            with urllib.request.urlopen(status_url, timeout=10) as answer:
                status = json.loads(answer.read())
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)  # a stop that hangs fails here, typed (TimeoutExpired)
            stopped = lines.wait_for("stopped", seconds=5)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
    assert code == 0
    assert net.root_hex in finished and "missing 0" in finished
    assert status["finished"] == 1 and status["lag"]["count"] == 0
    assert stopped == "stopped on SIGINT: 1 sampled this run, 0 waiting (resumed on restart)"


def test_a_sigkilled_follow_resumes_the_root_it_was_sampling_and_samples_it_once(
    threaded_net: NetFactory, tmp_path: Path
) -> None:
    """A real crash: `das light follow` is SIGKILLed while a round waits on a silent custodian; the
    next start takes the root from its pending table, abandons the silent peer, and finishes it."""
    with ExitStack() as stack:
        net = stack.enter_context(threaded_net())
        silent = net.co_held_member()  # its columns are held by others too: the blob stays available
        net.set_mode(silent, Mode.SILENT)
        publisher, address = _open_publisher(stack, net)
        db = tmp_path / "follow.sqlite"

        def follow(timeout: str) -> tuple[subprocess.Popen[str], Lines]:
            command = [*DAS, "light", "follow", "--registry", str(net.registry_path), "--db", str(db)]
            command += ["--peer", address, "--registry-peers", "0", "--timeout", timeout]
            # About 50 of the grid's 256 cells (not the 19 of 0.9999), so the round asks the silent
            # custodian: with 19 a CI run finished the root before the kill.
            command += ["--confidence", "0.9999999999999999"]
            process = stack.enter_context(  # closes its pipe and waits for it at the end
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            )
            stack.callback(lambda: process.poll() is None and process.kill())
            lines = Lines(process)
            lines.wait_for(f"following /tessera/tessera-{CHAIN_ID}/certificate/1/ssz as ")
            return process, lines

        first, _ = follow("120")  # the silent custodian holds its round for up to 120 s
        net.portal.call(publisher.publish_certificate, net.certificate)
        deadline = time.monotonic() + 60
        pending: list[object] = []
        while not pending and time.monotonic() < deadline:  # bounded: until the arrival is durable
            with ResultStore(db) as store:
                pending = list(store.get_pending())
            time.sleep(0.2)
        assert [p.data_root.hex() for p in pending] == [net.root_hex[2:]]  # type: ignore[attr-defined]
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        with ResultStore(db) as store:
            assert store.get(net.blob.data_root) is None  # killed mid-round: no result was written

        second, lines = follow("2")
        # Taken from its pending table (printed by cli/light.py's print_started), not from a second
        # gossip arrival: the table held only the interrupted root, so that is the one resumed.
        resumed = lines.wait_for("results   ")
        finished = lines.wait_for("AVAILABLE")
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=30) == 0
    assert resumed == "results   0 finished before, 1 resumed"
    assert net.root_hex in finished
    with ResultStore(db) as store:
        result = store.get(net.blob.data_root)
        assert result is not None and result.status == "available"
        assert store.count() == 1 and store.get_pending() == []
