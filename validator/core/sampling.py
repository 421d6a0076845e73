"""How a member samples one blob (specs/validator.md, Sampling): which cells it draws, in which order
it asks each cell's custodians, and what a refusal, a timeout or an invalid answer does to a cell.

A refusal ("not held") or a timeout is not final: an honest custodian may simply not hold its custody
yet, or be busy. The cell moves on to its next custodian in this member's own rotation; after a full
round of refusals it rests for a backoff (doubling per round) and the round starts again, until the
duty's sampling window ends. A cell whose first round failed also brings one reserve cell into play,
so a withheld cell costs time only once. Only an invalid answer is final for a custodian: it is not
asked again in this duty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from da.types import CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.core.outputs import RequestSamples
from validator.core.state import CoreConfig, Duty, PendingSample
from validator.custody import compute_member_custody
from validator.presets import Preset
from validator.types import ValidatorIndex

DOMAIN_SAMPLE_DRAW = b"TESSERA_SAMPLE_DRAW_"
DOMAIN_CUSTODIAN_ORDER = b"TESSERA_CUSTODIAN_ORDER_"


@dataclass(frozen=True, slots=True)
class Exhausted:
    """Sampling cannot reach its target any more (every custodian of too many cells was faulty)."""

    detail: str


class DutySampler:
    """The sampling rules of one member; pure functions of a duty, `now` and the member's secret nonce."""

    def __init__(self, me: ValidatorIndex, nonce: bytes, preset: Preset, config: CoreConfig) -> None:
        self._me = me
        self._nonce = nonce
        self._preset = preset
        self._config = config

    # --- drawing ----------------------------------------------------------------------------------

    def draw(self, data_root: DataRoot, duty: Duty) -> list[CellCoordinate]:
        """Up to `VALIDATOR_SAMPLES + SAMPLE_REPLACEMENTS` distinct cells of the blob's 2D grid (all 2R
        rows) outside this member's custody columns that other members hold, in an order keyed by
        the secret nonce (peers cannot predict it).

        Cells whose rotation is sure to hold an honest member (`is_assured`) come first, so a
        minority of silent slots cannot decide whether an honest member attests; none at all when
        the member's own custody already holds enough columns to recover every row."""
        if len(duty.custody) >= CELLS_NEEDED_TO_RECOVER_ROW:
            return []
        custody = compute_member_custody(duty.quorum, data_root, self._preset)
        held_by_others = set().union(*(columns for member, columns in custody.items() if member != self._me))
        assured = {
            ColumnIndex(column): self.is_assured(duty, self._rotation(data_root, duty, custody, column))
            for column in range(CELLS_PER_ROW)
            if column not in duty.custody and column in held_by_others
        }
        candidates = [
            CellCoordinate(RowIndex(row), column)
            for row in range(2 * duty.header.row_count)  # the 2D grid: R original + R extended rows
            for column in assured
        ]
        keyed = sorted(
            candidates,
            key=lambda c: (not assured[c.column], self._key(DOMAIN_SAMPLE_DRAW, data_root, c.row, c.column)),
        )
        return keyed[: self._preset.VALIDATOR_SAMPLES + self._preset.SAMPLE_REPLACEMENTS]

    def custodians(self, data_root: DataRoot, duty: Duty, column: ColumnIndex) -> tuple[ValidatorIndex, ...]:
        """The other members holding `column`, in this member's own order (keyed by its nonce, so no
        custodian is every member's first choice), at most `SAMPLE_CUSTODIANS` of them."""
        custody = compute_member_custody(duty.quorum, data_root, self._preset)
        return self._rotation(data_root, duty, custody, column)

    def _rotation(
        self,
        data_root: DataRoot,
        duty: Duty,
        custody: dict[ValidatorIndex, frozenset[ColumnIndex]],
        column: int,
    ) -> tuple[ValidatorIndex, ...]:
        holders = [m for m in duty.quorum.members if m != self._me and column in custody[m]]
        keyed = sorted(holders, key=lambda m: self._key(DOMAIN_CUSTODIAN_ORDER, data_root, column, m))
        return tuple(keyed[: self._preset.SAMPLE_CUSTODIANS])

    @staticmethod
    def is_assured(duty: Duty, rotation: tuple[ValidatorIndex, ...]) -> bool:
        """The rotation's members hold more than `floor(Q/3)` of the quorum's `Q` slots, so under the
        adversary model at least one of them is honest and serves the cell once it holds custody."""
        slots = sum(len(duty.quorum.slots_of(member)) for member in rotation)
        return slots > len(duty.quorum.slots) // 3

    def _key(self, domain: bytes, data_root: DataRoot, *numbers: int) -> bytes:
        packed = b"".join(int(n).to_bytes(4, "little") for n in numbers)
        return hashlib.sha256(domain + self._nonce + data_root + packed).digest()

    # --- the life of a duty's cells ---------------------------------------------------------------

    def start(
        self, data_root: DataRoot, duty: Duty, now: float, holds_blob: bool = False
    ) -> list[CellCoordinate]:
        """Draw the duty's cells and open its window; the cells to ask now (none: attest at once).

        `holds_blob`: this member dispersed the blob itself (it encoded and holds every cell), so
        sampling its peers would teach it nothing: it draws no cells."""
        drawn = [] if holds_blob else self.draw(data_root, duty)
        samples = self._preset.VALIDATOR_SAMPLES
        duty.target = min(samples, len(drawn))
        duty.reserve = drawn[samples:][::-1]
        duty.deadline = now + self._config.sample_window_s
        for coordinate in drawn[:samples]:
            if not self._activate(data_root, duty, coordinate, now):
                self._bring_in(data_root, duty, now)
        return list(duty.pending)

    def resume(self, data_root: DataRoot, duty: Duty, now: float) -> list[CellCoordinate]:
        """A failed duty samples again: a fresh window, every unserved cell asked from its current turn,
        reserve cells brought in for cells that were dropped."""
        duty.deadline = now + self._config.sample_window_s
        for coordinate, pending in list(duty.pending.items()):
            if all(c in duty.faulty for c in pending.custodians):
                del duty.pending[coordinate]  # it can never be served: a reserve cell instead (below)
                continue
            if pending.current in duty.faulty:
                pending.turn = self._next_turn(pending, duty)
            pending.rounds = pending.tried = 0
            self._ask(pending, now)
        while len(duty.served) + len(duty.pending) < duty.target:
            if self._bring_in(data_root, duty, now) is None:
                break
        return list(duty.pending)

    def is_done(self, duty: Duty) -> bool:
        """Enough distinct cells were served to attest."""
        return len(duty.served) >= duty.target

    def served(self, duty: Duty, coordinate: CellCoordinate) -> None:
        """A valid sample of `coordinate` arrived (from any custodian asked so far, late or not)."""
        if duty.pending.pop(coordinate, None) is not None:
            duty.served.add(coordinate)

    def refused(
        self, data_root: DataRoot, duty: Duty, coordinate: CellCoordinate, now: float
    ) -> list[CellCoordinate] | Exhausted:
        """The current custodian of `coordinate` refused it, timed out on it or served it invalid: move
        the cell on. Returns the cells to ask now (this one, a spare, or nothing while it rests)."""
        pending = duty.pending[coordinate]
        live = [c for c in pending.custodians if c not in duty.faulty]
        if not live:  # every custodian of this cell served invalid data: it cannot be served
            del duty.pending[coordinate]
            return self._replace(data_root, duty, now, f"every custodian of {coordinate} served invalid data")
        pending.turn = self._next_turn(pending, duty)
        pending.tried += 1
        if pending.tried < len(live):
            self._ask(pending, now)
            return [coordinate]
        pending.tried = 0
        pending.rounds += 1
        pending.waiting = True
        backoff = self._config.sample_backoff_s * 2 ** (pending.rounds - 1)
        pending.deadline = now + min(backoff, self._config.max_sample_backoff_s)
        if pending.spared:
            return []
        pending.spared = True
        spare = self._bring_in(data_root, duty, now)
        return [] if spare is None else [spare]

    def due(self, duty: Duty, now: float) -> tuple[list[CellCoordinate], list[CellCoordinate]]:
        """On a tick: (cells whose answer timed out, cells whose rest ended), in (row, column) order."""
        late = sorted(
            (c for c, p in duty.pending.items() if now >= p.deadline), key=lambda c: (c.row, c.column)
        )
        timed_out = [c for c in late if not duty.pending[c].waiting]
        rested = [c for c in late if duty.pending[c].waiting]
        for coordinate in rested:
            self._ask(duty.pending[coordinate], now)
        return timed_out, rested

    def requests(
        self, data_root: DataRoot, duty: Duty, coordinates: list[CellCoordinate]
    ) -> list[RequestSamples]:
        """One batched request per custodian whose turn it is, ordered by custodian index."""
        batches: dict[ValidatorIndex, list[CellCoordinate]] = {}
        for coordinate in coordinates:
            pending = duty.pending.get(coordinate)
            if pending is not None and not pending.waiting:
                batch = batches.setdefault(pending.current, [])
                if coordinate not in batch:
                    batch.append(coordinate)
        return [RequestSamples(peer, data_root, tuple(batch)) for peer, batch in sorted(batches.items())]

    # --- helpers ----------------------------------------------------------------------------------

    def _activate(self, data_root: DataRoot, duty: Duty, coordinate: CellCoordinate, now: float) -> bool:
        """Start asking for `coordinate`; False (nothing changes) if every custodian of it is faulty."""
        pending = PendingSample(self.custodians(data_root, duty, coordinate.column), 0, now)
        if all(c in duty.faulty for c in pending.custodians):
            return False
        if pending.current in duty.faulty:
            pending.turn = self._next_turn(pending, duty)
        duty.pending[coordinate] = pending
        self._ask(pending, now)
        return True

    def _bring_in(self, data_root: DataRoot, duty: Duty, now: float) -> CellCoordinate | None:
        """The next reserve cell that can be asked, now pending; None when the reserve has none."""
        while duty.reserve:
            spare = duty.reserve.pop()
            if self._activate(data_root, duty, spare, now):
                return spare
        return None

    @staticmethod
    def _next_turn(pending: PendingSample, duty: Duty) -> int:
        count = len(pending.custodians)
        for step in range(1, count + 1):
            turn = (pending.turn + step) % count
            if pending.custodians[turn] not in duty.faulty:
                return turn
        return pending.turn

    def _ask(self, pending: PendingSample, now: float) -> None:
        pending.waiting = False
        pending.deadline = now + self._config.sample_timeout_s
        pending.asked.add(pending.current)

    def _replace(
        self, data_root: DataRoot, duty: Duty, now: float, detail: str
    ) -> list[CellCoordinate] | Exhausted:
        """A cell that can never be served was dropped: bring in a reserve cell, or report exhaustion
        when the target cannot be reached any more."""
        spare = self._bring_in(data_root, duty, now)
        if spare is not None:
            return [spare]
        if len(duty.served) + len(duty.pending) < duty.target:
            return Exhausted(f"{detail} and no replacement is left")
        return []
