"""Typed values of the validator core: indices as NewTypes, records and messages as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

from da.types import DataRoot
from validator.keys import BLSPubkey, BLSSignature

ValidatorIndex = NewType("ValidatorIndex", int)
Epoch = NewType("Epoch", int)
QuorumIndex = NewType("QuorumIndex", int)
SlotIndex = NewType("SlotIndex", int)
"""A slot's position inside its quorum (0-based); custody and signer bits are by this index."""
Seed = NewType("Seed", bytes)
VRFOutput = NewType("VRFOutput", bytes)


@dataclass(frozen=True, slots=True)
class ValidatorRecord:
    """A registered validator as of one epoch: identity, stake and where to reach it."""

    index: ValidatorIndex
    pubkey: BLSPubkey
    proof_of_possession: BLSSignature
    stake: int
    peer_id: str
    multiaddrs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ballot:
    """A validator's VRF ballot for an epoch: its BLS signature over the ballot message."""

    validator: ValidatorIndex
    epoch: Epoch
    signature: BLSSignature


@dataclass(frozen=True, slots=True)
class Slot:
    """One unit of stake in the quorum draw: validator, its k-th slot, and the slot's VRF value."""

    validator: ValidatorIndex
    ordinal: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Quorum:
    """The slots of one quorum for one epoch, in draw order (position = `SlotIndex`)."""

    epoch: Epoch
    index: QuorumIndex
    slots: tuple[Slot, ...]

    @property
    def members(self) -> tuple[ValidatorIndex, ...]:
        """Distinct validators holding slots in this quorum, in order of their first slot."""
        return tuple(dict.fromkeys(slot.validator for slot in self.slots))

    def slots_of(self, validator: ValidatorIndex) -> tuple[SlotIndex, ...]:
        """Positions of `validator`'s slots in this quorum (empty if it is not a member)."""
        return tuple(SlotIndex(i) for i, slot in enumerate(self.slots) if slot.validator == validator)


@dataclass(frozen=True, slots=True)
class EpochContext:
    """Everything the pure core needs about one epoch: seed, chain, active validators, ballots."""

    chain_id: int
    epoch: Epoch
    seed: Seed
    validators: tuple[ValidatorRecord, ...]
    ballots: tuple[Ballot, ...]

    def get_validator(self, index: ValidatorIndex) -> ValidatorRecord | None:
        """The record of validator `index`, or None if it is not active this epoch."""
        for record in self.validators:
            if record.index == index:
                return record
        return None


@dataclass(frozen=True, slots=True)
class Attestation:
    """A quorum member's signed statement that it holds its custody cells of `data_root`."""

    epoch: Epoch
    quorum: QuorumIndex
    data_root: DataRoot
    validator: ValidatorIndex
    signature: BLSSignature


@dataclass(frozen=True, slots=True)
class Certificate:
    """Proof that signers holding >= 2/3 of a quorum's slots attested to `data_root`."""

    data_root: DataRoot
    epoch: Epoch
    quorum: QuorumIndex
    signers: tuple[bool, ...]
    signature: BLSSignature

    @property
    def signed_slots(self) -> int:
        """How many of the quorum's slots are marked as signed."""
        return sum(self.signers)
