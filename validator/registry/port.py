"""The registry port: what the validator core reads (epoch contexts) and what operators change.

Ports are small Protocols declared here by their consumers; `validator.registry.sqlite` is the
embedded default (one SQLite file shared by a devnet's processes); `validator.registry.chain` reads
and writes the registry contract on an EVM chain over JSON-RPC.

Epoch rules (see `specs/validator.md`): a stake change made in epoch e takes effect at
e + STAKE_ACTIVATION_DELAY_EPOCHS, after a seed nobody could know at e (so new keys cannot be
ground against it); ballots for epoch e are accepted during epoch e - 1 (genesis ballots at
genesis) and are frozen when e starts; seed(e) = compute_next_seed(seed(e - 1), e - 1, ballots(e - 1)),
which becomes known when e - 1 starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self

from validator.keys import BLSPubkey, BLSSignature, SecretKey
from validator.presets import Preset, get_preset
from validator.types import Ballot, Epoch, EpochContext, ValidatorIndex

STAKE_ACTIVATION_DELAY_EPOCHS = 3
"""A stake change made in epoch e counts from epoch e + 3: its first ballots sign seed(e + 3),
derived from the ballots for e + 2, which are cast during e + 1, after the change was final."""


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """Network-wide facts fixed at genesis."""

    chain_id: int
    preset: str
    genesis_time: float
    epoch_seconds: float


def compute_epoch(now: float, genesis_time: float, epoch_seconds: float) -> Epoch:
    """The epoch at wall-clock time `now` (epoch 0 before and during the first period)."""
    if now <= genesis_time:
        return Epoch(0)
    return Epoch(int((now - genesis_time) // epoch_seconds))


def compute_latest_fixed_epoch(now: float, genesis_time: float, epoch_seconds: float) -> Epoch:
    """The latest epoch whose seed is fixed at `now`: `current + 1` once genesis has passed, since
    seed(e) mixes the ballots of e - 1, frozen when e - 1 starts; before genesis only epoch 0 (the
    genesis ballots that seed(1) mixes are still being cast)."""
    if now < genesis_time:
        return Epoch(0)
    return Epoch(compute_epoch(now, genesis_time, epoch_seconds) + 1)


class EpochSource(Protocol):
    """Read side: everything the pure core and certificate verification need about an epoch."""

    def get_info(self) -> RegistryInfo:
        """The network's genesis facts."""

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """Seed, active validators (stake as of `epoch`) and ballots of `epoch`."""


@dataclass(frozen=True, slots=True)
class StakeReceipt:
    """What an operator is told about a registration or stake change: whose, from which epoch it
    counts, and (on a chain) the transaction that made it."""

    validator: ValidatorIndex
    effective_epoch: Epoch
    transaction: str | None = None
    """The transaction hash (0x...); None for the embedded registry."""


class StakeLedger(Protocol):
    """Write side used by operators: register, deposit, withdraw."""

    @property
    def last_change(self) -> StakeReceipt | None:
        """The receipt of the last registration or stake change made through this handle."""

    def sign_registration(self, secret_key: SecretKey) -> BLSSignature:
        """The proof of possession this backend's `register_validator` takes for `secret_key`'s key
        (embedded: PopProve of the key; chain: a signature binding the key to the operator's account)."""

    def register_validator(
        self,
        pubkey: BLSPubkey,
        proof_of_possession: BLSSignature,
        stake: int,
        peer_id: str = "",
        multiaddrs: tuple[str, ...] = (),
    ) -> ValidatorIndex:
        """Add a validator (its PoP is checked); stake counts from the registry's current epoch +
        STAKE_ACTIVATION_DELAY_EPOCHS."""

    def change_stake(self, validator: ValidatorIndex, amount: int) -> Epoch:
        """Deposit (amount > 0) or withdraw (amount < 0); returns the epoch it takes effect (the
        registry's current epoch + STAKE_ACTIVATION_DELAY_EPOCHS)."""


class BallotBox(Protocol):
    """Write side used by daemons: publish ballots for the next epoch."""

    def put_ballot(self, ballot: Ballot) -> None:
        """Store a verified ballot for the epoch after the registry's current one."""


class ValidatorRegistry(EpochSource, BallotBox, Protocol):
    """What a validator daemon needs of its registry, whatever the backend: epoch contexts, the
    clock (the registry says which epoch it is: on a chain, the block number does), and a ballot box."""

    def current_epoch(self) -> Epoch:
        """The epoch now, by the registry's clock."""


class Registry(ValidatorRegistry, StakeLedger, Protocol):
    """A registry backend as `open_registry` returns it: every port, a lookup by key, and `close`
    (also as a context manager). Daemons, `das cert verify` and light clients hold this, never a
    backend class, so the chain backend drops in beside the embedded one."""

    def find_validator(self, pubkey: BLSPubkey) -> ValidatorIndex | None:
        """The index registered for `pubkey`, if any."""

    def update_endpoint(self, validator: ValidatorIndex, peer_id: str, multiaddrs: tuple[str, ...]) -> None:
        """Record where a validator's libp2p host can be reached (its own daemon does, at start)."""

    def close(self) -> None:
        """Release the backend's connection."""

    def __enter__(self) -> Self:
        """The registry itself."""

    def __exit__(self, *exc_info: object) -> None:
        """Close it."""


def get_registry_preset(registry: EpochSource) -> Preset:
    """The protocol preset the registry's network runs."""
    return get_preset(registry.get_info().preset)
