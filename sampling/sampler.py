"""The light client's sampling state: which cells to ask, whom, and what came back. Pure, no I/O.

Cells are drawn without repetition from a caller-supplied random source (production passes
`secrets.SystemRandom()`, so peers cannot predict the draw; tests pass a seeded `random.Random`).
Each cell is asked from its custodians in turn, at most `max_attempts` times, then from its
fallbacks (peers that may hold it without custody), each once; a cell that nobody served validly is
*missing*. Confidence counts verified cells only, so partial and failed
runs still report what they reached.

With `grid=True` (the light client's way) cells are drawn uniformly over the blob's 2D grid, all 2R
rows (R original, R extended), and the confidence is the exact 2D bound
(`compute_confidence_2d`): about 30 cells at any size instead of a count growing with R.

Cells are drawn among the *served* columns only: those some custodian of the blob's quorum holds
(custody is public). The confidence formula accounts for the columns nobody holds
(`sampling.confidence`); with fewer than half the columns served the blob cannot be rebuilt, nothing
is drawn and the confidence is 0.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from da.constants import CELLS_PER_ROW
from da.types import CellCoordinate, ColumnIndex, RowIndex
from sampling.confidence import (
    compute_confidence,
    compute_confidence_2d,
    compute_samples_needed,
    compute_samples_needed_2d,
    is_recoverable_from,
)
from sampling.errors import InvalidSamplingParameter

PeerId = str
CustodiansOf = Callable[[ColumnIndex], Sequence[PeerId]]
"""Who holds a column (from the registry and the public custody function)."""


class Outcome(enum.Enum):
    """What one attempt at one cell produced."""

    VERIFIED = "verified"
    INVALID = "invalid"  # the peer served a cell whose proof failed: Byzantine data
    NOT_HELD = "not_held"  # the peer said it does not hold the cell
    TIMEOUT = "timeout"  # the peer did not answer in time


@dataclass
class CellState:
    """One drawn cell: the peers asked so far and how it ended (None while open)."""

    coordinate: CellCoordinate
    attempts: list[tuple[PeerId, Outcome]] = field(default_factory=list)
    result: Outcome | None = None


@dataclass(frozen=True)
class SamplingSummary:
    """What a run reached, for the verdict and the report."""

    target: float
    needed: int
    tried: int
    verified: int
    invalid: int
    missing: int
    confidence: float
    failed: int = 0
    """Attempts that did not verify (invalid, not held, timed out), over all cells."""
    served_columns: int = CELLS_PER_ROW
    """Columns some custodian holds; cells were drawn among these."""
    grid_rows: int = 0
    """Rows cells were drawn from: 2R for the 2D grid; 0 for the original rows only (1D)."""

    @property
    def available(self) -> bool:
        """True when the verified cells reach the target confidence and no cell is missing."""
        return self.confidence >= self.target and self.missing == 0


class Sampler:
    """Plans, retries and tallies the samples of one data root."""

    def __init__(
        self,
        rows: int,
        target: float,
        chooser: random.Random,
        max_attempts: int = 3,
        extra: int = 0,
        columns: Collection[ColumnIndex] | None = None,
        *,
        grid: bool = False,
    ) -> None:
        if rows < 1 or max_attempts < 1 or extra < 0:
            raise InvalidSamplingParameter(
                "rows, max_attempts, extra",
                (rows, max_attempts, extra),
                "need rows >= 1, attempts >= 1, extra >= 0",
            )
        served = sorted(set(range(CELLS_PER_ROW) if columns is None else columns))
        if any(not 0 <= column < CELLS_PER_ROW for column in served):
            raise InvalidSamplingParameter(
                "columns", served, f"served columns must lie in 0..{CELLS_PER_ROW - 1}"
            )
        self.rows = rows
        self.grid = grid
        self.grid_rows = 2 * rows if grid else rows
        """Rows drawn from: 2R over the 2D grid, else R."""
        self.target = target
        self.max_attempts = max_attempts
        self.served_columns = len(served)
        self.recoverable = is_recoverable_from(len(served))
        needed = compute_samples_needed_2d if grid else compute_samples_needed
        self.needed = needed(rows, target, len(served)) if self.recoverable else 0
        total = self.grid_rows * len(served)
        picks = chooser.sample(range(total), min(total, self.needed + extra)) if self.recoverable else []
        self.cells = {
            coordinate: CellState(coordinate)
            for coordinate in (
                CellCoordinate(RowIndex(i // len(served)), ColumnIndex(served[i % len(served)]))
                for i in picks
            )
        }

    def plan(
        self,
        custodians_of: CustodiansOf,
        limit: int | None = None,
        fallbacks_of: CustodiansOf | None = None,
    ) -> dict[PeerId, list[CellCoordinate]]:
        """The next request per peer: every open cell goes to its next untried custodian.

        With `limit`, a peer gets at most that many cells: a cell whose untried custodians are all
        full goes to the next one with room, or waits for a later round. Once a cell has no
        untried custodian left, or `max_attempts` attempts, it goes to its untried *fallbacks*
        (peers that may hold it without custody, e.g. the node that encoded the blob), if any; a
        cell with neither becomes missing. Every peer is asked for a cell at most once.
        """
        if limit is not None and limit < 1:
            raise InvalidSamplingParameter("limit", limit, "must be at least 1")
        batches: dict[PeerId, list[CellCoordinate]] = {}
        for state in self.cells.values():
            if state.result is not None:
                continue
            tried = {peer for peer, _ in state.attempts}
            candidates: list[PeerId] = []
            if len(state.attempts) < self.max_attempts:
                candidates = [peer for peer in custodians_of(state.coordinate.column) if peer not in tried]
            if not candidates and fallbacks_of is not None:
                candidates = [peer for peer in fallbacks_of(state.coordinate.column) if peer not in tried]
            if not candidates:
                state.result = Outcome.NOT_HELD if not state.attempts else state.attempts[-1][1]
                continue
            for peer in candidates:
                if limit is None or len(batches.get(peer, ())) < limit:
                    batches.setdefault(peer, []).append(state.coordinate)
                    break
        return batches

    def record(self, coordinate: CellCoordinate, peer: PeerId, outcome: Outcome) -> None:
        """Record one attempt; a verified cell is closed, any other outcome leaves it for a retry."""
        state = self.cells.get(coordinate)
        if state is None or state.result is not None:
            return  # an answer for a cell we did not draw, or already settled: ignored
        state.attempts.append((peer, outcome))
        if outcome is Outcome.VERIFIED:
            state.result = Outcome.VERIFIED

    def give_up(self) -> int:
        """Settle every open cell as missing (a deadline passed); returns how many were open."""
        given_up = 0
        for state in self.cells.values():
            if state.result is None:
                state.result = state.attempts[-1][1] if state.attempts else Outcome.TIMEOUT
                given_up += 1
        return given_up

    @property
    def finished(self) -> bool:
        """True when every drawn cell is settled (verified or given up)."""
        return all(state.result is not None for state in self.cells.values())

    def summary(self) -> SamplingSummary:
        """Counts and the confidence reached so far."""
        verified = sum(state.result is Outcome.VERIFIED for state in self.cells.values())
        missing = sum(
            state.result is not None and state.result is not Outcome.VERIFIED for state in self.cells.values()
        )
        return SamplingSummary(
            target=self.target,
            needed=self.needed,
            tried=sum(bool(state.attempts) for state in self.cells.values()),
            verified=verified,
            invalid=sum(o is Outcome.INVALID for s in self.cells.values() for _, o in s.attempts),
            missing=missing,
            confidence=(compute_confidence_2d if self.grid else compute_confidence)(
                self.rows, verified, self.served_columns
            )
            if self.recoverable
            else 0.0,
            failed=sum(o is not Outcome.VERIFIED for s in self.cells.values() for _, o in s.attempts),
            served_columns=self.served_columns,
            grid_rows=self.grid_rows if self.grid else 0,
        )

    def failures_by_column(self) -> dict[ColumnIndex, int]:
        """How many failed attempts each column saw (for `follow`'s status API)."""
        counts: dict[ColumnIndex, int] = {}
        for state in self.cells.values():
            failed = sum(outcome is not Outcome.VERIFIED for _, outcome in state.attempts)
            if failed:
                counts[state.coordinate.column] = counts.get(state.coordinate.column, 0) + failed
        return counts
