"""The node's HTTP API keeps its published contract: schemathesis (an independent API tester)
generates requests from the node's own `/v1/openapi.json` and checks every answer against it, with
all its checks and the stateful phase (post a blob, then read it back through the links the document
declares), on a live devnet validator. A document with a path parameter dropped makes it fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.devnet.helpers import api
from validator.devnet import Devnet

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = "20261201"
EXAMPLES = "25"
RUN_TIMEOUT_S = 300.0


def _schemathesis(*args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is a dev dependency: pip install -e .[dev]"
    return subprocess.run(
        [command, "--config-file", str(CONFIG), "run", *args, "--checks", "all", "--seed", SEED,
         "--max-examples", EXAMPLES, "--no-color"],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip


def test_the_node_api_keeps_its_openapi_contract(devnet: Devnet) -> None:
    url = api(devnet, 5)
    result = _schemathesis(f"{url}/v1/openapi.json")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    assert "✅ Stateful" in result.stdout  # the stateful phase ran and passed


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
