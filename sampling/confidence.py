"""Confidence math of availability sampling (the normative text is `specs/sampling.md`).

A blob's extended matrix has `rows * 128` cells; any 64 cells of a row rebuild it. A blob is
unrecoverable only if some row lacks more than half its cells, so an adversary hiding the fewest
cells withholds `MIN_CELLS_WITHHELD` = 65 cells of one row. A client that verified `k` distinct
uniformly drawn cells missed such a blob with probability C(N - 65, k) / C(N, k), N = rows * 128;
every unrecoverable blob withholds at least that many cells, so this bounds them all.

When the quorum's custody covers only `s` of the 128 columns (custody is public, so the client
knows `s`), the cells of the other columns cannot be had from anyone, and a row is lost once more
than `s - 64` of its `s` served cells are withheld. Drawing uniformly among the `rows * s` served
cells, the same argument gives C(rows * s - (s - 63), k) / C(rows * s, k); with `s` = 128 it is the
formula above, and with `s` < 64 the blob is unrecoverable whatever is sampled.

The 2D extension (specs/das-core.md, "The 2D extension") adds R extended rows, so the grid is 2R x 128
and every column is a code too: any R of its 2R cells rebuild it. Rows and columns are then decoded
in turn until nothing changes; what is left stuck is a set of cells in which every touched row lacks
at least 65 cells and every touched column at least R + 1. So an unrecoverable grid withholds at
least (R + 1) x 65 cells (`compute_min_cells_withheld_2d`), and the `*_2d` functions give the same
hypergeometric bound over N = 2R x s served cells with w = (R + 1)(s - 63) withheld. The light client
keeps the 1D functions until it samples extended rows.
"""

from __future__ import annotations

from fractions import Fraction
from math import comb

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from sampling.errors import InvalidSamplingParameter

MIN_CELLS_WITHHELD = CELLS_PER_ROW - CELLS_NEEDED_TO_RECOVER_ROW + 1
"""Fewest cells whose loss makes a blob unrecoverable: just over half of one row."""


