"""Sampler state: draws never repeat, retries stay within their bound, results survive a restart."""

from __future__ import annotations

import itertools
import random
import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from da.types import ColumnIndex, DataRoot
from sampling.sampler import Outcome, Sampler
from sampling.store import PendingRoot, ResultStore, StoredResult
from tests.examples import examples

PEERS = [f"peer-{i}" for i in range(6)]


def custodians(column: ColumnIndex) -> list[str]:
    return [PEERS[(column + k) % len(PEERS)] for k in range(3)]


@settings(max_examples=examples(60))
@given(
    rows=st.integers(1, 17),
    target=st.sampled_from([0.9, 0.99, 0.9999]),
    seed=st.integers(0, 2**32),
    max_attempts=st.integers(1, 4),
    outcomes=st.lists(st.sampled_from(list(Outcome)), min_size=1, max_size=50),
)
def test_draws_unique_and_retries_bounded(
    rows: int, target: float, seed: int, max_attempts: int, outcomes: list[Outcome]
) -> None:
    sampler = Sampler(rows, target, random.Random(seed), max_attempts=max_attempts, extra=5)
    assert len(set(sampler.cells)) == len(sampler.cells) == min(rows * 128, sampler.needed + 5)
    script = itertools.cycle(outcomes)
    for _ in range(10 * max_attempts):  # rounds; bounded
        plan = sampler.plan(custodians)
        if not plan:
            break
        for peer, coordinates in plan.items():
            assert len(set(coordinates)) == len(coordinates)
            for coordinate in coordinates:
                assert peer in custodians(coordinate.column)
                sampler.record(coordinate, peer, next(script))
    assert sampler.finished
    for state in sampler.cells.values():
        assert len(state.attempts) <= max_attempts
        assert len({peer for peer, _ in state.attempts}) == len(state.attempts)  # never the same peer twice
    summary = sampler.summary()
    assert summary.verified + summary.missing == len(sampler.cells)


def test_results_survive_a_restart(tmp_path: Path) -> None:
    root = DataRoot(b"\x01" * 32)
    sampler = Sampler(2, 0.99, random.Random(1))
    for peer, coordinates in sampler.plan(custodians).items():
        for coordinate in coordinates:
            sampler.record(coordinate, peer, Outcome.VERIFIED)
    with ResultStore(tmp_path / "light.sqlite") as store:
        assert not store.is_finished(root)
        written = store.put(root, sampler.summary(), sampler.failures_by_column(), now=123.0)
    with ResultStore(tmp_path / "light.sqlite") as reopened:
        assert reopened.is_finished(root)
        assert reopened.get(root) == written
        assert written.status == "available" and written.confidence >= 0.99
        assert reopened.count() == 1


def test_invalid_cells_are_retried_elsewhere_and_counted() -> None:
    sampler = Sampler(1, 0.99, random.Random(2), max_attempts=2)
    first = sampler.plan(custodians)
    for peer, coordinates in first.items():
        for coordinate in coordinates:
            sampler.record(coordinate, peer, Outcome.INVALID)
    second = sampler.plan(custodians)
    assert sum(len(c) for c in second.values()) == len(sampler.cells)
    for peer, coordinates in second.items():
        for coordinate in coordinates:
            assert all(p != peer for p, _ in sampler.cells[coordinate].attempts)
            sampler.record(coordinate, peer, Outcome.VERIFIED)
    summary = sampler.summary()
    assert summary.available and summary.invalid == len(sampler.cells)
    assert sum(sampler.failures_by_column().values()) == len(sampler.cells)


ROOTS = [DataRoot(bytes([i]) * 32) for i in range(1, 5)]


class ResultStoreAcrossRestarts(RuleBasedStateMachine):
    """Arrivals, finished runs, drops and restarts in any order: the store always equals a model."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="tessera-results-"))
        self.store = ResultStore(self.directory / "light.sqlite")
        self.results: dict[DataRoot, StoredResult] = {}
        self.pending: dict[DataRoot, PendingRoot] = {}
        self.clock = 0.0

    @rule(root=st.sampled_from(ROOTS), payload=st.binary(min_size=1, max_size=8))
    def arrive(self, root: DataRoot, payload: bytes) -> None:
        self.clock += 1.0
        self.store.update_pending([PendingRoot(root, payload, self.clock)])
        if root not in self.results and root not in self.pending:
            self.pending[root] = PendingRoot(root, payload, self.clock)

    @rule(
        root=st.sampled_from(ROOTS),
        seed=st.integers(0, 2**16),
        outcomes=st.lists(st.sampled_from(list(Outcome)), min_size=1, max_size=8),
    )
    def finish(self, root: DataRoot, seed: int, outcomes: list[Outcome]) -> None:
        sampler = Sampler(1, 0.9, random.Random(seed), max_attempts=2)
        script = itertools.cycle(outcomes)
        for _ in range(4):  # rounds; bounded
            for peer, coordinates in sampler.plan(custodians).items():
                for coordinate in coordinates:
                    sampler.record(coordinate, peer, next(script))
        sampler.give_up()
        self.clock += 1.0
        written = self.store.put(root, sampler.summary(), sampler.failures_by_column(), now=self.clock)
        assert written.verified == sampler.summary().verified
        self.results[root] = written
        self.pending.pop(root, None)

    @rule(root=st.sampled_from(ROOTS))
    def drop(self, root: DataRoot) -> None:
        self.store.update_pending([], [root])
        self.pending.pop(root, None)

    @rule()
    def restart(self) -> None:
        self.store.close()
        self.store = ResultStore(self.directory / "light.sqlite")

    @invariant()
    def store_equals_the_model(self) -> None:
        assert self.store.get_pending() == sorted(
            self.pending.values(), key=lambda p: (p.arrived_at, p.data_root)
        )
        assert self.store.count() == len(self.results)
        for root in ROOTS:
            assert self.store.is_finished(root) == (root in self.results)
            assert self.store.get(root) == self.results.get(root)

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory, ignore_errors=True)


TestResultStoreAcrossRestarts = ResultStoreAcrossRestarts.TestCase
TestResultStoreAcrossRestarts.settings = settings(
    max_examples=examples(40), stateful_step_count=20, deadline=None
)
