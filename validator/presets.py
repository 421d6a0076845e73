"""Protocol presets: `mainnet` (meets the 2^-40 custody bound with grinding margin) and `devnet`.

As consensus-specs has mainnet and minimal, Tessera has two presets; `specs/validator.md` holds their
tables (a test checks both agree) and `specs/consensus.md` the bound each one meets.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from validator.errors import InvalidPreset


@dataclass(frozen=True, slots=True)
class Preset:
    """Every consensus parameter that differs between networks; all units are in the names."""

    name: str
    STAKE_PER_SLOT: int
    MAX_SLOTS_PER_VALIDATOR: int
    QUORUM_SLOTS: int
    CUSTODY_COLUMNS_PER_SLOT: int
    VALIDATOR_SAMPLES: int
    CERTIFICATE_THRESHOLD_NUMERATOR: int
    CERTIFICATE_THRESHOLD_DENOMINATOR: int
    MAX_QUORUM_SLOTS: int
    SAMPLE_CUSTODIANS: int
    SAMPLE_REPLACEMENTS: int
    CUSTODY_FAILURE_LOG2_MAX: int
    """log2 of the largest custody-failure probability the preset may have (checked by a test)."""

    def validate(self) -> Preset:
        """Return self if the parameters are coherent, else raise `InvalidPreset` naming the field."""
        for field in fields(self):
            value = getattr(self, field.name)
            signed = field.name == "CUSTODY_FAILURE_LOG2_MAX"
            if field.name != "name" and (not isinstance(value, int) or (value < 0 and not signed)):
                raise InvalidPreset(field.name, value, "must be a non-negative integer")
        if self.QUORUM_SLOTS < 1 or self.MAX_QUORUM_SLOTS < 2 * self.QUORUM_SLOTS - 1:
            raise InvalidPreset("MAX_QUORUM_SLOTS", self.MAX_QUORUM_SLOTS, "must be >= 2*QUORUM_SLOTS-1")
        if not 1 <= self.CUSTODY_COLUMNS_PER_SLOT <= 128:
            raise InvalidPreset("CUSTODY_COLUMNS_PER_SLOT", self.CUSTODY_COLUMNS_PER_SLOT, "must be 1..128")
        if self.STAKE_PER_SLOT < 1 or self.MAX_SLOTS_PER_VALIDATOR < 1:
            raise InvalidPreset("STAKE_PER_SLOT", self.STAKE_PER_SLOT, "slots need positive stake")
        if not (0 < self.CERTIFICATE_THRESHOLD_NUMERATOR <= self.CERTIFICATE_THRESHOLD_DENOMINATOR):
            raise InvalidPreset(
                "CERTIFICATE_THRESHOLD_NUMERATOR", self.CERTIFICATE_THRESHOLD_NUMERATOR, "must be in (0, 1]"
            )
        return self

    def certificate_threshold(self, quorum_slots: int) -> int:
        """Smallest number of signed slots that certifies in a quorum of `quorum_slots` slots."""
        numerator = self.CERTIFICATE_THRESHOLD_NUMERATOR * quorum_slots
        return -(-numerator // self.CERTIFICATE_THRESHOLD_DENOMINATOR)


MAINNET = Preset(
    name="mainnet",
    STAKE_PER_SLOT=32 * 10**9,
    MAX_SLOTS_PER_VALIDATOR=16,
    QUORUM_SLOTS=64,
    CUSTODY_COLUMNS_PER_SLOT=12,
    VALIDATOR_SAMPLES=16,
    CERTIFICATE_THRESHOLD_NUMERATOR=2,
    CERTIFICATE_THRESHOLD_DENOMINATOR=3,
    MAX_QUORUM_SLOTS=256,
    SAMPLE_CUSTODIANS=8,
    SAMPLE_REPLACEMENTS=16,
    CUSTODY_FAILURE_LOG2_MAX=-40,
).validate()

DEVNET = Preset(
    name="devnet",
    STAKE_PER_SLOT=32 * 10**9,
    MAX_SLOTS_PER_VALIDATOR=4,
    QUORUM_SLOTS=8,
    CUSTODY_COLUMNS_PER_SLOT=32,
    VALIDATOR_SAMPLES=8,
    CERTIFICATE_THRESHOLD_NUMERATOR=2,
    CERTIFICATE_THRESHOLD_DENOMINATOR=3,
    MAX_QUORUM_SLOTS=256,
    SAMPLE_CUSTODIANS=8,
    SAMPLE_REPLACEMENTS=8,
    CUSTODY_FAILURE_LOG2_MAX=-40,
).validate()

PRESETS: dict[str, Preset] = {MAINNET.name: MAINNET, DEVNET.name: DEVNET}


def get_preset(name: str) -> Preset:
    """The preset called `name`; raises `InvalidPreset` for an unknown name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InvalidPreset("name", name, f"unknown preset; choose one of {sorted(PRESETS)}") from None
