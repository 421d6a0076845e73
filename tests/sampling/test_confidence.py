"""Confidence math: exact enumeration on small matrices, simulation on the real one."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

import pytest

from sampling.confidence import (
    MIN_CELLS_WITHHELD,
    compute_confidence,
    compute_samples_needed,
    compute_undetected_probability,
)
from sampling.errors import InvalidSamplingParameter


def _worst_case_by_enumeration(rows: int, columns: int, drawn: int) -> Fraction:
    """max over every unrecoverable withholding pattern of P(k distinct uniform draws all available)."""
    cells = [(r, c) for r in range(rows) for c in range(columns)]
    draws = list(itertools.combinations(cells, drawn))
    worst = Fraction(0)
    for mask in range(1 << len(cells)):
        withheld = {cells[i] for i in range(len(cells)) if mask >> i & 1}
        if not any(sum((r, c) in withheld for c in range(columns)) > columns // 2 for r in range(rows)):
            continue  # recoverable: every row keeps at least half its cells
        unnoticed = sum(not withheld.intersection(draw) for draw in draws)
        worst = max(worst, Fraction(unnoticed, len(draws)))
    return worst


@pytest.mark.parametrize(
    ("rows", "columns", "drawn"), [(1, 4, 1), (1, 4, 2), (2, 4, 1), (2, 4, 3), (3, 2, 2), (1, 6, 3)]
)
def test_formula_matches_exhaustive_enumeration(rows: int, columns: int, drawn: int) -> None:
    assert compute_undetected_probability(rows, drawn, columns) == _worst_case_by_enumeration(
        rows, columns, drawn
    )


def test_formula_matches_simulation_on_real_rows() -> None:
    chooser = random.Random(11)
    rows, drawn, trials = 2, 5, 40_000
    withheld = set(range(MIN_CELLS_WITHHELD))  # 65 cells of row 0
    unnoticed = sum(withheld.isdisjoint(chooser.sample(range(rows * 128), drawn)) for _ in range(trials))
    exact = float(compute_undetected_probability(rows, drawn))
    assert abs(unnoticed / trials - exact) < 0.01


def test_samples_needed_is_the_smallest_sufficient_count() -> None:
    for rows in (1, 2, 9, 17):
        for target in (0.99, 0.9999):
            needed = compute_samples_needed(rows, target)
            assert compute_confidence(rows, needed) >= target
            assert compute_confidence(rows, needed - 1) < target
    assert compute_samples_needed(1, 0.9999) == 13
    assert compute_samples_needed(9, 0.9999) == 148  # a 1 MiB blob, the figure in specs/sampling.md


def test_partial_runs_report_what_they_reached() -> None:
    assert compute_confidence(9, 0) == 0.0
    assert 0 < compute_confidence(9, 10) < compute_confidence(9, 100) < 1
    assert compute_confidence(1, 128 - MIN_CELLS_WITHHELD + 1) == 1.0


@pytest.mark.parametrize("bad", [(0, 1), (1, -1)])
def test_bad_arguments_are_rejected(bad: tuple[int, int]) -> None:
    with pytest.raises(InvalidSamplingParameter):
        compute_undetected_probability(*bad)
    with pytest.raises(InvalidSamplingParameter):
        compute_samples_needed(1, 1.0)
