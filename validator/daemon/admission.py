"""Admission control for posted blobs (pure): a node takes a blob only while its encode-and-disperse
queue is below a bound, and otherwise tells the sequencer when to come back (HTTP 429, Retry-After).

Past the bound every further blob would only wait longer, and a node that encodes without pause
answers its peers late; refusing early with a time to retry keeps the node out of overload and
loses nothing, since a refused post was never accepted.

The bounded queues are shared per account (specs/validator.md, "Fair admission"): an account may
hold at most its weighted fair share of a queue and never its reserved place (`compute_admission`,
`AccountLedger`), and the encoder serves accounts in turn (`FairQueue`), so one account's flood
delays only that account; a queue full of accounts within their shares is real overload.
"""

from __future__ import annotations

import collections
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from da.constants import (
    BYTES_PER_CELL,
    BYTES_PER_COMMITMENT,
    BYTES_PER_PROOF,
    CELLS_PER_ROW,
    USABLE_BYTES_PER_ROW,
)
from validator.daemon.config import InvalidDaemonConfig

T = TypeVar("T")

MIN_RETRY_AFTER_S = 1
MAX_RETRY_AFTER_S = 120


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """`max_queued`: raw blobs accepted but not yet encoded that a node holds at most;
    `max_verifying`: pre-encoded uploads it checks at once; `max_verifying_bytes`: what those checks
    hold in memory at most, each counted by its declared body (`compute_upload_memory_bytes`: the
    body and its decoded extension). The bounds are apart, so raw posts (the node's encoding, ~15 x
    the work) are the ones refused first: a queue of them never holds back an upload that only
    needs verifying."""

    max_queued: int = 8
    max_verifying: int = 4
    max_verifying_bytes: int = 448 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_queued < 1:
            raise InvalidDaemonConfig("max_queued_blobs", "must be >= 1")
        if self.max_verifying < 1:
            raise InvalidDaemonConfig("max_verifying_uploads", "must be >= 1")
        if self.max_verifying_bytes < 1:
            raise InvalidDaemonConfig("max_verifying_bytes", "must be >= 1")


EXTENDED_ROW_BYTES = CELLS_PER_ROW * (BYTES_PER_CELL + BYTES_PER_PROOF)
"""A row's cells and proofs once decoded: 268,288 bytes."""
UPLOAD_ROW_BYTES = USABLE_BYTES_PER_ROW + BYTES_PER_COMMITMENT + CELLS_PER_ROW * BYTES_PER_PROOF
"""What one row adds to an upload's body: its blob bytes, its commitment and its 128 proofs."""


def compute_upload_memory_bytes(body_bytes: int) -> int:
    """What checking an upload of `body_bytes` holds at its peak: the body and its decoded extension
    (the rows counted from the body, rounded up). About 3.2 x the blob: 101.5 MiB at 32 MiB."""
    rows = max(1, math.ceil(body_bytes / UPLOAD_ROW_BYTES))
    return body_bytes + rows * EXTENDED_ROW_BYTES


def compute_verifying_bytes_refusal(
    in_flight_bytes: int, checking: int, body_bytes: int, policy: AdmissionPolicy, mean_s: float
) -> Refusal | None:
    """The refusal (`verifying_bytes`, retry after one check's mean) of an upload of `body_bytes`
    while `checking` uploads holding `in_flight_bytes` are being checked, when it would take the
    total past `policy.max_verifying_bytes`; None when it fits, or when nothing is being checked (one
    upload is always admitted alone, whatever its size within the largest upload)."""
    cost = compute_upload_memory_bytes(body_bytes)
    if checking == 0 or in_flight_bytes + cost <= policy.max_verifying_bytes:
        return None
    return Refusal("verifying_bytes", _clamp_retry_after(max(mean_s, 1.0)), checking, 0)


def compute_retry_after(queued: int, policy: AdmissionPolicy, mean_encode_s: float) -> int | None:
    """None when a blob posted now is admitted (fewer than `max_queued` queued); otherwise the whole
    seconds after which one queue place is likely free: the blobs ahead of that place times the mean
    encoding time, between `MIN_RETRY_AFTER_S` and `MAX_RETRY_AFTER_S`."""
    if queued < policy.max_queued:
        return None
    ahead = queued - policy.max_queued + 1
    estimate = math.ceil(ahead * max(mean_encode_s, 0.0))
    return max(MIN_RETRY_AFTER_S, min(MAX_RETRY_AFTER_S, estimate))


# --- fair admission: accounts ----------------------------------------------------------------------

ANONYMOUS_ACCOUNT = "anonymous"
"""The account of a post that names none (an in-process caller): all such posts share it."""
RESUMED_ACCOUNT = "restart"
"""The account of blobs resumed after a restart: they were admitted before it and are not refused."""
MAX_ACCOUNT_WEIGHT = 1_000
"""A weight above this counts as this (a weight hook cannot starve every other account)."""


class AccountWeights(Protocol):
    """How much of a bounded queue an account may hold, relative to the others (the payments side
    weighs accounts by what they paid for; with payments off every account weighs 1)."""

    def weight_of(self, account: str) -> int:
        """The account's weight, >= 1 (clamped to 1..`MAX_ACCOUNT_WEIGHT` by the callers). Called
        for every active account on every admission check, in the intake's thread: a lookup in
        memory, never a read of a store or a chain."""
        ...


class EqualWeights:
    """Every account weighs 1."""

    def weight_of(self, account: str) -> int:
        """1, whoever `account` is."""
        return 1


