"""The chain backend through a faulty RPC (a proxy in front of anvil): transient answers (HTTP 429 and
503, JSON-RPC -32005 and -32603 "rate limited", dropped connections, drawn from a seeded RNG) are
retried within the `RetryPolicy` bound and the reads come out as anvil's own; a permanent answer is a
typed error naming the method, the endpoint and the code, sent once; an endless fault ends at the
bound, typed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.devnet.helpers import das
from validator.registry.chain.backend import ChainRegistry
from validator.registry.chain.retry import RetryPolicy, is_transient_rpc_error
from validator.registry.chain.rpc import ChainUnreachable, RpcRequestFailed
from validator.types import Epoch

from .registry_network import KEYS, Network, cast_ballots, register
from .rpc_proxy import TRANSIENT_FAULTS, RpcProxy

pytestmark = pytest.mark.xdist_group("chain")

FAST = RetryPolicy(attempts=40, max_seconds=30.0, base_seconds=0.002, cap_seconds=0.05)


def _reader(url: str, net: Network, retry: RetryPolicy = FAST) -> ChainRegistry:
    return ChainRegistry(url, net.address, sync_interval=0, retry=retry)


def test_reads_through_a_flaky_rpc_come_out_as_the_chain_s(network: Callable[..., Network]) -> None:
    net = network(genesis_in=60, accounts=3)
    for i in range(3):
        register(net.registry(i), KEYS[i], peer=f"peer-{i}")
    cast_ballots(net, {0: KEYS[0], 2: KEYS[2]}, Epoch(0))
    net.to_epoch(0)
    truth = net.registry()
    with RpcProxy(net.rpc_url, fault_rate=0.5, seed=32) as proxy:
        reader = _reader(proxy.url, net)
        assert reader.get_epoch_context(Epoch(0)) == truth.get_epoch_context(Epoch(0))
        assert reader.get_epoch_context(Epoch(1)) == truth.get_epoch_context(Epoch(1))
        assert reader.find_validator(KEYS[2].pubkey) == 2
        assert reader.current_epoch() == 0
    assert all(proxy.counts[fault] > 0 for fault in TRANSIENT_FAULTS), proxy.counts
    assert proxy.counts["forwarded"] > 0


@pytest.mark.parametrize(
    ("fault", "method", "code"), [("403", "eth_chainId", 403), ("no-method", "eth_chainId", -32601)]
)
def test_a_permanent_answer_is_typed_and_not_repeated(
    network: Callable[..., Network], fault: str, method: str, code: int
) -> None:
    net = network(genesis_in=60, accounts=1)
    with RpcProxy(net.rpc_url, always=fault) as proxy, pytest.raises(RpcRequestFailed) as refused:
        _reader(proxy.url, net)
    assert (refused.value.method, refused.value.endpoint, refused.value.code) == (method, proxy.url, code)
    assert proxy.counts[fault] == 1


def test_an_endless_fault_ends_at_the_bound(network: Callable[..., Network]) -> None:
    net = network(genesis_in=60, accounts=1)
    with RpcProxy(net.rpc_url, always="503") as proxy, pytest.raises(ChainUnreachable) as gave_up:
        _reader(proxy.url, net, RetryPolicy(attempts=5, max_seconds=30, base_seconds=0.01, cap_seconds=0.02))
    assert (gave_up.value.attempts, proxy.counts["503"]) == (5, 5)
    assert "HTTP 503" in str(gave_up.value)
    started = time.monotonic()
    with RpcProxy(net.rpc_url, always="limit") as proxy, pytest.raises(ChainUnreachable) as timed_out:
        _reader(
            proxy.url, net, RetryPolicy(attempts=1000, max_seconds=0.5, base_seconds=0.05, cap_seconds=0.1)
        )
    assert time.monotonic() - started < 2.0
    assert "-32005" in str(timed_out.value) and timed_out.value.attempts < 1000


def test_the_transient_rule() -> None:
    transient = [
        {"code": -32005, "message": "limit exceeded"},
        {"code": -32603, "message": "Internal error: rate limited"},
        {"code": -32000, "message": "header not found"},
        {"code": -32000, "message": "server busy, try again"},
    ]
    permanent = [
        {"code": 3, "message": "execution reverted: timeout"},
        {"code": -32601, "message": "method not found"},
        {"code": -32602, "message": "invalid params: rate limit field"},
        {"code": -32603, "message": "internal error"},
        {"code": -32000, "message": "exceeds block gas limit"},
        "not an error object",
    ]
    assert [is_transient_rpc_error(e) for e in transient] == [True] * len(transient)
    assert [is_transient_rpc_error(e) for e in permanent] == [False] * len(permanent)
    with pytest.raises(Exception, match="attempts"):
        RetryPolicy(attempts=0).validate()


def test_the_cli_bounds_retries_as_told(network: Callable[..., Network], tmp_path: Path) -> None:
    net = network(genesis_in=60, accounts=1)
    junk = tmp_path / "junk.cert"
    junk.write_bytes(b"not a certificate")
    with RpcProxy(net.rpc_url, always="503") as proxy:
        verify = ["cert", "verify", str(junk), "--rpc", proxy.url, "--registry-address", net.address]
        bounded = das(*verify, "--rpc-retry", "3,20")
        assert bounded.returncode == 2, bounded.stderr
        assert (
            f"eth_chainId: no answer from {proxy.url} after 3 attempts, each transient (HTTP 503)"
            in bounded.stderr
        )
        assert proxy.counts["503"] == 3
        garbled = das(*verify, "--rpc-retry", "three")
        assert garbled.returncode == 2 and "--rpc-retry takes ATTEMPTS,SECONDS" in garbled.stderr
