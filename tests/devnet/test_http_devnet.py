"""The API's admission before a body on the real devnet: a post with `Expect: 100-continue` is told
to send its body only once the node has room for it, and is then taken like any other."""

from __future__ import annotations

import json
import random
import socket

import pytest

from tests.devnet.helpers import api, metric
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

WAIT_S = 30.0


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    return head


def test_a_post_with_expect_100_continue_sends_its_body_after_the_node_admits_it(devnet: Devnet) -> None:
    node = 3
    data = random.Random(1003).randbytes(50_000)
    accepted = metric(devnet, node, "tessera_blobs_accepted_total")
    host, port = api(devnet, node).removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT_S) as sock:
        sock.sendall(
            b"POST /v1/blobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" % len(data)
        )
        assert _read_head(sock).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(data)
        head = _read_head(sock)
        assert head.startswith(b"HTTP/1.1 202"), head
        body = b""
        while chunk := sock.recv(65536):
            body += chunk
    assert json.loads(body)["status"] == "received"
    assert metric(devnet, node, "tessera_blobs_accepted_total") == accepted + 1
    assert metric(devnet, node, "tessera_api_connections") >= 1  # this very /metrics request's
    assert metric(devnet, node, "tessera_api_connections_accepted_total") >= 3
