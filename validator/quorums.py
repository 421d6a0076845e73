"""Quorum formation: slots from stake and ballots, sorted by VRF value, cut into quorums.

All functions are pure and deterministic: the same epoch context gives the same quorums on every
node and in every fuzz run.
"""

from __future__ import annotations

import hashlib

from da.types import DataRoot
from validator.presets import Preset
from validator.signing import DOMAIN_QUORUM_ASSIGNMENT
from validator.types import EpochContext, Quorum, QuorumIndex, Seed, Slot
from validator.vrf import compute_slot_count, compute_slot_value, compute_vrf_output, verify_ballot


def compute_slots(context: EpochContext, preset: Preset, *, verify_ballots: bool = True) -> list[Slot]:
    """Every slot of the epoch, sorted by value (ties by validator and ordinal).

    A validator takes part only with a ballot for this epoch (and, when `verify_ballots`, a valid
    one) and at least `STAKE_PER_SLOT` of stake. Registries that verify ballots on entry may pass
    `verify_ballots=False` to skip the pairing checks.
    """
    ballots = {ballot.validator: ballot for ballot in context.ballots if ballot.epoch == context.epoch}
    slots: list[Slot] = []
    for record in context.validators:
        ballot = ballots.get(record.index)
        if ballot is None:
            continue
        if verify_ballots and not verify_ballot(record.pubkey, ballot, context.chain_id, context.seed):
            continue
        output = compute_vrf_output(ballot.signature)
        for ordinal in range(compute_slot_count(record.stake, preset)):
            slots.append(Slot(record.index, ordinal, compute_slot_value(output, ordinal)))
    slots.sort(key=lambda slot: (slot.value, slot.validator, slot.ordinal))
    return slots


def cut_into_quorums(context: EpochContext, slots: list[Slot], preset: Preset) -> tuple[Quorum, ...]:
    """Cut sorted slots into quorums of exactly `QUORUM_SLOTS`; the remainder sits this epoch out.

    Every quorum has the size the custody bound of specs/consensus.md is computed for (a larger
    quorum can be weaker: the adversary's share of a third rounds up). With fewer than
    `QUORUM_SLOTS` slots in all, they form one smaller quorum with no such guarantee (a devnet case).
    """
    if not slots:
        return ()
    if len(slots) < preset.QUORUM_SLOTS:
        return (Quorum(context.epoch, QuorumIndex(0), tuple(slots)),)
    size = preset.QUORUM_SLOTS
    return tuple(
        Quorum(context.epoch, QuorumIndex(index), tuple(slots[index * size : (index + 1) * size]))
        for index in range(len(slots) // size)
    )


def compute_quorums(
    context: EpochContext, preset: Preset, *, verify_ballots: bool = True
) -> tuple[Quorum, ...]:
    """The quorums of the epoch described by `context`."""
    return cut_into_quorums(context, compute_slots(context, preset, verify_ballots=verify_ballots), preset)


def compute_blob_quorum(data_root: DataRoot, seed: Seed, quorum_count: int) -> QuorumIndex:
    """The quorum a blob is assigned to when its poster names none: H(data_root || seed) mod count."""
    digest = hashlib.sha256(DOMAIN_QUORUM_ASSIGNMENT + data_root + seed).digest()
    return QuorumIndex(int.from_bytes(digest[:8], "little") % max(quorum_count, 1))
