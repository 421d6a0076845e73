"""Confidence math of availability sampling (the normative text is `specs/sampling.md`).

A blob's extended matrix has `rows * 128` cells; any 64 cells of a row rebuild it. A blob is
unrecoverable only if some row lacks more than half its cells, so an adversary hiding the fewest
cells withholds `MIN_CELLS_WITHHELD` = 65 cells of one row. A client that verified `k` distinct
uniformly drawn cells missed such a blob with probability C(N - 65, k) / C(N, k), N = rows * 128;
every unrecoverable blob withholds at least that many cells, so this bounds them all.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW

MIN_CELLS_WITHHELD = CELLS_PER_ROW - CELLS_NEEDED_TO_RECOVER_ROW + 1
"""Fewest cells whose loss makes a blob unrecoverable: just over half of one row."""


def compute_undetected_probability(rows: int, verified: int, columns: int = CELLS_PER_ROW) -> Fraction:
    """Exact P(all `verified` distinct uniform cells are available | a minimal unrecoverable blob).

    `columns` is the row width (128 in Tessera; smaller values let tests enumerate exhaustively);
    a row of `columns` cells is lost when more than half of them are withheld.
    """
    if rows < 1 or verified < 0 or columns < 2 or columns % 2:
        raise ValueError(
            f"need rows >= 1, verified >= 0, even columns >= 2; got {rows}, {verified}, {columns}"
        )
    total = rows * columns
    withheld = columns // 2 + 1
    drawn = min(verified, total)
    return Fraction(comb(total - withheld, drawn), comb(total, drawn))


def compute_confidence(rows: int, verified: int) -> float:
    """Confidence that the blob is recoverable after `verified` distinct cells checked out."""
    return float(1 - compute_undetected_probability(rows, verified))


def compute_samples_needed(rows: int, target: float) -> int:
    """Fewest distinct uniform cells whose verification reaches confidence `target` (0 < target < 1)."""
    if not 0 < target < 1:
        raise ValueError(f"target confidence must be strictly between 0 and 1, got {target}")
    miss_allowed = Fraction(1) - Fraction(target)
    total = rows * CELLS_PER_ROW
    low, high = 0, total - MIN_CELLS_WITHHELD + 1  # at `high` a miss is impossible
    while low < high:
        middle = (low + high) // 2
        if compute_undetected_probability(rows, middle) <= miss_allowed:
            high = middle
        else:
            low = middle + 1
    return low
