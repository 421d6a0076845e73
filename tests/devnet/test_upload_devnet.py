"""Sequencers encode, validators verify, on the 8-validator devnet: a blob encoded by `das blob post`
on this machine is verified (not encoded) by the node it is posted to, certified, fetched back from
another node and found available by a light client; a tampered upload is refused by a real daemon
with its code, nothing is stored, and the daemon's metrics count it."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from da import DAConfig, bytes_to_upload, upload_to_bytes
from da.media import UPLOAD_MEDIA_TYPE
from da.sequencer import EncoderSettings, encode_upload
from da.types import KZGProof
from tests.devnet.helpers import api, das, http, metric
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

CHECK_TIMEOUT_S = 120.0


def _labelled(devnet: Devnet, index: int, name: str, labels: str) -> float:
    """The value of `name{labels}` on validator `index` (0.0 before the first increment)."""
    status, body = http("GET", api(devnet, index) + "/metrics")
    assert status == 200, body
    for line in body.decode().splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.split()[-1])
    return 0.0


def test_a_pre_encoded_blob_is_verified_certified_retrieved_and_available(
    devnet: Devnet, tmp_path: Path
) -> None:
    node = 2
    verified = metric(devnet, node, "tessera_upload_verify_seconds_count")
    encoded = metric(devnet, node, "tessera_encode_seconds_count")
    data = random.Random(2828).randbytes(1024 * 1024)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(data)
    certificate = tmp_path / "cert.ssz"
    posted = das(
        "blob", "post", str(blob), "--node", api(devnet, node), "--wait", "--json",
        "--cert-out", str(certificate), "--timeout", "90",
    )  # fmt: skip
    assert posted.returncode == 0, posted.stdout + posted.stderr
    status = json.loads(posted.stdout)
    assert status["status"] == "certified" and status["encoded_by"] == "client"
    assert metric(devnet, node, "tessera_upload_verify_seconds_count") == verified + 1
    assert metric(devnet, node, "tessera_encode_seconds_count") == encoded  # the node encoded nothing
    out = tmp_path / "back.bin"
    got = das("blob", "get", status["data_root"], "-o", str(out), "--node", api(devnet, 6))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data
    check = das(
        "light", "check", status["data_root"], "--registry", str(devnet.registry_path),
        "--cert", str(certificate), "--json", timeout=CHECK_TIMEOUT_S,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["verdict"] == "available"


def test_a_tampered_upload_is_refused_by_a_daemon_and_nothing_is_stored(devnet: Devnet) -> None:
    node = 3
    data = random.Random(2829).randbytes(200_000)  # two rows
    upload = bytes_to_upload(encode_upload(data, EncoderSettings(workers=1)), DAConfig())
    proofs = [list(row) for row in upload.proofs]
    proofs[1][37], proofs[1][38] = proofs[1][38], proofs[1][37]
    swapped = dataclasses.replace(upload, proofs=tuple(tuple(KZGProof(p) for p in row) for row in proofs))
    before = _labelled(devnet, node, "tessera_uploads_refused_total", 'reason="InvalidCellProof"')
    accepted = metric(devnet, node, "tessera_blobs_accepted_total")
    status, body = http("POST", api(devnet, node) + "/v1/blobs", upload_to_bytes(swapped), UPLOAD_MEDIA_TYPE)
    assert status == 422, body
    error = json.loads(body)["error"]
    assert (error["code"], error["row"], error["column"]) == ("invalid_cell_proof", 1, 37)
    assert _labelled(devnet, node, "tessera_uploads_refused_total", 'reason="InvalidCellProof"') == before + 1
    assert metric(devnet, node, "tessera_blobs_accepted_total") == accepted
    status, _ = http("GET", api(devnet, node) + f"/v1/blobs/0x{upload.data_root.hex()}")
    assert status == 404
    truncated, body = http(
        "POST", api(devnet, node) + "/v1/blobs", upload_to_bytes(upload)[:-1], UPLOAD_MEDIA_TYPE
    )
    assert truncated == 400 and json.loads(body)["error"]["code"] == "upload_truncated"
