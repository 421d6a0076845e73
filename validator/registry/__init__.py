"""The registry: the ports the daemon, `das cert verify` and the light client read and write
(`port`), its backends (`sqlite`, the embedded one-host default), `backends.open_registry` that
picks one by location, and the genesis builder (`genesis`)."""

from validator.registry.port import (
    STAKE_ACTIVATION_DELAY_EPOCHS,
    BallotBox,
    EpochSource,
    Registry,
    RegistryInfo,
    StakeLedger,
    StakeReceipt,
    ValidatorRegistry,
    compute_epoch,
    compute_latest_fixed_epoch,
    get_registry_preset,
)

__all__ = [
    "STAKE_ACTIVATION_DELAY_EPOCHS",
    "BallotBox",
    "EpochSource",
    "Registry",
    "RegistryInfo",
    "StakeLedger",
    "StakeReceipt",
    "ValidatorRegistry",
    "compute_epoch",
    "compute_latest_fixed_epoch",
    "get_registry_preset",
]
