"""The registry: the port the daemon, `das cert verify` and the light client read and write
(`port`), and its backends (`sqlite`, the embedded one-host default)."""

from validator.registry.port import (
    STAKE_ACTIVATION_DELAY_EPOCHS,
    BallotBox,
    EpochSource,
    RegistryInfo,
    StakeLedger,
    ValidatorRegistry,
    compute_epoch,
)

__all__ = [
    "STAKE_ACTIVATION_DELAY_EPOCHS",
    "BallotBox",
    "EpochSource",
    "RegistryInfo",
    "StakeLedger",
    "ValidatorRegistry",
    "compute_epoch",
]
