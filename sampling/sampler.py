"""The light client's sampling state: which cells to ask, whom, and what came back. Pure, no I/O.

Cells are drawn without repetition from a caller-supplied random source (production passes
`secrets.SystemRandom()`, so peers cannot predict the draw; tests pass a seeded `random.Random`).
Each cell is asked from its custodians in turn, at most `max_attempts` times; a cell that no
custodian served validly is *missing*. Confidence counts verified cells only, so partial and failed
runs still report what they reached.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from da.constants import CELLS_PER_ROW
from da.types import CellCoordinate, ColumnIndex, RowIndex
from sampling.confidence import compute_confidence, compute_samples_needed

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

    @property
    def available(self) -> bool:
        """True when the verified cells reach the target confidence and no cell is missing."""
        return self.confidence >= self.target and self.missing == 0


class Sampler:
    """Plans, retries and tallies the samples of one data root."""

    def __init__(
        self, rows: int, target: float, chooser: random.Random, max_attempts: int = 3, extra: int = 0
    ) -> None:
        if rows < 1 or max_attempts < 1 or extra < 0:
            raise ValueError(f"invalid sampler: rows={rows} max_attempts={max_attempts} extra={extra}")
        self.rows = rows
        self.target = target
        self.max_attempts = max_attempts
        self.needed = compute_samples_needed(rows, target)
        total = rows * CELLS_PER_ROW
        picks = chooser.sample(range(total), min(total, self.needed + extra))
        self.cells = {
            coordinate: CellState(coordinate)
            for coordinate in (
                CellCoordinate(RowIndex(i // CELLS_PER_ROW), ColumnIndex(i % CELLS_PER_ROW)) for i in picks
            )
        }

    def plan(self, custodians_of: CustodiansOf) -> dict[PeerId, list[CellCoordinate]]:
        """The next request per peer: every open cell goes to its next untried custodian.

        A cell with no custodian left, or out of attempts, becomes missing.
        """
        batches: dict[PeerId, list[CellCoordinate]] = {}
        for state in self.cells.values():
            if state.result is not None:
                continue
            tried = {peer for peer, _ in state.attempts}
            candidates = [peer for peer in custodians_of(state.coordinate.column) if peer not in tried]
            if not candidates or len(state.attempts) >= self.max_attempts:
                state.result = Outcome.NOT_HELD if not state.attempts else state.attempts[-1][1]
                continue
            batches.setdefault(candidates[0], []).append(state.coordinate)
        return batches

    def record(self, coordinate: CellCoordinate, peer: PeerId, outcome: Outcome) -> None:
        """Record one attempt; a verified cell is closed, any other outcome leaves it for a retry."""
        state = self.cells.get(coordinate)
        if state is None or state.result is not None:
            return  # an answer for a cell we did not draw, or already settled: ignored
        state.attempts.append((peer, outcome))
        if outcome is Outcome.VERIFIED:
            state.result = Outcome.VERIFIED

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
            confidence=compute_confidence(self.rows, verified),
        )

    def failures_by_column(self) -> dict[ColumnIndex, int]:
        """How many failed attempts each column saw (for `follow`'s status API)."""
        counts: dict[ColumnIndex, int] = {}
        for state in self.cells.values():
            failed = sum(outcome is not Outcome.VERIFIED for _, outcome in state.attempts)
            if failed:
                counts[state.coordinate.column] = counts.get(state.coordinate.column, 0) + failed
        return counts
