"""The sequencer's HTTP client: errors a user sees when the node is wrong, gone or misaddressed."""

from __future__ import annotations

import socket

import pytest

from validator.api_client import NodeApiClient
from validator.errors import ApiFailure


def test_a_url_that_is_not_http_is_refused_before_any_request() -> None:
    with pytest.raises(ApiFailure, match="is not an http") as caught:
        NodeApiClient("ftp://127.0.0.1:1")
    assert caught.value.code == "invalid_argument"


def test_a_node_that_is_not_there_is_unreachable() -> None:
    with socket.socket() as probe:  # a port nobody listens on (bound, then closed)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ApiFailure, match="cannot reach") as caught:
        NodeApiClient(f"http://127.0.0.1:{port}", timeout=5.0).get_status("0x" + "00" * 32)
    assert caught.value.code == "unreachable"
