"""The HTTP APIs keep their published contracts: schemathesis (an independent API tester) generates
requests from each API's own `/v1/openapi.json` and checks every answer against it with all its
checks: the node API of a live devnet validator (with the stateful phase: post a blob, then read it
back through the links the document declares), and the status API of a running
`das light follow --http`. A document with a path parameter dropped makes it fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.devnet.helpers import api, following, post
from validator.devnet import Devnet

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261201"
EXAMPLES = "25"
RUN_TIMEOUT_S = 300.0

# With the other devnet tests: they share the package's devnet (one 50 s start, not two).
pytestmark = pytest.mark.xdist_group("devnet")


def _schemathesis(*args: str, config: Path = CONFIG) -> subprocess.CompletedProcess[str]:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is a dev dependency: pip install -e .[dev]"
    return subprocess.run(
        [command, "--config-file", str(config), "run", *args, "--checks", "all", "--seed", SEED,
         "--max-examples", EXAMPLES, "--no-color"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip


def test_the_node_api_keeps_its_openapi_contract(devnet: Devnet) -> None:
    """Every operation is judged alike, ping included: its gateway answers (502, 503, 504) are
    tested one by one in tests/validator/daemon/test_api.py."""
    url = api(devnet, 5)
    result = _schemathesis(f"{url}/v1/openapi.json")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    assert "✅ Stateful" in result.stdout  # the stateful phase ran and passed


@pytest.mark.slow  # a second schemathesis run (~37 s on the devnet worker, which sets the suite's wall time)
def test_a_document_missing_a_path_parameter_fails_the_contract(devnet: Devnet, tmp_path: Path) -> None:
    url = api(devnet, 5)
    document = httpx.get(f"{url}/v1/openapi.json", timeout=10).json()
    for operation in document["paths"]["/v1/blobs/{data_root}"].values():
        operation.pop("parameters")
    broken = tmp_path / "openapi.json"
    broken.write_text(json.dumps(document))
    result = _schemathesis(str(broken), "--url", url)
    assert result.returncode != 0
    assert "Path parameter 'data_root' is not defined" in result.stdout


FOLLOW_SAMPLED_S = 120.0


def test_the_light_clients_status_api_keeps_its_openapi_contract(devnet: Devnet, tmp_path: Path) -> None:
    with following(["--registry", str(devnet.registry_path)], tmp_path / "results.sqlite") as base:
        document = httpx.get(f"{base}/v1/openapi.json", timeout=10).json()
        assert set(document["paths"]) == {"/v1/status", "/v1/blobs/{data_root}", "/v1/openapi.json"}
        # A blob certified while it follows, so its result route has something to show.
        status, _, _ = post(devnet, tmp_path, 64 * 1024, seed=1717)
        root = status["data_root"]
        deadline = time.monotonic() + FOLLOW_SAMPLED_S
        while httpx.get(f"{base}/v1/blobs/{root}", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the follower never saw the certificate"
            time.sleep(0.5)
        config = tmp_path / "schemathesis.toml"
        # Not the validator's settings: their POST /v1/blobs filter matches nothing here, a warning.
        config.write_text(f'[parameters]\n"path.data_root" = "{root}"\n')
        result = _schemathesis(f"{base}/v1/openapi.json", config=config)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert "No issues found" in result.stdout, result.stdout[-4000:]
