"""The custody-coverage bound, recomputed exactly from the presets, and checked against enumeration."""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

from validator.presets import DEVNET, MAINNET
from validator.security import (
    compute_coverage_distribution,
    compute_custody_failure_bound,
    compute_undercoverage_probability,
)


def test_mainnet_meets_two_to_the_minus_forty() -> None:
    bound = compute_custody_failure_bound(MAINNET)
    assert bound < Fraction(1, 2**40)
    assert math.log2(bound) < MAINNET.CUSTODY_FAILURE_LOG2_MAX
    assert round(math.log2(bound), 1) == -125.4  # the figure specs/consensus.md states


def test_devnet_states_its_own_bound() -> None:
    bound = compute_custody_failure_bound(DEVNET)
    assert round(math.log2(bound), 1) == -40.4
    assert math.log2(bound) < DEVNET.CUSTODY_FAILURE_LOG2_MAX
    # A 4-validator devnet has one 4-slot quorum: no guarantee at all (documented in specs/).
    assert compute_custody_failure_bound(DEVNET, quorum_slots=4) == 1


def test_fewer_columns_per_slot_would_break_the_mainnet_bound() -> None:
    """The constant is not slack: 8 columns per slot fails 2^-40 once the adversary picks signers."""
    from dataclasses import replace  # noqa: PLC0415

    weaker = replace(MAINNET, CUSTODY_COLUMNS_PER_SLOT=8)
    assert compute_custody_failure_bound(weaker) > Fraction(1, 2**40)


def test_distribution_matches_exact_enumeration_on_a_small_matrix() -> None:
    total, columns, slots = 8, 3, 3
    subsets = list(itertools.combinations(range(total), columns))
    counts = [0] * (total + 1)
    for choice in itertools.product(subsets, repeat=slots):
        counts[len(set().union(*choice))] += 1
    enumerated = [Fraction(c, len(subsets) ** slots) for c in counts]
    assert compute_coverage_distribution(slots, columns, total) == enumerated


def test_undercoverage_matches_simulation() -> None:
    chooser = random.Random(5)
    slots, columns, trials = 6, 16, 20_000
    under = sum(
        len(set().union(*(chooser.sample(range(128), columns) for _ in range(slots)))) < 64
        for _ in range(trials)
    )
    exact = float(compute_undercoverage_probability(slots, columns))
    assert abs(under / trials - exact) < 4 * math.sqrt(exact * (1 - exact) / trials) + 1e-3
