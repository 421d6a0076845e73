"""The custody-coverage bound of `specs/consensus.md`, computed exactly from a preset's constants.

Question: a certificate has signers holding >= threshold of a quorum's Q slots, and at most
floor(Q/3) slots are adversarial, so at least h = threshold - a of its signed slots are honest.
If those honest slots together hold fewer than 64 distinct columns, the blob cannot be rebuilt
from honest custody. Each slot's columns are a uniformly random C-subset of the 128 columns
(custody is a hash of the data root). The adversary (which may also be the disperser) chooses
which honest members receive cells and so which of them sign: the bound takes a union over every
choice of h honest slots out of Q - a, maximised over a.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from validator.presets import Preset


def compute_coverage_distribution(
    slots: int, columns_per_slot: int, total: int = CELLS_PER_ROW
) -> list[Fraction]:
    """Exact distribution of the number of distinct columns covered by `slots` random C-subsets."""
    distribution = [Fraction(0)] * (total + 1)
    distribution[0] = Fraction(1)
    draws = comb(total, columns_per_slot)
    for _ in range(slots):
        following = [Fraction(0)] * (total + 1)
        for covered, probability in enumerate(distribution):
            if not probability:
                continue
            for new in range(columns_per_slot + 1):
                old = columns_per_slot - new
                if new > total - covered or old > covered:
                    continue
                ways = comb(total - covered, new) * comb(covered, old)
                following[covered + new] += probability * Fraction(ways, draws)
        distribution = following
    return distribution


def compute_undercoverage_probability(
    slots: int, columns_per_slot: int, needed: int = CELLS_NEEDED_TO_RECOVER_ROW
) -> Fraction:
    """P(`slots` random custody sets cover fewer than `needed` distinct columns)."""
    return sum(compute_coverage_distribution(slots, columns_per_slot)[:needed], Fraction(0))


def compute_custody_failure_bound(preset: Preset, quorum_slots: int | None = None) -> Fraction:
    """Worst-case probability that a certificate's honest signers cannot rebuild the blob.

    max over a in [0, floor(Q/3)] of C(Q - a, t - a) * P(t - a slots cover < 64 columns), with t the
    certificate threshold of a quorum of Q slots (Q defaults to the preset's `QUORUM_SLOTS`).
    """
    size = quorum_slots if quorum_slots is not None else preset.QUORUM_SLOTS
    threshold = preset.certificate_threshold(size)
    worst = Fraction(0)
    for adversarial in range(size // 3 + 1):
        honest_signers = threshold - adversarial
        choices = comb(size - adversarial, honest_signers)
        bound = choices * compute_undercoverage_probability(honest_signers, preset.CUSTODY_COLUMNS_PER_SLOT)
        worst = max(worst, bound)
    return min(worst, Fraction(1))
