"""`das light` as separate processes, exactly as a user starts them: a cold check, and follow with Ctrl-C."""

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

from network.service import open_service
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from tests.sampling.client.conftest import CHAIN_ID, FAST, ThreadedNet
from validator.registry.sqlite import SqliteRegistry

NetFactory = Callable[..., ThreadedNet]
DAS = [sys.executable, "-m", "cli.main"]
VALIDATORS_NETWORK = dataclasses.replace(FAST, network_name=f"tessera-{CHAIN_ID}")
"""Validators name their gossip topics' network after the chain (what `follow` assumes by default)."""


def test_a_cold_check_process_exits_0_and_prints_its_report(threaded_net: NetFactory) -> None:
    with threaded_net() as net:
        args = [*DAS, "light", "check", net.root_hex, "--registry", str(net.registry_path)]
        started = time.monotonic()
        result = subprocess.run(
            [*args, "--cert", str(net.cert_file()), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "available" and report["confidence"] >= 0.9999
    assert result.stderr == "", "no progress line or log noise when stderr is not a terminal"
    assert elapsed < 60


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


def test_follow_process_samples_gossip_serves_status_and_stops_cleanly_on_ctrl_c(
    threaded_net: NetFactory, tmp_path: Path
) -> None:
    with ExitStack() as stack:
        net = stack.enter_context(threaded_net())
        registry = stack.enter_context(SqliteRegistry(net.registry_path))
        assert net.portal is not None
        validator = RegistryCertificateValidator(RegistryView(registry))
        publisher = stack.enter_context(
            net.portal.wrap_async_context_manager(
                open_service(VALIDATORS_NETWORK, certificate_validator=validator)
            )
        )
        address = net.portal.call(lambda: publisher.listen_addrs[0])
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
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
            stop_seconds = time.monotonic() - interrupted
            stopped = lines.wait_for("stopped", seconds=5)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(10)
    assert code == 0 and stop_seconds < 10, f"stopped in {stop_seconds:.1f} s"
    assert net.root_hex in finished and "missing 0" in finished
    assert status["finished"] == 1 and status["lag"]["count"] == 0
    assert stopped == "stopped on SIGINT: 1 sampled this run, 0 waiting (resumed on restart)"
