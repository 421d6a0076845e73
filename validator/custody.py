"""Custody: which columns each slot of a quorum holds for a data root.

Slot `i` of the blob's quorum holds `CUSTODY_COLUMNS_PER_SLOT` distinct columns drawn by
SHA-256(DOMAIN_CUSTODY || data_root || uint64(i) || uint64(counter)). Custody is a public function,
so light clients and peers know whom to ask for a cell. A custodian of a column holds it over all 2R
rows of the 2D grid: it derives the column's R extended cells from the R original cells it was pushed
(`compute_extended_custody`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from da.constants import CELLS_PER_ROW
from da.extension import compute_extended_column_cells, compute_extended_column_proofs
from da.types import BlobHeader, ColumnIndex, DataRoot, GridSample, RowIndex, Sample
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


def compute_extended_custody(header: BlobHeader, samples: Iterable[Sample]) -> list[GridSample]:
    """The extended cells (rows R..2R-1, with their KZG proofs) of every custody column of which
    `samples` hold all R original cells; columns held only in part are skipped (they cannot be
    extended). The samples must be verified already: their proofs are combined without a subgroup
    check (`verified=True`), and a custodian serves what comes out as cells of the 2D grid
    (specs/das-core.md, "The 2D extension"). Raises `InvalidKZGInput` for a malformed cell or proof."""
    row_count = header.row_count
    columns: dict[ColumnIndex, dict[int, Sample]] = {}
    for sample in samples:
        if sample.row < row_count:
            columns.setdefault(sample.column, {})[sample.row] = sample
    extended: list[GridSample] = []
    for column in sorted(columns):
        held = columns[column]
        if len(held) != row_count:
            continue
        ordered = [held[row] for row in range(row_count)]
        cells = compute_extended_column_cells([sample.cell for sample in ordered])
        proofs = compute_extended_column_proofs([sample.proof for sample in ordered], verified=True)
        extended.extend(
            GridSample(row=RowIndex(row_count + i), column=column, cell=cell, proof=proof)
            for i, (cell, proof) in enumerate(zip(cells, proofs, strict=True))
        )
    return extended


def compute_grid_custody(header: BlobHeader, samples: Iterable[Sample]) -> tuple[GridSample, ...]:
    """What a custodian serves over the 2D grid from the verified custody cells `samples`: each as a
    `GridSample`, then the extended cells of every column held in whole (`compute_extended_custody`)."""
    samples = list(samples)
    originals = tuple(GridSample(s.row, s.column, s.cell, s.proof) for s in samples)
    return originals + tuple(compute_extended_custody(header, samples))
