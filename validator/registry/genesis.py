"""The one genesis builder: keys in encrypted keystores and an embedded registry where every validator
is staked from epoch 0 and has cast its epoch-0 ballot, with its escrow (and price) installed.
`das validator genesis` and `das devnet up` both build their network with it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from validator.errors import RegistryError
from validator.keys import SecretKey, compute_proof_of_possession
from validator.keystore import encrypt_keystore, write_keystore
from validator.payments.promise import PriceTerms
from validator.payments.sqlite_escrow import (
    DEFAULT_MIN_BILLED_BYTES,
    DEFAULT_PRICE_PER_BYTE,
    DEFAULT_WITHDRAWAL_DELAY_S,
    install_escrow,
)
from validator.presets import get_preset
from validator.registry.port import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.types import Epoch
from validator.vrf import compute_ballot, compute_genesis_seed

REGISTRY_FILE = "registry.sqlite"
KEYS_DIR = "keys"

GenesisProgress = Callable[[int, int], None]
"""Called with (validators created, validators wanted)."""


@dataclass(frozen=True, slots=True)
class GenesisSpec:
    """What the genesis holds: `validators` keys with `slots` slots of stake each."""

    validators: int
    password: str
    preset: str = "devnet"
    chain_id: int = 31337
    epoch_seconds: float = 600.0
    slots: int = 1
    kdf_params: Mapping[str, int] | None = None
    """Keystore scrypt parameters; None for EIP-2335's defaults, a weaker set for throwaway keys."""
    key_description: str = "tessera validator"
    price_per_byte: int = DEFAULT_PRICE_PER_BYTE
    """The embedded escrow's price (wei per billed byte), stored in the registry file."""
    min_billed_bytes: int = DEFAULT_MIN_BILLED_BYTES
    withdrawal_delay: int = DEFAULT_WITHDRAWAL_DELAY_S
    """Seconds an escrow withdrawal waits (longer than any node's settlement interval)."""

    def validate(self) -> GenesisSpec:
        """Return self, or raise `RegistryError` naming the bad field."""
        get_preset(self.preset)
        if self.validators < 1:
            raise RegistryError(f"validators must be 1 or more, got {self.validators}")
        if self.slots < 1:
            raise RegistryError(f"slots must be 1 or more, got {self.slots}")
        if not self.epoch_seconds > 0:
            raise RegistryError(f"epoch_seconds must be positive, got {self.epoch_seconds}")
        if min(self.price_per_byte, self.min_billed_bytes, self.withdrawal_delay) < 0:
            raise RegistryError("price_per_byte, min_billed_bytes and withdrawal_delay must be >= 0")
        return self


def get_keystore_path(directory: Path, number: int) -> Path:
    """Where genesis writes validator `number`'s keystore."""
    return directory / KEYS_DIR / f"validator-{number}.json"


def create_validator_key(directory: Path, spec: GenesisSpec, number: int) -> SecretKey:
    """A new BLS key for validator `number`, written encrypted to its keystore; returns the key."""
    secret_key = SecretKey.generate()
    keystore = encrypt_keystore(
        secret_key, spec.password, kdf_params=spec.kdf_params, description=f"{spec.key_description} {number}"
    )
    write_keystore(get_keystore_path(directory, number), keystore)
    return secret_key


def create_genesis(directory: Path, spec: GenesisSpec, progress: GenesisProgress | None = None) -> Path:
    """Write `directory/registry.sqlite` and `directory/keys/validator-I.json`; returns the registry
    path. Refuses an existing registry (`RegistryError`), so a network is never overwritten."""
    spec.validate()
    preset = get_preset(spec.preset)
    registry_path = directory / REGISTRY_FILE
    if registry_path.exists():
        raise RegistryError(f"{registry_path} already exists; choose another directory")
    info = RegistryInfo(spec.chain_id, preset.name, time.time(), spec.epoch_seconds)
    seed = compute_genesis_seed(info.chain_id, secrets.token_bytes(32))
    (directory / KEYS_DIR).mkdir(parents=True, exist_ok=True)
    with SqliteRegistry.create(registry_path, info, seed) as registry:
        for number in range(spec.validators):
            secret_key = create_validator_key(directory, spec, number)
            index = registry.register_validator(
                secret_key.pubkey,
                compute_proof_of_possession(secret_key),
                spec.slots * preset.STAKE_PER_SLOT,
                effective_epoch=Epoch(0),
            )
            ballot = compute_ballot(secret_key, index, info.chain_id, Epoch(0), seed)
            registry.put_ballot(ballot, genesis=True)
            if progress is not None:
                progress(number + 1, spec.validators)
    install_escrow(
        registry_path, PriceTerms(spec.price_per_byte, spec.min_billed_bytes), spec.withdrawal_delay
    )
    return registry_path
