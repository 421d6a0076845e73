"""The pure core's extensions for the light client: served columns, per-peer batch limits, deadlines,
pending roots. (The original properties live in tests/sampling/; these extend them.)"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da.types import ColumnIndex, DataRoot
from sampling.confidence import (
    MIN_CELLS_WITHHELD,
    compute_confidence,
    compute_min_cells_withheld,
    compute_samples_needed,
    compute_undetected_probability,
    is_recoverable_from,
)
from sampling.errors import InvalidSamplingParameter
from sampling.sampler import Outcome, Sampler
from sampling.store import PendingRoot, ResultStore
from tests.examples import examples

PEERS = [f"peer-{i}" for i in range(6)]


def custodians(column: ColumnIndex) -> list[str]:
    return [PEERS[(column + k) % len(PEERS)] for k in range(3)]


def _worst_case_served_by_enumeration(rows: int, columns: int, served: int, drawn: int) -> Fraction:
    """As above, when only the first `served` columns have a custodian: the others are always missing
    and the client draws among the served cells only."""
    cells = [(r, c) for r in range(rows) for c in range(served)]
    draws = list(itertools.combinations(cells, drawn))
    worst = Fraction(0)
    for mask in range(1 << len(cells)):
        withheld = {cells[i] for i in range(len(cells)) if mask >> i & 1}
        lost = [sum((r, c) in withheld for c in range(served)) + columns - served for r in range(rows)]
        if not any(count > columns // 2 for count in lost):
            continue
        unnoticed = sum(not withheld.intersection(draw) for draw in draws)
        worst = max(worst, Fraction(unnoticed, len(draws)))
    return worst


@pytest.mark.parametrize(
    ("rows", "columns", "served", "drawn"),
    [(1, 4, 3, 1), (1, 4, 3, 2), (2, 4, 3, 2), (2, 4, 2, 1), (1, 6, 5, 2), (2, 6, 4, 3), (1, 8, 6, 3)],
)
def test_served_columns_formula_matches_exhaustive_enumeration(
    rows: int, columns: int, served: int, drawn: int
) -> None:
    expected = _worst_case_served_by_enumeration(rows, columns, served, drawn)
    assert compute_undetected_probability(rows, drawn, columns, served=served) == expected


def test_served_columns_generalise_the_full_matrix() -> None:
    assert compute_min_cells_withheld(128) == MIN_CELLS_WITHHELD
    for rows, verified in ((1, 5), (9, 148), (17, 40)):
        full = compute_undetected_probability(rows, verified)
        assert compute_undetected_probability(rows, verified, served=128) == full
    # Fewer served columns leave the adversary less to withhold: more samples for the same target.
    needed = [compute_samples_needed(9, 0.9999, served) for served in (128, 115, 96, 70, 64)]
    assert needed == sorted(needed) and needed[0] == 148
    assert compute_confidence(9, needed[1], 115) >= 0.9999 > compute_confidence(9, needed[1] - 1, 115)


def test_too_few_served_columns_can_never_reach_any_confidence() -> None:
    assert not is_recoverable_from(63) and is_recoverable_from(64)
    assert compute_undetected_probability(9, 500, served=63) == 1
    assert compute_confidence(9, 500, served=63) == 0.0
    with pytest.raises(InvalidSamplingParameter):
        compute_samples_needed(9, 0.99, served=63)
    with pytest.raises(InvalidSamplingParameter):
        compute_min_cells_withheld(129)


@settings(max_examples=examples(30))
@given(rows=st.integers(1, 9), served=st.sets(st.integers(0, 127), max_size=63), seed=st.integers(0, 2**32))
def test_too_few_served_columns_leave_nothing_to_sample(rows: int, served: set[int], seed: int) -> None:
    columns = {ColumnIndex(c) for c in served}
    sampler = Sampler(rows, 0.99, random.Random(seed), max_attempts=3, columns=columns)
    assert sampler.served_columns == len(columns)
    # The blob cannot be rebuilt from these columns: nothing to sample, never available.
    assert sampler.cells == {} and sampler.finished
    assert sampler.summary().confidence == 0.0 and not sampler.summary().available


@settings(max_examples=examples(60))
@given(
    rows=st.integers(1, 9),
    # At least 64 served columns: the region where there is something to sample (a separate
    # property covers fewer); drawn from 0..127 so every subset size from 64 to 128 appears.
    served=st.sets(st.integers(0, 127), min_size=64, max_size=128),
    seed=st.integers(0, 2**32),
    limit=st.integers(1, 8),
    outcomes=st.lists(st.sampled_from(list(Outcome)), min_size=1, max_size=30),
)
def test_draws_stay_in_served_columns_and_batches_within_the_limit(
    rows: int, served: set[int], seed: int, limit: int, outcomes: list[Outcome]
) -> None:
    columns = {ColumnIndex(c) for c in served}
    sampler = Sampler(rows, 0.99, random.Random(seed), max_attempts=3, columns=columns)
    assert sampler.served_columns == len(columns) >= 64
    assert sampler.cells and not sampler.finished
    assert sampler.needed == compute_samples_needed(rows, 0.99, len(columns))
    assert all(c.column in columns and c.row < rows for c in sampler.cells)
    script = itertools.cycle(outcomes)
    # Rounds, bounded: each round records at least one attempt, and no cell takes more than
    # max_attempts (3), so len(cells) * 3 rounds is the most a finishing sampler can need. A fixed
    # 200 was too few for 362 cells at limit 1 with every attempt failing (202 rounds).
    for _ in range(len(sampler.cells) * 3):
        plan = sampler.plan(custodians, limit=limit)
        if not plan:
            break
        for peer, coordinates in plan.items():
            assert 1 <= len(coordinates) <= limit
            for coordinate in coordinates:
                assert peer in custodians(coordinate.column)
                assert peer not in {p for p, _ in sampler.cells[coordinate].attempts}
                sampler.record(coordinate, peer, next(script))
    assert sampler.finished
    summary = sampler.summary()
    assert summary.verified + summary.missing == len(sampler.cells)
    assert summary.failed == sum(
        o is not Outcome.VERIFIED for s in sampler.cells.values() for _, o in s.attempts
    )
    assert summary.confidence == compute_confidence(rows, summary.verified, len(columns))


def test_a_deadline_settles_open_cells_as_missing() -> None:
    sampler = Sampler(2, 0.99, random.Random(3))
    first = sampler.plan(custodians)
    peer, coordinates = next(iter(first.items()))
    sampler.record(coordinates[0], peer, Outcome.VERIFIED)
    sampler.record(coordinates[1], peer, Outcome.TIMEOUT)
    open_cells = len(sampler.cells) - 1
    assert sampler.give_up() == open_cells and sampler.finished
    summary = sampler.summary()
    assert summary.verified == 1 and summary.missing == open_cells and not summary.available
    assert sampler.cells[coordinates[1]].result is Outcome.TIMEOUT


def test_pending_roots_are_kept_until_finished(tmp_path: Path) -> None:
    roots = [DataRoot(bytes([i]) * 32) for i in range(3)]
    with ResultStore(tmp_path / "light.sqlite") as store:
        store.update_pending([PendingRoot(root, b"cert-%d" % i, float(i)) for i, root in enumerate(roots)])
        store.update_pending([], [roots[2]])  # dropped from a full backlog
        sampler = Sampler(1, 0.9, random.Random(1))
        for peer, coordinates in sampler.plan(custodians).items():
            for coordinate in coordinates:
                sampler.record(coordinate, peer, Outcome.VERIFIED)
        store.put(roots[0], sampler.summary(), {})
        store.update_pending([PendingRoot(roots[0], b"again", 9.0)])  # finished: not pending again
    with ResultStore(tmp_path / "light.sqlite") as reopened:
        assert reopened.get_pending() == [PendingRoot(roots[1], b"cert-1", 1.0)]


@settings(max_examples=examples(60))
@given(
    seed=st.integers(0, 2**32),
    max_attempts=st.integers(1, 3),
    outcomes=st.lists(st.sampled_from([Outcome.NOT_HELD, Outcome.TIMEOUT, Outcome.INVALID]), min_size=1),
)
def test_fallbacks_are_asked_once_each_after_the_custodians(
    seed: int, max_attempts: int, outcomes: list[Outcome]
) -> None:
    everyone = [f"member-{i}" for i in range(8)]

    def fallbacks(column: ColumnIndex) -> list[str]:
        return [peer for peer in everyone if peer not in custodians(column)]

    sampler = Sampler(1, 0.9, random.Random(seed), max_attempts=max_attempts)
    script = itertools.cycle(outcomes)
    for _ in range(50):
        plan = sampler.plan(custodians, fallbacks_of=fallbacks)
        if not plan:
            break
        for peer, coordinates in plan.items():
            for coordinate in coordinates:
                sampler.record(coordinate, peer, next(script))
    assert sampler.finished and sampler.summary().missing == len(sampler.cells)
    for state in sampler.cells.values():
        asked = [peer for peer, _ in state.attempts]
        column = state.coordinate.column
        assert asked == custodians(column)[:max_attempts] + fallbacks(column)  # in order, nobody twice
