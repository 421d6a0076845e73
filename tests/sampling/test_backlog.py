"""The `follow` backlog: bounded, keeps the newest, never refuses an arrival, reports its lag."""

from __future__ import annotations

from collections import deque

from hypothesis import given, settings
from hypothesis import strategies as st

from da.types import DataRoot
from sampling.backlog import Backlog
from tests.examples import examples

ROOTS = [DataRoot(bytes([i]) * 32) for i in range(12)]


@settings(max_examples=examples(100))
@given(
    capacity=st.integers(1, 5),
    steps=st.lists(st.tuples(st.sampled_from(["push", "pop", "done"]), st.integers(0, 11)), max_size=60),
)
def test_backlog_matches_a_model_that_drops_the_oldest(capacity: int, steps: list[tuple[str, int]]) -> None:
    backlog: Backlog[int] = Backlog(capacity)
    waiting: deque[DataRoot] = deque()
    active: set[DataRoot] = set()
    dropped = 0
    for now, (action, index) in enumerate(steps):
        root = ROOTS[index]
        if action == "push":
            result = backlog.push(root, index, float(now))
            if root in waiting or root in active:
                assert result is None
                continue
            expected = None
            if len(waiting) == capacity:
                expected = waiting.popleft()
                dropped += 1
            waiting.append(root)
            assert result == expected
        elif action == "pop":
            item = backlog.pop(float(now))
            if not waiting:
                assert item is None
                continue
            oldest = waiting.popleft()
            assert item is not None and item.data_root == oldest and item.item == ROOTS.index(oldest)
            active.add(oldest)
        else:
            backlog.done(root)
            active.discard(root)
        assert len(backlog) == len(waiting) <= capacity
        assert backlog.active == frozenset(active)
        assert backlog.lag(float(now)).count == len(waiting) and backlog.dropped == dropped


def test_lag_is_the_wait_of_the_oldest_root() -> None:
    backlog: Backlog[bytes] = Backlog(3)
    assert backlog.lag(5.0).seconds == 0.0
    backlog.push(ROOTS[0], b"", 10.0)
    backlog.push(ROOTS[1], b"", 12.0)
    assert backlog.lag(15.0).seconds == 5.0
    backlog.pop(15.0)
    assert backlog.lag(15.0).seconds == 3.0 and backlog.is_waiting(ROOTS[1]) and ROOTS[0] in backlog
