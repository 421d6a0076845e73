"""Byzantine behaviours, as data the fuzzer draws: how a node or the disperser misbehaves.

To add a behaviour: add an enum member here, implement it where the simulator consults it
(`fuzz/sim.py`: `_answer` for serving samples, `_byzantine_receive` for what a node does with
messages, `DisperserPolicy.apply` for the disperser), and give it a rule or a weight in
`fuzz/consensus.py`. See fuzz/README.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from da.types import Cell, ColumnIndex, Sample
from validator.types import ValidatorIndex


class NodeBehaviour(enum.Enum):
    """How a validator behaves. Everything but HONEST counts as adversarial (its slots are)."""

    HONEST = "honest"
    SILENT = "silent"  # never answers, never attests
    WITHHOLD = "withhold"  # takes custody, then answers "not held" to every sample request
    CORRUPT_SAMPLES = "corrupt_samples"  # serves cells with a flipped bit
    SIGN_ANYTHING = "sign_anything"  # attests (and forges) without custody, via fuzzer rules
    BAD_EXTENSION = "bad_extension"  # takes custody; serves original rows honestly, extended rows wrong


@dataclass(frozen=True)
class DisperserPolicy:
    """What the disperser does to the custody it pushes (honest: nothing).

    `skip` members get nothing; `withheld` columns are left out of every push; `corrupt` members get
    one flipped bit in their first cell (different cells for different members).
    """

    skip: frozenset[ValidatorIndex] = field(default_factory=frozenset)
    withheld: frozenset[ColumnIndex] = field(default_factory=frozenset)
    corrupt: frozenset[ValidatorIndex] = field(default_factory=frozenset)

    @property
    def honest(self) -> bool:
        """True when the disperser sends every member exactly its custody cells."""
        return not (self.skip or self.withheld or self.corrupt)

    def apply(self, member: ValidatorIndex, samples: list[Sample]) -> list[Sample] | None:
        """The cells `member` actually receives, or None when it receives nothing."""
        if member in self.skip:
            return None
        kept = [s for s in samples if s.column not in self.withheld]
        if member in self.corrupt and kept:
            first = kept[0]
            kept[0] = replace(first, cell=Cell(bytes([first.cell[0], first.cell[1] ^ 1]) + first.cell[2:]))
        return kept
