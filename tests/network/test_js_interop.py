"""Interop with another libp2p implementation: a js-libp2p client written from the specs alone
(`tests/network/interop/client.mjs`, npm packages pinned by its lockfile) dials a node this test
starts on 127.0.0.1 and reports what it saw; this test checks it.

The client runs with Node.js; the Makefile installs its packages (`npm ci`). Without Node.js, or
without the installed packages, the test skips and says why (fails, under TESSERA_REQUIRE_ALL=1).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
from libp2p.security.insecure.transport import PLAINTEXT_PROTOCOL_ID, InsecureTransport

from da import CkzgBackend, EncodedBlob
from da.grid import compute_extended_blob
from da.grid_samples import verify_grid_samples
from da.types import Cell, CellCoordinate, ColumnIndex, GridSample, KZGProof, RowIndex
from network import transport
from network.constants import PROTOCOL_GRID_SAMPLES, PROTOCOL_HEADER, PROTOCOL_SAMPLES
from network.server import ServerPorts
from network.service import open_service
from tests.environment import require_or_skip
from tests.network.conftest import DictGridStore, DictSampleStore

pytestmark = [pytest.mark.anyio, pytest.mark.xdist_group("js-interop")]

CLIENT_DIR = Path(__file__).resolve().parent / "interop"
CLIENT_TIMEOUT_SECONDS = 60
NODE = shutil.which("node")
INSTALLED = (CLIENT_DIR / "node_modules" / "libp2p").is_dir()


def _require_client() -> str:
    if NODE is None:
        require_or_skip("Node.js is not installed: the js-libp2p interop client needs it")
    if not INSTALLED:
        require_or_skip(f"the interop client's npm packages are not installed: run `npm ci` in {CLIENT_DIR}")
    return NODE


async def _run_client(
    node: str,
    address: str,
    blob: EncodedBlob,
    coordinates: list[CellCoordinate],
    grid_coordinates: list[CellCoordinate] | None = None,
) -> Any:
    """Run the js-libp2p client against `address`; returns its JSON report."""
    arguments = {
        "addr": address,
        "data_root": bytes(blob.data_root).hex(),
        "coordinates": [[coordinate.row, coordinate.column] for coordinate in coordinates],
        "grid_coordinates": [[coordinate.row, coordinate.column] for coordinate in grid_coordinates or []],
    }
    with trio.fail_after(CLIENT_TIMEOUT_SECONDS):
        result = await trio.run_process(
            [node, str(CLIENT_DIR / "client.mjs"), json.dumps(arguments)],
            cwd=CLIENT_DIR,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return json.loads(result.stdout)


def _coordinates(blob: EncodedBlob) -> list[CellCoordinate]:
    """128 distinct coordinates over the blob's rows (the request limit)."""
    rows = len(blob.rows)
    return [
        CellCoordinate(RowIndex(row), ColumnIndex(column))
        for row in range(rows)
        for column in range(0, 128, rows)
    ][:128]


async def test_a_js_libp2p_client_speaks_the_spec(
    kzg: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    node = _require_client()
    blob = two_row_blob[1]
    coordinates = _coordinates(blob)
    store = DictGridStore(compute_extended_blob(blob))
    # Every row of the 2D grid (R = 2: rows 0..3), and a row past it (not held).
    grid_coordinates = [CellCoordinate(RowIndex(row), ColumnIndex(7 * row + 3)) for row in range(5)]
    with structlog.testing.capture_logs() as logs:
        async with open_service(
            ports=ServerPorts(samples=store, grid_samples=store, headers=store)
        ) as service:
            report = await _run_client(node, service.listen_addrs[0], blob, coordinates, grid_coordinates)
            peer = service.peer_id

    assert report["connection"] == {"encryption": "/noise", "multiplexer": "/yamux/1.0.0", "peer": peer}
    assert {
        PROTOCOL_SAMPLES,
        PROTOCOL_GRID_SAMPLES,
        PROTOCOL_HEADER,
        "/ipfs/id/1.0.0",
        "/ipfs/ping/1.0.0",
    } <= set(report["identify"]["protocols"])
    assert report["ping"]["rtt_ms"] >= 0
    assert report["header"] == {"code": "SUCCESS", "bytes": 20 + 48 * len(blob.rows), "root_matches": True}
    assert report["header_without_half_close"] == {"code": "SUCCESS", "bytes": 20 + 48 * len(blob.rows)}
    assert report["samples"] == {
        "code": "SUCCESS",
        "held": len(coordinates),
        "delimiter": 1,
        "received": len(coordinates),
        "verified": len(coordinates),
    }
    grid = report["grid_samples"]
    assert (grid["code"], grid["held"], grid["delimiter"]) == ("SUCCESS", 4, 1)
    served = [
        GridSample(
            RowIndex(s["row"]),
            ColumnIndex(s["column"]),
            Cell(bytes.fromhex(s["cell"])),
            KZGProof(bytes.fromhex(s["proof"])),
        )
        for s in grid["samples"]
    ]
    assert [s.coordinate for s in served] == grid_coordinates[:4]
    assert verify_grid_samples(blob.data_root, blob.header, served, kzg), "the client parsed the cells right"
    assert report["malformed"]["code"] == "INVALID_REQUEST"
    # Refused at multistream-select (js-libp2p's UnsupportedProtocolError, rethrown by its upgrader):
    # the node offers no /plaintext/2.0.0; a refused TCP dial or a timeout would read otherwise.
    assert report["plaintext"] == {
        "refused": True,
        "error": "EncryptionFailedError: Protocol selection failed - could not negotiate /plaintext/2.0.0",
    }
    # A peer without gossipsub is normal: nothing above debug level about it.
    assert not [entry for entry in logs if entry["log_level"] in ("warning", "error", "critical")], logs


async def test_the_interop_client_sees_a_node_that_accepts_plaintext(
    two_row_blob: tuple[bytes, EncodedBlob], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plaintext check can fail: a node with py-libp2p's plaintext transport put back is caught."""
    node = _require_client()
    spec_options = transport.security_options

    def with_plaintext(key_pair: Any) -> Any:
        return {**spec_options(key_pair), PLAINTEXT_PROTOCOL_ID: InsecureTransport(key_pair)}

    monkeypatch.setattr("network.host.security_options", with_plaintext)
    blob = two_row_blob[1]
    store = DictSampleStore(blob)
    async with open_service(ports=ServerPorts(samples=store, headers=store)) as service:
        report = await _run_client(node, service.listen_addrs[0], blob, _coordinates(blob)[:4])
    assert report["plaintext"] == {"refused": False, "encryption": "/plaintext/2.0.0"}


def test_the_client_lockfile_pins_every_package() -> None:
    """`npm ci` installs exactly the lockfile; the lockfile must match package.json's pins."""
    package = json.loads((CLIENT_DIR / "package.json").read_text())
    lock = json.loads((CLIENT_DIR / "package-lock.json").read_text())
    root = lock["packages"][""]["dependencies"]
    assert root == package["dependencies"]
    for name, version in package["dependencies"].items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version, name
    unpinned = [name for name, version in package["dependencies"].items() if not version[0].isdigit()]
    assert not unpinned, unpinned
