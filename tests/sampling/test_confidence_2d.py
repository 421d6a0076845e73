"""The 2D sampling bound (`sampling.confidence.*_2d`): the fewest withheld cells that make a 2D grid
unrecoverable, found exhaustively on small grids (and by rank over the real column code), the
issue's sample counts, simulation on a real-size grid, and properties of the formula."""

from __future__ import annotations

import random
from fractions import Fraction
from math import comb, prod

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sampling.confidence import (
    compute_confidence_2d,
    compute_min_cells_withheld_2d,
    compute_samples_needed,
    compute_samples_needed_2d,
    compute_undetected_probability,
    compute_undetected_probability_2d,
)
from sampling.errors import InvalidSamplingParameter
from tests.sampling.grid2d import (
    Grid,
    cell_functionals,
    is_determined,
    minimum_unrecoverable_withholding,
)

# (R, m): a 2R x 2m grid, at most 16 cells so that every withholding is tried.
SMALL_GRIDS = [(1, 1), (1, 2), (1, 3), (1, 4), (2, 1), (2, 2), (3, 1), (4, 1)]


@pytest.mark.parametrize(("original_rows", "half_width"), SMALL_GRIDS)
def test_the_fewest_withheld_cells_that_lose_a_small_grid_are_r_plus_1_by_m_plus_1(
    original_rows: int, half_width: int
) -> None:
    grid = Grid(original_rows, half_width)
    fewest = minimum_unrecoverable_withholding(grid)
    assert fewest == (original_rows + 1) * (half_width + 1)
    assert fewest == compute_min_cells_withheld_2d(original_rows, grid.columns, grid.columns)


@pytest.mark.parametrize(("original_rows", "half_width"), [(1, 2), (1, 3), (2, 2), (3, 1)])
def test_with_unserved_columns_the_fewest_are_r_plus_1_by_served_minus_m_plus_1(
    original_rows: int, half_width: int
) -> None:
    grid = Grid(original_rows, half_width)
    for served in range(grid.columns + 1):
        fewest = minimum_unrecoverable_withholding(grid, served)
        assert fewest == max(0, (original_rows + 1) * (served - half_width + 1)), served
        assert fewest == compute_min_cells_withheld_2d(original_rows, served, grid.columns), served


@pytest.mark.parametrize(("original_rows", "half_width"), [(1, 2), (2, 2), (3, 1)])
def test_iterative_decoding_agrees_with_the_real_column_code_on_the_smallest_losses(
    original_rows: int, half_width: int
) -> None:
    """Over the BLS12-381 field with `da.row_domain`'s coefficients: every set of fewer than
    (R + 1)(m + 1) withheld cells leaves the data determined (so the column code is MDS and
    iterative decoding loses nothing there), and an (R + 1) x (m + 1) block does not."""
    grid = Grid(original_rows, half_width)
    forms = cell_functionals(grid)
    everything = (1 << grid.cells) - 1
    fewest = (original_rows + 1) * (half_width + 1)
    for size in range(fewest):
        for withheld in grid.masks_of_size(size):
            assert not grid.stuck(withheld)
            assert is_determined(forms, everything & ~withheld), bin(withheld)
    block = sum(
        1 << (row * grid.columns + column)
        for row in range(original_rows - 1, 2 * original_rows)
        for column in range(half_width + 1)
    )
    assert block.bit_count() == fewest
    assert grid.stuck(block) == block
    assert not is_determined(forms, everything & ~block)


def test_the_issues_figures() -> None:
    assert compute_samples_needed_2d(9, 0.9999) == 28
    assert compute_samples_needed_2d(64, 0.9999) == 31
    assert compute_samples_needed_2d(9, 0.999999) == 42
    assert compute_samples_needed_2d(64, 0.999999) == 47
    assert compute_samples_needed_2d(9, 0.9999, served=115) == 32
    assert compute_samples_needed_2d(64, 0.9999, served=115) == 36
    # the limit: the withheld fraction tends to 65/256, i.e. (1 - 65/256)^k <= 10^-4
    assert compute_samples_needed_2d(10**6, 0.9999) == 32
    assert compute_samples_needed_2d(10**6, 0.999999) == 48
    assert compute_samples_needed(9, 0.9999) == 148  # 1D, for comparison


