"""Admission control's arithmetic (validator.daemon.admission): below the bound every blob is taken;
at or past it the answer is a Retry-After in whole seconds, bounded both ways. Fair admission: each
account (an address, or a paying account) holds at most its weighted share of a queue, never its
reserved place, and the encoder serves accounts in turn."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from da.row_count import compute_row_count
from da.upload import compute_max_upload_bytes
from validator.daemon.admission import (
    MAX_RETRY_AFTER_S,
    MIN_RETRY_AFTER_S,
    AccountLedger,
    AdmissionPolicy,
    EqualWeights,
    FairQueue,
    Refusal,
    compute_admission,
    compute_fair_share,
    compute_retry_after,
    compute_upload_memory_bytes,
    compute_verifying_bytes_refusal,
)
from validator.daemon.api.accounts import UNKNOWN_ADDRESS_ACCOUNT, compute_address_account
from validator.daemon.config import InvalidDaemonConfig


def test_below_the_bound_every_blob_is_admitted() -> None:
    policy = AdmissionPolicy(max_queued=3)
    assert [compute_retry_after(q, policy, 2.5) for q in range(3)] == [None, None, None]


def test_at_the_bound_the_wait_grows_with_the_blobs_ahead() -> None:
    policy = AdmissionPolicy(max_queued=3)
    assert compute_retry_after(3, policy, 2.5) == 3  # one blob ahead of the free place: ceil(2.5)
    assert compute_retry_after(5, policy, 2.5) == 8  # three ahead: ceil(7.5)


def test_the_wait_is_bounded_both_ways() -> None:
    policy = AdmissionPolicy(max_queued=1)
    assert compute_retry_after(1, policy, 0.0) == MIN_RETRY_AFTER_S  # no estimate yet: still >= 1 s
    assert compute_retry_after(1000, policy, 30.0) == MAX_RETRY_AFTER_S


def test_a_bound_below_one_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidDaemonConfig, match="max_queued_blobs"):
        AdmissionPolicy(max_queued=0)


def test_uploads_have_their_own_bound_so_raw_posts_are_refused_first() -> None:
    policy = AdmissionPolicy(max_queued=2, max_verifying=3)
    assert compute_retry_after(2, policy, 2.0) == 2  # the raw queue is full...
    uploads = AccountLedger(policy.max_verifying)
    uploads.take("ip:198.51.100.1")
    uploads.take("ip:198.51.100.2")
    assert uploads.refusal("ip:198.51.100.3", 0.2) is None  # ...an upload is still checked
    uploads.take("ip:198.51.100.3")
    assert uploads.refusal("ip:198.51.100.4", 0.2) == Refusal(
        "queue_full", MIN_RETRY_AFTER_S, held=0, share=1
    )
    with pytest.raises(InvalidDaemonConfig, match="max_verifying_uploads"):
        AdmissionPolicy(max_verifying=0)


def test_uploads_being_checked_are_bounded_in_bytes_by_their_declared_bodies() -> None:
    """Checking an upload holds its body and its decoded extension: ~3.2 x the blob (101.5 MiB at
    32 MiB). Past `max_verifying_bytes` a new upload is refused (`verifying_bytes`, retry after one
    check's mean) although places are free; alone, any upload is checked."""
    body_32_mib = compute_max_upload_bytes(32 * 1024 * 1024)
    cost = compute_upload_memory_bytes(body_32_mib)
    assert 3.1 * 32 * 1024 * 1024 < cost < 3.3 * 32 * 1024 * 1024
    rows = compute_row_count(32 * 1024 * 1024)
    assert cost >= body_32_mib + rows * 128 * (2048 + 48), "every row's cells and proofs are counted"
    policy = AdmissionPolicy()  # 4 places, 448 MiB
    assert 4 * cost <= policy.max_verifying_bytes < 5 * cost, "four of the largest blobs fit, not five"
    assert compute_verifying_bytes_refusal(3 * cost, 3, body_32_mib, policy, 2.5) is None
    tight = AdmissionPolicy(max_verifying_bytes=2 * cost)
    assert compute_verifying_bytes_refusal(cost, 1, body_32_mib, tight, 0.0) is None
    assert compute_verifying_bytes_refusal(cost + 1, 1, body_32_mib, tight, 2.5) == Refusal(
        "verifying_bytes", 3, held=1, share=0
    )
    assert (
        compute_verifying_bytes_refusal(0, 0, body_32_mib, AdmissionPolicy(max_verifying_bytes=1), 0.0)
        is None
    )
    with pytest.raises(InvalidDaemonConfig, match="max_verifying_bytes"):
        AdmissionPolicy(max_verifying_bytes=0)


# --- fair admission: shares per account -----------------------------------------------------------


class Weighted:
    """Weights given per account (1 for the others): the payments side's hook, as a table."""

    def __init__(self, table: dict[str, int]) -> None:
        self.table = table

    def weight_of(self, account: str) -> int:
        return self.table.get(account, 1)


def test_a_lone_account_never_takes_the_reserved_place() -> None:
    ledger = AccountLedger(4)
    for _ in range(3):
        assert ledger.refusal("greedy", 0.5) is None
        ledger.take("greedy")
    refusal = ledger.refusal("greedy", 0.5)
    assert refusal is not None and refusal.reason == "account_share" and refusal.share == 3
    assert ledger.refusal("honest", 0.5) is None  # the node is busy only because of one account


def test_a_greedy_account_waits_for_its_own_backlog_and_the_queue_full_is_overload() -> None:
    held = {"greedy": 3, "honest": 1}
    refusal = compute_admission("greedy", held, 4, 2.0, EqualWeights())
    # share 2 of 4 with two accounts; 3 held: 2 of its own to go, each once per round of 2 accounts.
    assert refusal == Refusal("account_share", 8, held=3, share=2)
    refusal = compute_admission("honest", held, 4, 2.0, EqualWeights())
    assert refusal is not None and refusal.reason == "queue_full" and refusal.retry_after == 2
    assert compute_admission("third", {"a": 2, "b": 2}, 4, 0.0, EqualWeights()) == Refusal(
        "queue_full", MIN_RETRY_AFTER_S, held=0, share=1
    )


def test_weights_size_the_shares() -> None:
    weights = Weighted({"paid": 3})
    assert compute_fair_share(8, 3, 4) == 6
    assert compute_fair_share(8, 1, 4) == 2
    assert compute_admission("paid", {"paid": 5, "free": 1}, 8, 1.0, weights) is None
    refusal = compute_admission("free", {"paid": 5, "free": 2}, 8, 1.0, weights)
    assert refusal is not None and refusal.reason == "account_share" and refusal.share == 2
    assert compute_fair_share(1, 1, 5) == 1  # a queue of one place: no reserve, the first comes first
    hog = Weighted({"hog": 10**9})  # clamped: the reserved place stays
    assert compute_admission("hog", {"hog": 7}, 8, 1.0, hog) is not None


@st.composite
def _traffic(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    capacity = draw(st.integers(1, 12))
    steps = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("post"), st.integers(0, 10_000)),  # many addresses
                st.tuples(st.just("post"), st.integers(0, 3)),  # a few busy ones
                st.tuples(st.just("serve"), st.just(0)),
            ),
            max_size=200,
        )
    )
    return capacity, steps


