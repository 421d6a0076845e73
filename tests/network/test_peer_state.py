"""Per-peer state is bounded: scores, backoffs, gossip IGNORE budgets and ping locks of peers that went
away are dropped, and a flood of fresh peer ids costs a bounded number of entries."""

from __future__ import annotations

import dataclasses

import pytest
import trio

from network.backoff import BackoffParams
from network.gossip_budget import IgnoreBudget
from network.peers import PeerGuard
from network.scoring import Offence, ScoreParams
from network.service import NetworkService, open_services
from network.types import PeerName
from tests.network.conftest import FAST


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _ids(count: int) -> list[PeerName]:
    return [PeerName(f"peer-{index:05d}") for index in range(count)]


def test_scores_of_10000_disconnected_peers_are_evicted() -> None:
    """As the service drives the guard: each peer connects, is charged (or rewarded), disconnects.
    Negative scores outlive the connection until they fade (reconnecting does not clear them), a
    banned peer's until its ban ends and its score fades; then nothing is held."""
    clock = Clock()
    guard = PeerGuard(ScoreParams(), clock, on_ban=lambda peer: None)
    peers = _ids(10_000)
    for index, peer in enumerate(peers):
        guard.peer_connected(peer)
        if index % 2:
            guard.penalize(peer, Offence.RATE_LIMITED)
        else:
            guard.reward(peer)
        guard.timed_out(peer)
    banned = PeerName("banned")
    guard.peer_connected(banned)
    guard.penalize(banned, Offence.OVERSIZE_MESSAGE)
    assert guard.tracked == 2 * 10_000 + 1
    guard.prune()
    assert guard.tracked == 2 * 10_000 + 1, "connected peers keep their state"
    for peer in [*peers, banned]:
        guard.peer_disconnected(peer)
    clock.now += 10
    guard.prune()
    assert len(guard.book) == 5_000 + 1, "faded positive scores go, negative ones and the ban stay"
    assert len(guard.backoffs) == 0, "backoffs end within BACKOFF_MAX_MILLISECONDS"
    clock.now += 300  # within the ban
    guard.prune()
    assert len(guard.book) == 5_001 and guard.is_banned(banned)
    clock.now += 500  # 5 * 0.5 ** (810 / 300) < 1: the -5 scores have faded; -50 has not
    guard.prune()
    assert len(guard.book) == 1 and guard.score(banned) < -1
    clock.now += 1_500  # -50 has faded below 1 too
    guard.prune()
    assert guard.tracked == 0


def test_a_flood_of_fresh_peer_ids_stays_within_the_bound() -> None:
    """Fresh ids that connect, misbehave and leave: the book never holds more than `max_peers`."""
    clock = Clock()
    guard = PeerGuard(ScoreParams(max_peers=100), clock, on_ban=lambda peer: None, backoff=BackoffParams())
    largest = 0
    for peer in _ids(10_000):
        guard.peer_connected(peer)
        guard.penalize(peer, Offence.MALFORMED_MESSAGE)
        guard.timed_out(peer)
        guard.peer_disconnected(peer)
        clock.now += 0.001
        largest = max(largest, len(guard.book), len(guard.backoffs))
    assert largest <= 101
    assert guard.score(PeerName("peer-09999")) < 0, "the newest offender is still remembered"


def test_ignore_budgets_refill_are_forgotten_and_bounded() -> None:
    budget = IgnoreBudget(rate=10, burst=5, max_peers=100)
    for _ in range(5):
        assert not budget.is_exhausted("a", now=0)
        budget.charge("a", now=0)
    assert budget.is_exhausted("a", now=0)
    assert not budget.is_exhausted("a", now=0.1), "one token back after 1/rate seconds"
    budget.prune(now=0.5)
    assert len(budget) == 0, "a full bucket is forgotten"
    for index in range(1_000):
        budget.charge(f"fresh-{index}", now=index / 1_000)
        assert len(budget) <= 100


@pytest.mark.anyio
async def test_ping_locks_are_dropped_when_the_last_ping_ends() -> None:
    async with open_services([NetworkService(FAST), NetworkService(FAST)]) as (a, b):
        peer = await a.connect(b.listen_addrs[0])
        seen: set[int] = set()
        done: list[float] = []

        async def ping() -> None:
            done.append(await a.ping(peer))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(ping)
            with trio.fail_after(5):
                while len(done) < 4:
                    seen.add(a.ping_locks_held)
                    await trio.sleep(0)
        assert 1 in seen and seen <= {0, 1}
        assert a.ping_locks_held == 0


@pytest.mark.anyio
async def test_a_disconnected_peer_score_is_dropped_by_the_service_once_faded() -> None:
    """Real hosts: a client that sent one malformed request (charged) leaves; the server keeps its
    score while it fades and drops it on the next maintenance after that."""
    clock = Clock()
    server = NetworkService(dataclasses.replace(FAST, maintenance_seconds=0.05), clock=clock)
    client = NetworkService(dataclasses.replace(FAST, gossip=False))
    async with open_services([server, client]):
        peer = await client.connect(server.listen_addrs[0])
        me = client.peer_id
        server.guard.penalize(me, Offence.MALFORMED_MESSAGE)  # as the server does for garbage
        await client.disconnect(peer)
        with trio.fail_after(5):
            while me in server.connected_peers():
                await trio.sleep(0.01)
        await trio.sleep(0.2)
        assert server.guard.score(me) < 0 and len(server.guard.book) == 1
        clock.now += 10 * server.guard.book.params.half_life_seconds
        with trio.fail_after(5):
            while len(server.guard.book):
                await trio.sleep(0.01)