def _weight(weights: AccountWeights, account: str) -> int:
    return max(1, min(MAX_ACCOUNT_WEIGHT, weights.weight_of(account)))


def compute_reserved_places(capacity: int) -> int:
    """Places of a queue of `capacity` that no single account may take (1 when there are at least two
    places, else 0): while one account alone fills the queue, a new account is still admitted."""
    return 1 if capacity >= 2 else 0


def compute_fair_share(capacity: int, weight: int, active_weight: int) -> int:
    """The places an account of `weight` may hold in a queue of `capacity` while accounts weighing
    `active_weight` in all (its own included) hold places or ask for one: its weighted part, at least
    one, and never the reserved places (`compute_reserved_places`)."""
    share = max(1, capacity * weight // max(active_weight, weight, 1))
    return min(share, capacity - compute_reserved_places(capacity))


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a post is not admitted now, and after how many whole seconds to post again. `reason`:
    `account_share` (the account holds its fair share: its own backlog delays it), `queue_full`
    (the account is below its share but every place is taken: the node is overloaded, or a flood's
    places beyond its share are still draining); the intake adds `memory_share` / `memory_full` for
    the blobs dispersing, and `verifying_bytes` for the bytes of uploads being checked. `held` and
    `share`: the account's places and share."""

    reason: str
    retry_after: int
    held: int
    share: int


def _clamp_retry_after(seconds: float) -> int:
    return max(MIN_RETRY_AFTER_S, min(MAX_RETRY_AFTER_S, math.ceil(seconds)))


def compute_admission(
    account: str, held: Mapping[str, int], capacity: int, mean_s: float, weights: AccountWeights
) -> Refusal | None:
    """None when `account` may take a place of a queue of `capacity` whose places are `held` per
    account (accounts holding none are absent); else its `Refusal`. Past its fair share the wait is its
    own backlog: the places it holds beyond the share, each served once per round of the active
    accounts (weighted), `mean_s` each. An account within its share is refused only when every place
    is taken: then the wait is one place freeing (`compute_retry_after`)."""
    mine = held.get(account, 0)
    own_weight = _weight(weights, account)
    active_weight = own_weight + sum(_weight(weights, other) for other in held if other != account)
    share = compute_fair_share(capacity, own_weight, active_weight)
    if mine >= share:
        ahead = mine - share + 1
        wait = ahead * max(mean_s, 0.0) * active_weight / own_weight
        return Refusal("account_share", _clamp_retry_after(wait), mine, share)
    total = sum(held.values())
    if total >= capacity:
        retry_after = compute_retry_after(total, AdmissionPolicy(capacity), mean_s)
        return Refusal("queue_full", retry_after or MIN_RETRY_AFTER_S, mine, share)
    return None


class AccountLedger:
    """The places of one bounded queue, per account (owned by the intake, in its thread). Only
    accounts holding a place are kept, and a place is taken only after `refusal` said None (the
    resumed blobs of a restart excepted, under the one `RESUMED_ACCOUNT`): the map never holds more
    than `capacity` + 1 accounts, however many addresses or accounts post."""

    def __init__(self, capacity: int, weights: AccountWeights | None = None) -> None:
        self.capacity = capacity
        self._weights = weights or EqualWeights()
        self._held: dict[str, int] = {}
        self.total = 0

    def refusal(self, account: str, mean_s: float) -> Refusal | None:
        """`compute_admission` for `account` now."""
        return compute_admission(account, self._held, self.capacity, mean_s, self._weights)

    def take(self, account: str) -> None:
        """`account` holds one more place."""
        self._held[account] = self._held.get(account, 0) + 1
        self.total += 1

    def release(self, account: str) -> None:
        """`account` gives one place back (it must hold one)."""
        held = self._held[account]
        if held == 1:
            del self._held[account]
        else:
            self._held[account] = held - 1
        self.total -= 1

    def held(self) -> dict[str, int]:
        """The places each account holds (a copy; accounts holding none absent)."""
        return dict(self._held)

    def held_by(self, account: str) -> int:
        """The places `account` holds."""
        return self._held.get(account, 0)

    @property
    def accounts(self) -> int:
        """Accounts holding at least one place."""
        return len(self._held)


class FairQueue(Generic[T]):
    """Items waiting for one server (the encoder), served round-robin across accounts (weighted: an
    account of weight w is served up to w items a turn), each account's items in order: one
    account's backlog delays its own items, not the next account's. Bounded by what is pushed (the
    intake pushes only admitted blobs)."""

    def __init__(self, weights: AccountWeights | None = None) -> None:
        self._weights = weights or EqualWeights()
        self._queues: OrderedDict[str, collections.deque[T]] = OrderedDict()
        self._turn_left: dict[str, int] = {}
        self._length = 0

    def push(self, account: str, item: T) -> None:
        """Queue `item` behind `account`'s earlier items."""
        queue = self._queues.get(account)
        if queue is None:
            queue = self._queues[account] = collections.deque()
            self._turn_left[account] = _weight(self._weights, account)
        queue.append(item)
        self._length += 1

    def pop(self) -> tuple[str, T]:
        """The next (account, item); raises `IndexError` when empty."""
        if not self._queues:
            raise IndexError("the fair queue is empty")
        account, queue = next(iter(self._queues.items()))
        item = queue.popleft()
        self._length -= 1
        self._turn_left[account] -= 1
        if not queue:
            del self._queues[account]
            del self._turn_left[account]
        elif self._turn_left[account] == 0:
            self._queues.move_to_end(account)
            self._turn_left[account] = _weight(self._weights, account)
        return account, item

    def __len__(self) -> int:
        return self._length
