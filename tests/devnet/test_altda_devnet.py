"""`das altda serve` on the devnet, driven by an OP Stack-style client (tests/altda/da_client.py):
payloads round-trip at every size up to the largest; each commitment a derivation must drop gets 418
with its code; a stopped validator makes a put answer 503 within the configured time and its restart
serves again; a blob whose custodians are down to the recovery threshold is still served, below it
404. Slow: every put waits for a real certificate."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from altda.commitment import TESSERA_DA_LAYER, compute_commitment
from altda.payload import DEFAULT_MAX_PAYLOAD_BYTES
from da.constants import CELLS_NEEDED_TO_RECOVER_ROW
from tests.altda.da_client import DAClient, Dropped, FailOver, InvalidInput, NotFound
from tests.devnet.helpers import DAS_COMMAND, VALIDATORS, api, das, quorum_of
from validator.certificate import bytes_to_certificate
from validator.devnet import Devnet

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("devnet")]

SERVER_START_S = 60.0
CLIENT_TIMEOUT_S = 150.0


@contextlib.contextmanager
def altda_server(devnet: Devnet, nodes: list[int], *options: str) -> Iterator[str]:
    """`das altda serve` over validators `nodes` (their API URLs now); yields its URL; SIGINT (then
    SIGKILL) when the block ends."""
    node_options = [word for index in nodes for word in ("--node", api(devnet, index))]
    log = devnet.directory / f"altda-{time.monotonic_ns()}.log"
    with log.open("wb") as errors:
        server = subprocess.Popen(
            [*DAS_COMMAND, "altda", "serve", "--listen", "127.0.0.1:0", *node_options,
             "--registry", str(devnet.registry_path), *options],
            stdout=subprocess.PIPE, stderr=errors, text=True,
        )  # fmt: skip
    try:
        assert server.stdout is not None
        url = None
        deadline = time.monotonic() + SERVER_START_S
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            if line.startswith("altda listening "):
                url = line.split()[-1]
        assert url is not None, "das altda serve did not start:\n" + log.read_text(errors="replace")[-3000:]
        yield url
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def _restart_all(devnet: Devnet, stopped: list[int], ports: dict[int, int] | None = None) -> None:
    for index in stopped:
        devnet.start_node(index, api_port=(ports or {}).get(index))
    devnet.wait_until_connected(list(range(VALIDATORS)))


def test_payloads_round_trip_and_each_bad_commitment_is_dropped_with_its_code(
    devnet: Devnet, tmp_path: Path
) -> None:
    with altda_server(devnet, [0, 1]) as url:
        client = DAClient(url, CLIENT_TIMEOUT_S)
        commitments = {}
        for size in (1, 1000, 200_000, DEFAULT_MAX_PAYLOAD_BYTES):
            payload = random.Random(size).randbytes(size)
            commitment = client.set_input(payload)
            assert commitment[:3] == bytes((0x01, TESSERA_DA_LAYER, 0x01)), commitment[:3]
            assert client.get_input(commitment) == payload, size
            assert client.get_input(commitment, l1_inclusion_block=12) == payload  # no --l1-rpc: unchecked
            commitments[size] = commitment
        with pytest.raises(InvalidInput):
            client.set_input(b"")
        assert httpx.post(f"{url}/put", content=b"", timeout=30).status_code == 400
        oversize = httpx.post(f"{url}/put", content=bytes(DEFAULT_MAX_PAYLOAD_BYTES + 1), timeout=60)
        assert oversize.status_code == 413

        good = commitments[1000]
        certificate = bytearray(good[3:])
        tampered_root = bytes(good[:3]) + bytes([certificate[0] ^ 1]) + bytes(certificate[1:])
        certificate[60] ^= 0x01  # a byte of the aggregate signature
        tampered_signature = bytes(good[:3]) + bytes(certificate)
        dropped = {
            "truncated": (good[:2], 1),
            "wrong layer byte": (good[:1] + b"\x0c" + good[2:], 1),
            "wrong payload version": (good[:2] + b"\x07" + good[3:], 1),
            "tampered data root": (tampered_root, 3),
            "tampered signature": (tampered_signature, 3),
            "a blob that is not a payload": (_direct_commitment(devnet, tmp_path), 4),
        }
        for name, (commitment, code) in dropped.items():
            with pytest.raises(Dropped) as caught:
                client.get_input(commitment)
            assert caught.value.code == code, (name, caught.value)
        # A fault-proof program's check, offline against the registry: the same verdicts.
        registry = ("--registry", str(devnet.registry_path), "--json")
        kept = das("altda", "check", "0x" + good.hex(), *registry)
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert json.loads(kept.stdout)["data_root"] == "0x" + good[3:35].hex()
        drop = das("altda", "check", "0x" + tampered_signature.hex(), *registry)
        assert drop.returncode == 1 and json.loads(drop.stdout)["status_code"] == 3, drop.stdout
        not_hex = httpx.get(f"{url}/get/0xnothex", timeout=30)
        assert not_hex.status_code == 418 and not_hex.json()["StatusCode"] == 1
        assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert 'tessera_altda_puts_total{outcome="ok"} 4.0' in metrics
        assert "tessera_altda_cache_hits_total 4.0" in metrics  # the second get of each payload


def _direct_commitment(devnet: Devnet, tmp_path: Path) -> bytes:
    """The commitment of a blob certified by posting to a validator directly (not an envelope)."""
    raw = tmp_path / "raw.bin"
    raw.write_bytes(b"\x07 not posted through the DA server")
    certificate = tmp_path / "raw.ssz"
    posted = das("blob", "post", str(raw), "--node", api(devnet, 2), "--wait", "--cert-out",
                 str(certificate), "--timeout", "60")  # fmt: skip
    assert posted.returncode == 0, posted.stdout + posted.stderr
    return compute_commitment(bytes_to_certificate(certificate.read_bytes()))


PUT_TIMEOUT_S = 8.0


def test_a_stopped_validator_is_a_503_within_the_timeout_and_its_restart_serves_again(devnet: Devnet) -> None:
    node = 3
    port = urlparse(api(devnet, node)).port
    assert port is not None
    with altda_server(devnet, [node], "--certify-timeout", str(PUT_TIMEOUT_S)) as url:
        client = DAClient(url, CLIENT_TIMEOUT_S)
        devnet.stop_node(node)
        try:
            started = time.monotonic()
            with pytest.raises(FailOver):
                client.set_input(b"a batch while the DA layer is down")
            elapsed = time.monotonic() - started
            assert PUT_TIMEOUT_S <= elapsed < PUT_TIMEOUT_S + 5, elapsed
        finally:
            _restart_all(devnet, [node], {node: port})
        payload = b"a batch once it is back"
        assert client.get_input(client.set_input(payload)) == payload


def test_a_blob_is_served_with_its_custodians_down_to_the_threshold_and_404_below(devnet: Devnet) -> None:
    payload = random.Random(29).randbytes(300_000)
    poster = 0
    with altda_server(devnet, [poster]) as url:
        commitment = DAClient(url, CLIENT_TIMEOUT_S).set_input(payload)
    certificate = bytes_to_certificate(commitment[3:])
    status: dict[str, Any] = {"data_root": "0x" + certificate.data_root.hex(), "epoch": certificate.epoch,
                              "quorum": certificate.quorum}  # fmt: skip
    _, custody = quorum_of(devnet, status)
    members = sorted(int(v) for v in custody)
    reader, last_reader = [m for m in members if m != poster][:2]

    def columns(up: set[int]) -> int:
        return len(set().union(*(custody[v] for v in custody if int(v) in up)))

    stopped = [poster]  # it holds the posted bytes whole
    devnet.stop_node(poster)
    try:
        up = set(members) - {poster}
        for member in members:
            if (
                member in up
                and member not in {reader, last_reader}
                and columns(up - {member}) >= CELLS_NEEDED_TO_RECOVER_ROW
            ):
                devnet.stop_node(member)
                stopped.append(member)
                up.discard(member)
        assert columns(up) >= CELLS_NEEDED_TO_RECOVER_ROW
        with altda_server(devnet, [reader], "--cache-mib", "0") as url:
            assert DAClient(url, CLIENT_TIMEOUT_S).get_input(commitment) == payload
        victim = next(
            m
            for m in (reader, *sorted(up))
            if m != last_reader and columns(up - {m}) < CELLS_NEEDED_TO_RECOVER_ROW
        )
        devnet.stop_node(victim)
        stopped.append(victim)
        with altda_server(devnet, [last_reader]) as url, pytest.raises(NotFound):
            DAClient(url, CLIENT_TIMEOUT_S).get_input(commitment)
    finally:
        _restart_all(devnet, stopped)