def compute_min_cells_withheld(served: int, columns: int = CELLS_PER_ROW) -> int:
    """Fewest withheld cells, among the `served` columns of a row of `columns`, that lose the row.

    A row of `columns` cells (rate 1/2) needs `columns // 2` of them; 0 when `served` is already
    too few to rebuild it.
    """
    if columns < 2 or columns % 2 or not 0 <= served <= columns:
        raise InvalidSamplingParameter(
            "served", (served, columns), "need even columns >= 2 and 0 <= served <= columns"
        )
    return max(0, served - columns // 2 + 1)


def is_recoverable_from(served: int, columns: int = CELLS_PER_ROW) -> bool:
    """True when `served` columns of a row of `columns` can rebuild it (at least half of them)."""
    return compute_min_cells_withheld(served, columns) > 0


def compute_undetected_probability(
    rows: int, verified: int, columns: int = CELLS_PER_ROW, served: int | None = None
) -> Fraction:
    """Exact P(all `verified` distinct uniform cells are available | a minimal unrecoverable blob).

    `columns` is the row width (128 in Tessera; smaller values let tests enumerate exhaustively);
    a row of `columns` cells is lost when more than half of them are withheld. Cells are drawn among
    the `served` columns (default: all); with fewer than half served, the result is 1 (no sample
    can show a blob available that cannot be rebuilt).
    """
    if rows < 1 or verified < 0 or columns < 2 or columns % 2:
        raise InvalidSamplingParameter(
            "rows, verified, columns",
            (rows, verified, columns),
            "need rows >= 1, verified >= 0, even columns >= 2",
        )
    width = columns if served is None else served
    withheld = compute_min_cells_withheld(width, columns)
    if withheld == 0:
        return Fraction(1)
    return _hypergeometric_miss(rows * width, withheld, verified)


def _hypergeometric_miss(total: int, withheld: int, verified: int) -> Fraction:
    """P(`verified` distinct uniform draws from `total` cells all miss `withheld` given cells)."""
    drawn = min(verified, total)
    return Fraction(comb(total - withheld, drawn), comb(total, drawn))


def compute_confidence(rows: int, verified: int, served: int = CELLS_PER_ROW) -> float:
    """Confidence that the blob is recoverable after `verified` distinct cells checked out.

    `served` is how many columns the custodians hold (the cells were drawn among those).
    """
    return float(1 - compute_undetected_probability(rows, verified, served=served))


def compute_samples_needed(rows: int, target: float, served: int = CELLS_PER_ROW) -> int:
    """Fewest distinct uniform cells whose verification reaches confidence `target` (0 < target < 1).

    Raises `InvalidSamplingParameter` when `served` columns cannot rebuild a row (no count is enough).
    """
    if not 0 < target < 1:
        raise InvalidSamplingParameter("target", target, "a confidence must be strictly between 0 and 1")
    withheld = compute_min_cells_withheld(served)
    if withheld == 0:
        raise InvalidSamplingParameter(
            "served", served, "too few columns to rebuild a row; no count is enough"
        )
    miss_allowed = Fraction(1) - Fraction(target)
    total = rows * served
    low, high = 0, total - withheld + 1  # at `high` a miss is impossible
    while low < high:
        middle = (low + high) // 2
        if compute_undetected_probability(rows, middle, served=served) <= miss_allowed:
            high = middle
        else:
            low = middle + 1
    return low


def compute_min_cells_withheld_2d(
    original_rows: int, served: int = CELLS_PER_ROW, columns: int = CELLS_PER_ROW
) -> int:
    """Fewest withheld cells, among the `served` columns of a 2D grid of 2R rows x `columns`, that
    make it unrecoverable: (R + 1) x (`served` - `columns` // 2 + 1); 0 when `served` columns are
    already too few to rebuild a row.

    A row of `columns` cells needs `columns // 2` of them, a column of 2R cells needs R. Cells of the
    columns nobody serves count as withheld; a row whose served cells lack `served - columns // 2 + 1`
    stays lost, and it takes R + 1 lost rows to leave a column stuck.
    """
    if original_rows < 1:
        raise InvalidSamplingParameter("original_rows", original_rows, "need at least one original row")
    return (original_rows + 1) * compute_min_cells_withheld(served, columns)


def compute_undetected_probability_2d(
    original_rows: int, verified: int, columns: int = CELLS_PER_ROW, served: int | None = None
) -> Fraction:
    """Exact P(all `verified` distinct uniform cells of a 2D grid are available | a minimal
    unrecoverable withholding), `original_rows` = R, the grid 2R x `columns`.

    C(N - w, k) / C(N, k) with N = 2R x s served cells and w = `compute_min_cells_withheld_2d`;
    every unrecoverable withholding hides at least w cells, so this bounds them all. 1 when the
    `served` columns (default: all) cannot rebuild a row.
    """
    if original_rows < 1 or verified < 0 or columns < 2 or columns % 2:
        raise InvalidSamplingParameter(
            "original_rows, verified, columns",
            (original_rows, verified, columns),
            "need original_rows >= 1, verified >= 0, even columns >= 2",
        )
    width = columns if served is None else served
    withheld = compute_min_cells_withheld_2d(original_rows, width, columns)
    if withheld == 0:
        return Fraction(1)
    return _hypergeometric_miss(2 * original_rows * width, withheld, verified)


def compute_confidence_2d(original_rows: int, verified: int, served: int = CELLS_PER_ROW) -> float:
    """Confidence that a 2D-extended blob of `original_rows` rows is recoverable after `verified`
    distinct cells, drawn uniformly over its 2R x `served` served cells, checked out."""
    return float(1 - compute_undetected_probability_2d(original_rows, verified, served=served))


def compute_samples_needed_2d(original_rows: int, target: float, served: int = CELLS_PER_ROW) -> int:
    """Fewest distinct uniform cells of the 2R x `served` grid whose verification reaches confidence
    `target` (0 < target < 1): 28 for 0.9999 at R = 9 (1 MiB) with every column served.

    Raises `InvalidSamplingParameter` when `served` columns cannot rebuild a row (no count is enough).
    """
    if not 0 < target < 1:
        raise InvalidSamplingParameter("target", target, "a confidence must be strictly between 0 and 1")
    withheld = compute_min_cells_withheld_2d(original_rows, served)
    if withheld == 0:
        raise InvalidSamplingParameter(
            "served", served, "too few columns to rebuild a row; no count is enough"
        )
    miss_allowed = Fraction(1) - Fraction(target)
    total = 2 * original_rows * served
    # A few dozen draws suffice at any size, so walk up from 0 (the product form of C(N-w,k)/C(N,k));
    # the miss reaches 0 at k = N - w + 1 at the latest.
    miss, drawn = Fraction(1), 0
    while miss > miss_allowed:
        miss *= Fraction(total - withheld - drawn, total - drawn)
        drawn += 1
    return drawn
