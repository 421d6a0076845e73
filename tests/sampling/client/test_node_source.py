"""`das light check --node URL`: header and certificate over a node's HTTP API (a real HTTP server)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cli.main import main
from da.header import header_to_bytes
from da.types import BlobHeader
from tests.node_api import node_api
from tests.sampling.client.conftest import LightNet, ThreadedNet

NetFactory = Callable[..., ThreadedNet]


def _routes(net: LightNet, header: bytes | None = None, certificate: bool = True) -> dict[str, bytes]:
    base = f"/v1/blobs/{net.root_hex}"
    routes = {f"{base}/header": header if header is not None else header_to_bytes(net.blob.header)}
    if certificate:
        routes[f"{base}/certificate"] = net.certificate
    return routes


def test_header_and_certificate_from_a_node(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net, node_api(_routes(net)) as url:
        code = main(
            ["light", "check", net.root_hex, "--registry", str(net.registry_path), "--node", url, "--json"]
        )
        report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["verdict"] == "available"
    assert report["header_source"] == f"node {url}"
    assert report["certificate"].startswith("verified: 48 of 64 slots signed")


def test_a_node_with_a_wrong_header_is_passed_over_for_the_custodians(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        other = header_to_bytes(BlobHeader(1000, 1, net.blob.header.row_commitments[:1]))  # another root
        with node_api(_routes(net, header=other)) as url:
            args = [net.root_hex, "--registry", str(net.registry_path), "--node", url, "--json"]
            code = main(["light", "check", *args])
            report = json.loads(capsys.readouterr().out)
    assert code == 0 and str(report["header_source"]).startswith("custodian ")


def test_a_node_without_the_certificate_needs_epoch_and_quorum(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net, node_api(_routes(net, certificate=False)) as url:
        args = ["light", "check", net.root_hex, "--registry", str(net.registry_path), "--node", url]
        assert main(args) == 2
        assert "cannot tell who holds this blob" in capsys.readouterr().err
        assert main([*args, "--epoch", "0", "--quorum", "0", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["header_source"] == f"node {url}"


def test_an_unreachable_node_is_a_network_error(
    threaded_net: NetFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_net() as net:
        args = [
            "light",
            "check",
            net.root_hex,
            "--registry",
            str(net.registry_path),
            "--node",
            "http://127.0.0.1:9",
        ]
        assert main([*args, "--timeout", "1"]) == 2
    assert "http://127.0.0.1:9" in capsys.readouterr().err