def test_samples_needed_is_the_smallest_sufficient_count() -> None:
    for original_rows in (1, 2, 9, 67, 265):
        for served in (64, 100, 128):
            for target in (0.99, 0.9999, 0.999999):
                needed = compute_samples_needed_2d(original_rows, target, served)
                assert compute_confidence_2d(original_rows, needed, served) >= target
                assert compute_confidence_2d(original_rows, needed - 1, served) < target


def test_the_formula_matches_simulation_on_a_real_size_grid() -> None:
    """R = 9: the minimal pattern (R + 1) x 65 withheld of 18 x 128, 28 distinct uniform draws."""
    chooser = random.Random(30)
    original_rows, drawn, trials = 9, 28, 40_000
    withheld = {row * 128 + column for row in range(original_rows + 1) for column in range(65)}
    grid_cells = range(2 * original_rows * 128)
    unnoticed = sum(withheld.isdisjoint(chooser.sample(grid_cells, drawn)) for _ in range(trials))
    exact = float(compute_undetected_probability_2d(original_rows, drawn))
    assert exact < 1e-4
    assert abs(unnoticed / trials - exact) < 0.001


def test_too_few_served_columns_or_bad_arguments_are_refused() -> None:
    assert compute_undetected_probability_2d(9, 50, served=63) == 1
    assert compute_confidence_2d(9, 50, served=63) == 0.0
    with pytest.raises(InvalidSamplingParameter):
        compute_samples_needed_2d(9, 0.9999, served=63)
    with pytest.raises(InvalidSamplingParameter):
        compute_samples_needed_2d(9, 1.0)
    for bad in [(0, 1), (1, -1)]:
        with pytest.raises(InvalidSamplingParameter):
            compute_undetected_probability_2d(*bad)
    with pytest.raises(InvalidSamplingParameter):
        compute_min_cells_withheld_2d(0)


@given(
    original_rows=st.integers(1, 300),
    served=st.integers(64, 128),
    verified=st.integers(0, 400),
)
def test_the_miss_probability_is_a_falling_hypergeometric_tail(
    original_rows: int, served: int, verified: int
) -> None:
    miss = compute_undetected_probability_2d(original_rows, verified, served=served)
    assert 0 <= miss <= 1
    assert compute_undetected_probability_2d(original_rows, verified + 1, served=served) <= miss
    total = 2 * original_rows * served
    withheld = (original_rows + 1) * (served - 63)
    drawn = min(verified, total)  # more draws than cells draw them all
    assert miss == Fraction(comb(total - withheld, drawn), comb(total, drawn))
    assert miss == prod((Fraction(total - withheld - i, total - i) for i in range(drawn)), start=Fraction(1))


@given(original_rows=st.integers(2, 300), served=st.integers(64, 128), verified=st.integers(0, 400))
def test_2d_misses_no_more_often_than_1d_while_draws_fit_in_r_minus_1_rows(
    original_rows: int, served: int, verified: int
) -> None:
    """Factor by factor, w2 / (N2 - i) >= w1 / (N1 - i) iff i <= (R - 1) s: the 2D grid withholds a
    larger share of its cells than the 1D matrix does, as long as draws have not used up that room."""
    if verified > (original_rows - 1) * served + 1:
        return
    two_d = compute_undetected_probability_2d(original_rows, verified, served=served)
    assert two_d <= compute_undetected_probability(original_rows, verified, served=served)


@given(original_rows=st.integers(1, 300), served=st.integers(64, 128))
def test_more_samples_never_lower_confidence_and_more_rows_never_need_fewer(
    original_rows: int, served: int
) -> None:
    needed = compute_samples_needed_2d(original_rows, 0.9999, served)
    assert compute_samples_needed_2d(original_rows + 1, 0.9999, served) >= needed
    assert compute_confidence_2d(original_rows, needed + 1, served) >= compute_confidence_2d(
        original_rows, needed, served
    )
