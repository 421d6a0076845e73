"""A node with payments on keeps its published contract: schemathesis (with the devnet's settings)
generates requests from the node's own `/v1/openapi.json`, the `Tessera-Payment` header and
`GET /v1/payments` included, and checks every answer against it (a post without a valid promise
is a documented 400, 401 or 402)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from da import CkzgBackend
from tests.validator.daemon.live_node import live_node
from tests.validator.payments.keys import sequencer
from validator.daemon.api import build_app, start_api
from validator.daemon.api.errors import ERROR_CODES
from validator.daemon.api.routes import ROUTES
from validator.openapi import build_openapi

CONFIG = Path(__file__).parents[2] / "devnet" / "schemathesis.toml"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_paid_node_keeps_its_openapi_contract(tmp_path: Path, kzg: CkzgBackend) -> None:
    command = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert command is not None, "schemathesis is a dev dependency: pip install -e .[dev]"
    with live_node(tmp_path, kzg, payee=sequencer(77).address) as node:
        server = await start_api(build_app(node.api))
        try:
            document = f"{server.url}/v1/openapi.json"
            arguments = [command, "--config-file", str(CONFIG), "run", document, "--checks", "all",
                         "--seed", "20261207", "--max-examples", "25", "--no-color"]  # fmt: skip
            result = await anyio.to_thread.run_sync(
                lambda: subprocess.run(arguments, capture_output=True, text=True, timeout=300, check=False)
            )
        finally:
            await server.close()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "✅ Stateful" in result.stdout


def test_the_document_names_the_header_and_the_payment_refusals() -> None:
    document = build_openapi([doc for doc, _ in ROUTES], "0", 1, ERROR_CODES, "Tessera node API")
    post = document["paths"]["/v1/blobs"]["post"]
    (header,) = [p for p in post["parameters"] if p["in"] == "header"]
    assert (header["name"], header["required"]) == ("Tessera-Payment", False)
    assert {"400", "401", "402"} <= set(post["responses"])
    assert "insufficient_escrow" in post["responses"]["402"]["description"]
    assert "bad_payment_signature" in post["responses"]["401"]["description"]
    (account,) = document["paths"]["/v1/payments"]["get"]["parameters"]
    assert (account["name"], account["in"]) == ("account", "query")