@given(_traffic())
def test_fair_admission_keeps_every_bound(traffic: tuple[int, list[tuple[str, int]]]) -> None:
    """A1: the places taken never exceed the capacity, and the ledger keeps no more accounts than
    places; A2: an account holding nothing is admitted whenever a place is free; A3: no single
    account holds the reserved place; A4: Retry-After is whole seconds within its bounds; A5: the
    encoder serves every account's blobs in its own order."""
    capacity, steps = traffic
    ledger, order = AccountLedger(capacity), FairQueue[int]()
    pushed: dict[str, list[int]] = {}
    served: dict[str, list[int]] = {}
    for serial, (kind, who) in enumerate(steps):
        if kind == "serve":
            if len(order):
                account, item = order.pop()
                served.setdefault(account, []).append(item)
                ledger.release(account)
            continue
        account = f"ip:{who}"
        refusal = ledger.refusal(account, 1.5)
        if ledger.held_by(account) == 0:
            assert (refusal is None) == (ledger.total < capacity)  # A2
        if refusal is None:
            ledger.take(account)
            order.push(account, serial)
            pushed.setdefault(account, []).append(serial)
        else:
            assert MIN_RETRY_AFTER_S <= refusal.retry_after <= MAX_RETRY_AFTER_S  # A4
        assert ledger.total <= capacity and ledger.accounts <= capacity  # A1
        assert ledger.total == len(order)
        if ledger.accounts == 1 and capacity >= 2:
            assert ledger.total <= capacity - 1  # A3
    for account, items in served.items():
        assert items == pushed[account][: len(items)]  # A5


def test_the_encoder_serves_accounts_in_turn_weighted() -> None:
    order = FairQueue[str]()
    for index in range(4):
        order.push("greedy", f"g{index}")
    order.push("honest", "h0")
    assert [order.pop()[1] for _ in range(5)] == ["g0", "h0", "g1", "g2", "g3"]
    weighted = FairQueue[str](Weighted({"paid": 2}))
    for index in range(3):
        weighted.push("paid", f"p{index}")
        weighted.push("free", f"f{index}")
    assert [weighted.pop()[1] for _ in range(6)] == ["p0", "p1", "f0", "p2", "f1", "f2"]
    with pytest.raises(IndexError):
        weighted.pop()


@pytest.mark.parametrize(
    ("remote", "account"),
    [
        ("198.51.100.7", "ip:198.51.100.7"),
        ("2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "ip:2001:db8:1:2::/64"),  # the same /64: the same host
        ("::ffff:198.51.100.7", "ip:198.51.100.7"),
        (None, UNKNOWN_ADDRESS_ACCOUNT),
        ("not an address", UNKNOWN_ADDRESS_ACCOUNT),
    ],
)
def test_an_address_is_an_account(remote: str | None, account: str) -> None:
    assert compute_address_account(remote) == account
