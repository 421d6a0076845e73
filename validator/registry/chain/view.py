"""The registry as its event log says (pure: no RPC, no clock): validators, stake changes, endpoints
and ballots, and the epoch contexts derived from them with the rules of specs/validator.md.

`ChainRegistry` feeds it the contract's decoded events in chain order; everything a reader computes
(stake as of an epoch, seeds, which ballots count) is computed here, so it is tested without a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from validator.keys import BLSPubkey, BLSSignature
from validator.types import Ballot, Epoch, EpochContext, Seed, ValidatorIndex, ValidatorRecord
from validator.vrf import compute_next_seed, verify_ballot


@dataclass
class ChainValidator:
    """One registered validator as the events describe it."""

    index: ValidatorIndex
    account: str
    pubkey: BLSPubkey
    proof_of_possession: BLSSignature
    peer_id: str = ""
    multiaddrs: tuple[str, ...] = ()


@dataclass
class RegistryView:
    """Everything the registry's events have said so far, and the seeds and verified ballots derived
    from them (computed once per epoch: a started epoch's inputs never change)."""

    chain_id: int
    genesis_seed: Seed
    validators: dict[ValidatorIndex, ChainValidator] = field(default_factory=dict)
    stake_changes: dict[ValidatorIndex, list[tuple[Epoch, int]]] = field(default_factory=dict)
    ballots: dict[Epoch, dict[ValidatorIndex, BLSSignature]] = field(default_factory=dict)
    _seeds: dict[Epoch, Seed] = field(default_factory=dict)
    _verified: dict[Epoch, tuple[Ballot, ...]] = field(default_factory=dict)
    _checked: dict[tuple[Epoch, ValidatorIndex], bool] = field(default_factory=dict)
    """Verdict per ballot: its signature (the first cast) and seed never change once it is seen."""

    # --- applying events ----------------------------------------------------------------------

    def apply(self, event: str, args: dict[str, object]) -> None:
        """Apply one decoded contract event (name and arguments as the ABI names them)."""
        if event == "ValidatorRegistered":
            index = ValidatorIndex(_int(args["validator"]))
            self.validators[index] = ChainValidator(
                index,
                str(args["account"]),
                BLSPubkey(_bytes(args["pubkey"])),
                BLSSignature(_bytes(args["proofOfPossession"])),
            )
        elif event == "StakeChanged":
            index = ValidatorIndex(_int(args["validator"]))
            change = (Epoch(_int(args["effectiveEpoch"])), _int(args["amount"]))
            self.stake_changes.setdefault(index, []).append(change)
        elif event == "EndpointUpdated":
            record = self.validators[ValidatorIndex(_int(args["validator"]))]
            record.peer_id = str(args["peerId"])
            multiaddrs = args["multiaddrs"]
            record.multiaddrs = (
                tuple(str(a) for a in multiaddrs) if isinstance(multiaddrs, list | tuple) else ()
            )
        elif event == "BallotCast":
            epoch = Epoch(_int(args["epoch"]))
            # The contract takes one ballot per (epoch, validator); the first is kept regardless.
            self.ballots.setdefault(epoch, {}).setdefault(
                ValidatorIndex(_int(args["validator"])), BLSSignature(_bytes(args["signature"]))
            )

    # --- derived ------------------------------------------------------------------------------

    def stake_at(self, index: ValidatorIndex, epoch: Epoch) -> int:
        """The validator's stake in `epoch`: the sum of its changes effective at or before it."""
        return sum(amount for effective, amount in self.stake_changes.get(index, ()) if effective <= epoch)

    def balance(self, index: ValidatorIndex) -> int:
        """Every recorded change, pending ones included (the contract's withdraw bound)."""
        return sum(amount for _, amount in self.stake_changes.get(index, ()))

    def verified_ballots(self, epoch: Epoch, *, frozen: bool) -> tuple[Ballot, ...]:
        """The ballots of `epoch` that verify against their validator's key and seed(epoch), in
        validator order. The contract verifies each ballot when it is cast; a reader checks again, so
        it does not depend on the contract, and leaves out one that fails, the same for every reader.
        Cached once `frozen` (the epoch has started on chain)."""
        if epoch in self._verified:
            return self._verified[epoch]
        seed = self.seed(epoch)
        ballots = []
        for index, signature in sorted(self.ballots.get(epoch, {}).items()):
            ballot = Ballot(index, epoch, signature)
            key = (epoch, index)
            if key not in self._checked:
                record = self.validators.get(index)
                self._checked[key] = record is not None and verify_ballot(
                    record.pubkey, ballot, self.chain_id, seed
                )
            if self._checked[key]:
                ballots.append(ballot)
        if frozen:
            self._verified[epoch] = tuple(ballots)
        return tuple(ballots)

    def seed(self, epoch: Epoch) -> Seed:
        """seed(epoch) by the rule of specs/validator.md, iteratively from the genesis seed. The caller
        bounds `epoch` (only seeds whose ballots are frozen may be asked for)."""
        known = max((e for e in self._seeds if e <= epoch), default=None)
        seed = self.genesis_seed if known is None else self._seeds[known]
        current = Epoch(0) if known is None else known
        while current < epoch:
            seed = compute_next_seed(seed, current, self.verified_ballots(current, frozen=True))
            current = Epoch(current + 1)
            self._seeds[current] = seed
        return seed

    def context(self, epoch: Epoch, *, frozen: bool) -> EpochContext:
        """The epoch context of `epoch`: its seed, every validator with positive stake in it (current
        endpoints), and its verified ballots."""
        validators = tuple(
            ValidatorRecord(v.index, v.pubkey, v.proof_of_possession, stake, v.peer_id, v.multiaddrs)
            for v in sorted(self.validators.values(), key=lambda v: v.index)
            if (stake := self.stake_at(v.index, epoch)) > 0
        )
        ballots = self.verified_ballots(epoch, frozen=frozen)
        return EpochContext(self.chain_id, epoch, self.seed(epoch), validators, ballots)

    def find(self, pubkey: BLSPubkey) -> ValidatorIndex | None:
        """The index registered for `pubkey`, if any."""
        return next((v.index for v in self.validators.values() if v.pubkey == pubkey), None)


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer event field, got {type(value).__name__}")
    return value


def _bytes(value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise TypeError(f"expected a bytes event field, got {type(value).__name__}")
    return bytes(value)
