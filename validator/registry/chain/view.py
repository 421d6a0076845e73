"""The registry as its event log says (pure: no RPC, no clock): validators, stake changes, endpoints
and ballots, and the epoch contexts derived from them with the rules of specs/validator.md.

`ChainRegistry` feeds it the contract's decoded events in chain order; everything a reader computes
(stake as of an epoch, seeds, which ballots count) is computed here, so it is tested without a chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from validator.errors import RegistryError
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


class InconsistentEvents(RegistryError):
    """Raised when the events handed to the view cannot be the registry's: an endpoint update or a
    stake change for a validator no registration introduced (a log is missing), or events out of
    block order. Nothing of the batch is kept (the caller rewinds it)."""

    def __init__(self, block: int, reason: str) -> None:
        super().__init__(f"registry events at block {block}: {reason}")
        self._reduce_args = (block, reason)
        self.block, self.reason = block, reason


_Undo = tuple[int, str, int, object]
"""A journal entry: (block, kind, validator or epoch, what the change replaced)."""


@dataclass
class RegistryView:
    """Everything the registry's events have said so far, and the seeds and verified ballots derived
    from them (computed once per epoch: a started epoch's inputs never change).

    Every change is journaled with its block, so a reorganized chain is followed by `rewind(block)`,
    which undoes the changes of later blocks and drops what was derived from them; entries at or
    below `prune_journal`'s block are forgotten (those blocks are final)."""

    chain_id: int
    genesis_seed: Seed
    validators: dict[ValidatorIndex, ChainValidator] = field(default_factory=dict)
    stake_changes: dict[ValidatorIndex, list[tuple[Epoch, int]]] = field(default_factory=dict)
    ballots: dict[Epoch, dict[ValidatorIndex, BLSSignature]] = field(default_factory=dict)
    _seeds: dict[Epoch, Seed] = field(default_factory=dict)
    _verified: dict[Epoch, tuple[Ballot, ...]] = field(default_factory=dict)
    _checked: dict[tuple[Epoch, ValidatorIndex], bool] = field(default_factory=dict)
    """Verdict per ballot: its signature (the first cast) and seed never change once it is seen."""
    _journal: list[_Undo] = field(default_factory=list)
    journal_floor: int = -1
    """The highest block whose changes were forgotten: `rewind` cannot go below it."""
    last_block: int = -1
    """The block of the latest event applied (events come in block order)."""

    # --- applying events ----------------------------------------------------------------------

    def apply(self, event: str, args: dict[str, object], block: int = 0) -> None:
        """Apply one decoded contract event (name and arguments as the ABI names them) of `block`;
        `InconsistentEvents` if it names a validator no registration introduced."""
        if block < self.last_block:
            raise InconsistentEvents(block, f"after an event of block {self.last_block}")
        self.last_block = block
        if event == "ValidatorRegistered":
            index = ValidatorIndex(_int(args["validator"]))
            if index in self.validators:
                raise InconsistentEvents(block, f"validator {index} registered twice")
            self.validators[index] = ChainValidator(
                index,
                str(args["account"]),
                BLSPubkey(_bytes(args["pubkey"])),
                BLSSignature(_bytes(args["proofOfPossession"])),
            )
            self._journal.append((block, "registered", index, None))
        elif event == "StakeChanged":
            index = self._known(block, args, "a stake change")
            change = (Epoch(_int(args["effectiveEpoch"])), _int(args["amount"]))
            self.stake_changes.setdefault(index, []).append(change)
            self._journal.append((block, "stake", index, None))
        elif event == "EndpointUpdated":
            index = self._known(block, args, "an endpoint update")
            record = self.validators[index]
            self._journal.append((block, "endpoint", index, (record.peer_id, record.multiaddrs)))
            record.peer_id = str(args["peerId"])
            multiaddrs = args["multiaddrs"]
            record.multiaddrs = (
                tuple(str(a) for a in multiaddrs) if isinstance(multiaddrs, list | tuple) else ()
            )
        elif event == "BallotCast":
            epoch = Epoch(_int(args["epoch"]))
            index = ValidatorIndex(_int(args["validator"]))
            cast = self.ballots.setdefault(epoch, {})
            # The contract takes one ballot per (epoch, validator); the first is kept regardless.
            if index not in cast:
                cast[index] = BLSSignature(_bytes(args["signature"]))
                self._journal.append((block, "ballot", epoch, index))

    def _known(self, block: int, args: dict[str, object], what: str) -> ValidatorIndex:
        index = ValidatorIndex(_int(args["validator"]))
        if index not in self.validators:
            raise InconsistentEvents(block, f"{what} for validator {index}, which no event registered")
        return index

    def rewind(self, block: int) -> Epoch | None:
        """Undo every change of the blocks after `block` (a reorganized chain no longer has them) and
        drop what was derived from them; returns the lowest epoch whose context they may have changed
        (None: none). `InconsistentEvents` if `block` is below `journal_floor` (rebuild the view)."""
        if block < self.journal_floor:
            raise InconsistentEvents(block, f"cannot rewind below block {self.journal_floor}")
        lowest: Epoch | None = None
        self.last_block = min(self.last_block, block)
        while self._journal and self._journal[-1][0] > block:
            _, kind, key, before = self._journal.pop()
            affected = self._undo(kind, key, before)
            if affected is not None and (lowest is None or affected < lowest):
                lowest = affected
        if lowest is not None:
            self.forget_derived(lowest)
        return lowest

    def _undo(self, kind: str, key: int, before: object) -> Epoch | None:
        index = ValidatorIndex(key)
        if kind == "registered":
            del self.validators[index]
            self.stake_changes.pop(index, None)
            self._checked = {k: v for k, v in self._checked.items() if k[1] != index}
            return None
        if kind == "stake":
            effective, _ = self.stake_changes[index].pop()
            return effective
        if kind == "endpoint":
            peer_id, multiaddrs = cast_endpoint(before)
            self.validators[index].peer_id, self.validators[index].multiaddrs = peer_id, multiaddrs
            return None
        epoch, voter = Epoch(key), ValidatorIndex(_int(before))
        del self.ballots[epoch][voter]
        return epoch

    def forget_derived(self, epoch: Epoch) -> None:
        """Drop the verified ballots of `epoch` and later, and the seeds that depend on them."""
        self._verified = {e: v for e, v in self._verified.items() if e < epoch}
        self._seeds = {e: s for e, s in self._seeds.items() if e <= epoch}
        self._checked = {k: v for k, v in self._checked.items() if k[0] < epoch}

    def prune_journal(self, block: int) -> None:
        """Forget the changes of `block` and before (final: no reorg reaches them)."""
        keep = [entry for entry in self._journal if entry[0] > block]
        if len(keep) != len(self._journal):
            self.journal_floor = max(self.journal_floor, block)
        self._journal = keep

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


def cast_endpoint(value: object) -> tuple[str, tuple[str, ...]]:
    """The (peer id, multiaddrs) a journal entry holds."""
    if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str)):
        raise TypeError("expected a journaled endpoint")
    return value[0], tuple(str(a) for a in value[1])
