"""Custody: which columns each slot of a quorum holds for a data root.

Slot `i` of the blob's quorum holds `CUSTODY_COLUMNS_PER_SLOT` distinct columns drawn by
SHA-256(DOMAIN_CUSTODY || data_root || uint64(i) || uint64(counter)). Custody is a public function,
so light clients and peers know whom to ask for a cell.
"""

from __future__ import annotations

import hashlib

from da.constants import CELLS_PER_ROW
from da.types import ColumnIndex, DataRoot
from validator.presets import Preset
from validator.signing import DOMAIN_CUSTODY
from validator.types import Quorum, SlotIndex, ValidatorIndex


def compute_custody_columns(data_root: DataRoot, slot: SlotIndex, count: int) -> tuple[ColumnIndex, ...]:
    """The `count` distinct columns slot `slot` holds for `data_root`, ascending."""
    chosen: set[ColumnIndex] = set()
    counter = 0
    prefix = DOMAIN_CUSTODY + data_root + slot.to_bytes(8, "little")
    while len(chosen) < min(count, CELLS_PER_ROW):
        digest = hashlib.sha256(prefix + counter.to_bytes(8, "little")).digest()
        chosen.add(ColumnIndex(int.from_bytes(digest[:8], "little") % CELLS_PER_ROW))
        counter += 1
    return tuple(sorted(chosen))


def compute_slot_custody(
    quorum: Quorum, data_root: DataRoot, preset: Preset
) -> tuple[tuple[ColumnIndex, ...], ...]:
    """The custody columns of every slot of `quorum`, by slot index."""
    return tuple(
        compute_custody_columns(data_root, SlotIndex(i), preset.CUSTODY_COLUMNS_PER_SLOT)
        for i in range(len(quorum.slots))
    )


def compute_member_custody(
    quorum: Quorum, data_root: DataRoot, preset: Preset
) -> dict[ValidatorIndex, frozenset[ColumnIndex]]:
    """For every member of `quorum`, the union of its slots' custody columns."""
    custody: dict[ValidatorIndex, set[ColumnIndex]] = {}
    for slot, columns in zip(quorum.slots, compute_slot_custody(quorum, data_root, preset), strict=True):
        custody.setdefault(slot.validator, set()).update(columns)
    return {validator: frozenset(columns) for validator, columns in custody.items()}
