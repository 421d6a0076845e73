"""A blob of the largest default size (32 MiB, 265 rows) on the 8-validator devnet as its users see it:
the sequencer encodes and posts it with `das blob post --wait`, the quorum certifies it, a light
client finds it available with about 30 samples (as at 1 MiB: the 2D bound does not grow with the
blob), and another node rebuilds the same bytes from its custodians."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from da.constants import DEFAULT_MAX_BLOB_BYTES
from sampling.confidence import compute_samples_needed_2d
from tests.devnet.helpers import api, das
from validator.devnet import Devnet

pytestmark = [pytest.mark.xdist_group("devnet"), pytest.mark.slow]  # encodes 265 rows here, ~2-4 min

ROWS = 265
"""32 MiB and its 8-byte length prefix, at 4096 x 31 bytes a row."""


def test_a_32_mib_blob_is_certified_light_checked_in_about_30_samples_and_rebuilt(
    devnet: Devnet, tmp_path: Path
) -> None:
    assert DEFAULT_MAX_BLOB_BYTES == 32 * 1024 * 1024
    data = random.Random(3232).randbytes(DEFAULT_MAX_BLOB_BYTES)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(data)
    certificate = tmp_path / "cert.ssz"
    posted = das(
        "blob", "post", str(blob), "--node", api(devnet, 1), "--wait", "--json",
        "--cert-out", str(certificate), "--timeout", "400", timeout=600,
    )  # fmt: skip
    assert posted.returncode == 0, posted.stdout + posted.stderr
    status = json.loads(posted.stdout)
    assert status["status"] == "certified" and status["encoded_by"] == "client"
    root = status["data_root"]
    check = das(
        "light", "check", root, "--registry", str(devnet.registry_path), "--cert", str(certificate),
        "--confidence", "0.9999", "--json", timeout=180,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert report["verdict"] == "available" and report["rows"] == ROWS
    assert report["grid"]["rows"] == 2 * ROWS and report["bound"]["name"] == "2d"
    served = report["served_columns"]  # the columns this devnet's quorum holds (specs/sampling.md)
    needed = compute_samples_needed_2d(ROWS, 0.9999, served)
    assert report["needed"] == needed <= report["verified"], report
    # The same as a 1 MiB blob's over those columns, within a few cells (1D would take thousands),
    # and at most 33 with every column served.
    assert needed <= compute_samples_needed_2d(9, 0.9999, served) + 5, report
    assert compute_samples_needed_2d(ROWS, 0.9999) <= 33
    assert report["invalid"] == report["missing"] == 0
    out = tmp_path / "back.bin"
    got = das("blob", "get", root, "-o", str(out), "--node", api(devnet, 6), timeout=400)
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data
