"""Differential test: the chain registry's pure reader (`RegistryView`, fed the events the contract would
emit) derives the same epoch contexts as the embedded SQLite registry from the same history of
registrations, stake changes, endpoint updates and ballots (specs/validator.md: Registry, Epoch rules,
The chain registry (EVM contract)).

Each step is applied to both registries. The contract's rules decide what happens on chain (a step it
would revert emits nothing, and SQLite must refuse it as well where it can tell); SQLite is told the
current epoch and refuses an invalid ballot on entry, while the chain takes any 96 bytes and readers
leave out what does not verify. The proof-of-possession field differs by design (PopProve in SQLite, a
signature binding the key to an account on chain) and is compared to what each side was given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.validator.network_fixture import CHAIN_ID, make_keys
from validator.errors import InvalidKeyMaterial, RegistryError, UnknownEpoch
from validator.keys import BLSSignature, bytes_to_signature, compute_proof_of_possession
from validator.presets import DEVNET
from validator.registry import STAKE_ACTIVATION_DELAY_EPOCHS, RegistryInfo, compute_latest_fixed_epoch
from validator.registry.chain.view import RegistryView
from validator.registry.sqlite import SqliteRegistry
from validator.signing import compute_registration_signing_root
from validator.types import Ballot, Epoch, EpochContext, Seed, ValidatorIndex
from validator.vrf import compute_ballot, compute_genesis_seed, compute_next_seed

S = DEVNET.STAKE_PER_SLOT
MAX_VALIDATORS = 6
LAST_EPOCH = 6
GENESIS_TIME = 1_000.0
EPOCH_SECONDS = 60.0
GENESIS_SEED = compute_genesis_seed(CHAIN_ID, b"view matches sqlite")
REGISTRY_ADDRESS = bytes.fromhex("5e" * 20)

# Keys and proofs are built once (BLS signing is the slow part). The last key never registers: it forges.
KEYS = make_keys(MAX_VALIDATORS + 1, b"view-vs-sqlite")
OUTSIDER = MAX_VALIDATORS
ACCOUNTS = tuple(hashlib.sha256(b"account" + bytes([i])).digest()[:20] for i in range(len(KEYS)))
POP_PROOFS = tuple(compute_proof_of_possession(key) for key in KEYS)
"""What SQLite verifies on registration (PopProve)."""
CHAIN_PROOFS = tuple(
    key.sign(compute_registration_signing_root(CHAIN_ID, REGISTRY_ADDRESS, account, key.pubkey))
    for key, account in zip(KEYS, ACCOUNTS, strict=True)
)
"""What the contract verifies on registration (the key bound to the account), as its event carries it."""
_SIGNED = KEYS[0].sign(b"\x00" * 32)
NOT_A_POINT = (
    bytes(96),  # no compression flag
    b"\xff" * 96,  # x not below the field modulus
    b"\x80" + bytes(95),  # x = 0: not a point of the subgroup
    b"\xc0" + bytes(94) + b"\x01",  # the infinity flag with a non-zero body
    _SIGNED[:-1] + bytes([_SIGNED[-1] ^ 1]),  # a real signature with one bit flipped
)
IDENTITY = b"\xc0" + bytes(95)
"""The point at infinity: a valid G2 encoding that is nobody's ballot."""

BallotKind = Literal["valid", "other key", "other seed", "other epoch", "not a point", "identity"]


@dataclass(frozen=True)
class Register:
    key: int
    slots: int
    peer_id: str
    multiaddrs: tuple[str, ...]


@dataclass(frozen=True)
class ChangeStake:
    validator: int
    amount: int
    """Stake units (gwei); negative for a withdrawal."""


@dataclass(frozen=True)
class UpdateEndpoint:
    validator: int
    peer_id: str
    multiaddrs: tuple[str, ...]


@dataclass(frozen=True)
class CastBallot:
    """A validator casts a ballot for the open epoch; forged unless `kind` is "valid"."""

    validator: int
    kind: BallotKind
    forger: int = OUTSIDER
    """The key that signs an "other key" ballot (the outsider when it is the validator's own)."""
    garbage: int = 0
    """Which of `NOT_A_POINT` a "not a point" ballot carries."""


@dataclass(frozen=True)
class Read:
    """A reader asks both registries for an epoch's context mid-history (clipped to what may be asked)."""

    epoch: int


@dataclass(frozen=True)
class Advance:
    """Genesis passes (the first time), then the clock moves to the next epoch (up to `LAST_EPOCH`)."""


Step = Register | ChangeStake | UpdateEndpoint | CastBallot | Read | Advance
"""`Register` names a key; the other steps by a validator name it by its index modulo the number
registered so far (none registered: the step does nothing, as the contract's NotAValidator)."""


@cache
def _sign_ballot(key: int, validator: ValidatorIndex, epoch: Epoch, seed: Seed) -> Ballot:
    return compute_ballot(KEYS[key], validator, CHAIN_ID, epoch, seed)


def comparable(context: EpochContext) -> EpochContext:
    """`context` without the proofs of possession, which differ between the backends by design."""
    records = tuple(replace(v, proof_of_possession=BLSSignature(b"")) for v in context.validators)
    return replace(context, validators=records)


class TwoRegistries:
    """A SQLite registry and the `RegistryView` of a contract that went through the same history."""

    def __init__(self, path: Path, label: Callable[[str], None] = lambda _: None) -> None:
        self.label = label
        """Where coverage labels go: Hypothesis's `event` in the property."""
        self.now = GENESIS_TIME - EPOCH_SECONDS
        info = RegistryInfo(CHAIN_ID, "devnet", GENESIS_TIME, EPOCH_SECONDS)
        self.sqlite = SqliteRegistry.create(path, info, GENESIS_SEED, clock=lambda: self.now)
        self.view = RegistryView(CHAIN_ID, GENESIS_SEED)
        self.events: list[tuple[str, dict[str, object]]] = []
        self.genesis_passed = False
        self.current = Epoch(0)
        self.keys: list[int] = []
        """The key of each validator index, in registration order as the contract assigns them."""
        self.cast: set[tuple[Epoch, ValidatorIndex]] = set()
        """The contract's `ballotCast`."""

    # --- the contract's clock -------------------------------------------------------------------

    def effective_epoch_now(self) -> Epoch:
        return Epoch(self.current + STAKE_ACTIVATION_DELAY_EPOCHS if self.genesis_passed else 0)

    def open_ballot_epoch(self) -> Epoch:
        return Epoch(self.current + 1 if self.genesis_passed else 0)

    def started(self, epoch: int) -> bool:
        """Whether `epoch` has started on chain: what `ChainRegistry` passes as `frozen`."""
        return self.genesis_passed and epoch <= self.current

    def emit(self, name: str, **args: object) -> None:
        self.events.append((name, args))
        self.view.apply(name, args)

    # --- steps ----------------------------------------------------------------------------------

    def apply(self, step: Step) -> None:
        match step:
            case Register():
                self.register(step)
            case ChangeStake() if self.keys:
                self.change_stake(step)
            case UpdateEndpoint(validator, peer_id, multiaddrs) if self.keys:
                index = self.validator(validator)
                self.sqlite.update_endpoint(index, peer_id, multiaddrs)
                self.emit("EndpointUpdated", validator=index, peerId=peer_id, multiaddrs=list(multiaddrs))
            case CastBallot() if self.keys:
                self.cast_ballot(step)
            case Read(epoch):
                # Only epochs whose seed is fixed may be asked for (epoch 0 alone before genesis):
                # see the regression test at the end of this file.
                bound = compute_latest_fixed_epoch(self.now, GENESIS_TIME, EPOCH_SECONDS)
                self.check(Epoch(min(epoch, bound)), self.view)
            case Advance():
                self.advance()
            case _:
                pass  # NotAValidator on chain: no validator to act yet

    def validator(self, which: int) -> ValidatorIndex:
        return ValidatorIndex(which % len(self.keys))

    def register(self, step: Register) -> None:
        key = KEYS[step.key]
        if step.key in self.keys:  # AccountAlreadyRegistered
            with pytest.raises(RegistryError, match="already registered"):
                self.sqlite.register_validator(key.pubkey, POP_PROOFS[step.key], S)
            return
        effective = self.effective_epoch_now()
        index = self.sqlite.register_validator(
            key.pubkey,
            POP_PROOFS[step.key],
            step.slots * S,
            step.peer_id,
            step.multiaddrs,
            effective_epoch=None if self.genesis_passed else Epoch(0),
        )
        assert index == len(self.keys)
        self.keys.append(step.key)
        account = "0x" + ACCOUNTS[step.key].hex()
        self.emit(
            "ValidatorRegistered",
            validator=index,
            account=account,
            pubkey=key.pubkey,
            proofOfPossession=CHAIN_PROOFS[step.key],
        )
        self.emit("StakeChanged", validator=index, amount=step.slots * S, effectiveEpoch=effective)
        self.emit("EndpointUpdated", validator=index, peerId=step.peer_id, multiaddrs=list(step.multiaddrs))

    def change_stake(self, step: ChangeStake) -> None:
        index = self.validator(step.validator)
        # SQLite takes the chain's before-genesis rule (changes count from epoch 0) as an override.
        at_genesis = None if self.genesis_passed else Epoch(0)
        if -step.amount > self.view.balance(index):  # WithdrawalExceedsStake
            self.label("withdrawal refused")
            with pytest.raises(RegistryError, match="cannot withdraw"):
                self.sqlite.change_stake(index, step.amount, effective_epoch=at_genesis)
            return
        effective = self.effective_epoch_now()
        assert self.sqlite.change_stake(index, step.amount, effective_epoch=at_genesis) == effective
        self.emit("StakeChanged", validator=index, amount=step.amount, effectiveEpoch=effective)

    def cast_ballot(self, step: CastBallot) -> None:
        index, epoch = self.validator(step.validator), self.open_ballot_epoch()
        if (epoch, index) in self.cast:
            # BallotAlreadyCast: the chain gives no second chance after a forged ballot (SQLite,
            # which refused the forgery, would take a valid one), so SQLite is not told either.
            return
        seed = self.sqlite.get_seed(epoch)
        assert self.view.seed(epoch) == seed  # the signer's seed, whichever registry it reads
        ballot = self.forge(step, index, epoch, seed)
        self.cast.add((epoch, index))
        self.emit("BallotCast", epoch=epoch, validator=index, signature=ballot.signature)
        if step.kind == "valid":
            self.sqlite.put_ballot(ballot, genesis=not self.genesis_passed)
        else:
            self.label(f"forged ballot ({step.kind}) refused by SQLite")
            with pytest.raises(RegistryError, match="does not verify"):
                self.sqlite.put_ballot(ballot, genesis=not self.genesis_passed)

    def forge(self, step: CastBallot, index: ValidatorIndex, epoch: Epoch, seed: Seed) -> Ballot:
        """The ballot `step` casts: valid, or signed by another key, over another seed or epoch, or
        96 bytes that are no signature of anyone's."""
        key = self.keys[index]
        match step.kind:
            case "valid":
                return _sign_ballot(key, index, epoch, seed)
            case "other key":
                return _sign_ballot(step.forger if step.forger != key else OUTSIDER, index, epoch, seed)
            case "other seed":
                return _sign_ballot(key, index, epoch, Seed(hashlib.sha256(seed).digest()))
            case "other epoch":
                wrong = _sign_ballot(key, index, Epoch(epoch + 1), seed)
                return Ballot(index, epoch, wrong.signature)
            case "not a point":
                return Ballot(index, epoch, BLSSignature(NOT_A_POINT[step.garbage % len(NOT_A_POINT)]))
            case "identity":
                return Ballot(index, epoch, BLSSignature(IDENTITY))

    def advance(self) -> None:
        if not self.genesis_passed:
            self.genesis_passed = True
        elif self.current < LAST_EPOCH:
            self.current = Epoch(self.current + 1)
        self.now = GENESIS_TIME + (self.current + 0.5) * EPOCH_SECONDS
        assert self.sqlite.current_epoch() == self.current

    # --- the property -------------------------------------------------------------------------

    def check(self, epoch: Epoch, view: RegistryView) -> None:
        """`view`'s context of `epoch` (frozen once it has started) equals SQLite's, and each side
        carries the proofs of possession it was given."""
        expected = self.sqlite.get_epoch_context(epoch)
        actual = view.context(epoch, frozen=self.started(epoch))
        assert comparable(actual) == comparable(expected)
        assert all(v.proof_of_possession == CHAIN_PROOFS[self.keys[v.index]] for v in actual.validators)
        assert all(v.proof_of_possession == POP_PROOFS[self.keys[v.index]] for v in expected.validators)

    def fresh_view(self) -> RegistryView:
        """A reader that syncs the whole log only now."""
        view = RegistryView(CHAIN_ID, GENESIS_SEED)
        for name, args in self.events:
            view.apply(name, args)
        return view


@contextmanager
def two_registries(path: Path, label: Callable[[str], None] = lambda _: None) -> Iterator[TwoRegistries]:
    both = TwoRegistries(path, label)
    try:
        yield both
    finally:
        both.sqlite.close()


def _half_slots(halves: int, withdraw: bool) -> int:
    return (-halves if withdraw else halves) * S // 2


def actions(validators: int) -> st.SearchStrategy[Step]:
    """One step within an epoch (every kind but `Advance`), with one of the first `validators` keys."""
    key = st.integers(0, validators - 1)
    validator = st.integers(0, MAX_VALIDATORS - 1)
    peer_id = st.sampled_from(["", "12D3KooWAlpha", "12D3KooWBeta"])
    multiaddrs = st.lists(
        st.sampled_from(["/ip4/127.0.0.1/tcp/4001", "/ip6/::1/udp/9000/quic-v1"]), max_size=3
    )
    forged = st.sampled_from(["other key", "other seed", "other epoch", "not a point", "identity"])
    register = st.builds(Register, key, st.integers(1, 4), peer_id, multiaddrs.map(tuple))
    valid_ballot = st.builds(CastBallot, validator, st.just("valid"))
    return st.one_of(
        register,
        register,
        st.builds(ChangeStake, validator, st.builds(_half_slots, st.integers(1, 8), st.booleans())),
        st.builds(UpdateEndpoint, validator, peer_id, multiaddrs.map(tuple)),
        valid_ballot,
        valid_ballot,
        st.builds(
            CastBallot, validator, forged, st.integers(0, OUTSIDER), st.integers(0, len(NOT_A_POINT) - 1)
        ),
        st.builds(Read, st.integers(0, LAST_EPOCH + 1)),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[Step]:
    """The steps before genesis, then those of each epoch from 0 on, with `Advance` between."""
    validators = draw(st.integers(1, MAX_VALIDATORS))
    epochs = draw(st.integers(0, LAST_EPOCH + 1))  # epochs reached after genesis (0: none)
    history: list[Step] = []
    for phase in range(epochs + 1):
        history.extend([Advance()] if phase else [])
        history.extend(draw(st.lists(actions(validators), max_size=10)))
    return history


@settings(max_examples=examples(40), deadline=None)
@given(history=histories())
def test_the_view_derives_the_contexts_sqlite_does(
    history: list[Step], tmp_path_factory: pytest.TempPathFactory
) -> None:
    note("history:\n" + "\n".join(f"    {step!r}" for step in history))  # shown for a failing case
    with two_registries(tmp_path_factory.mktemp("registry") / "r.sqlite", event) as both:
        for step in history:
            both.apply(step)
        event(f"reached epoch {both.current}" if both.genesis_passed else "ended before genesis")
        event(f"{len(both.keys)} validators registered")
        event(f"{len(both.cast)} ballots cast on chain")
        fresh = both.fresh_view()
        last = compute_latest_fixed_epoch(both.now, GENESIS_TIME, EPOCH_SECONDS)
        for epoch in range(last + 1):
            both.check(Epoch(epoch), both.view)  # a reader that followed the chain along
            both.check(Epoch(epoch), fresh)


def test_the_forgeries_are_what_they_claim() -> None:
    for garbage in NOT_A_POINT:
        with pytest.raises(InvalidKeyMaterial):
            bytes_to_signature(garbage)
    assert bytes_to_signature(IDENTITY) == IDENTITY


def test_a_forged_ballot_is_left_out_and_every_reader_agrees_on_the_next_seed(tmp_path: Path) -> None:
    with two_registries(tmp_path / "r.sqlite") as both:
        for key in range(4):
            both.apply(Register(key, 1, "", ()))
        both.apply(CastBallot(0, "valid"))
        both.apply(CastBallot(1, "other key", forger=0))  # refused by SQLite, cast on chain
        both.apply(CastBallot(2, "not a point"))
        both.apply(CastBallot(3, "identity"))
        assert {epoch for epoch, _ in both.cast} == {Epoch(0)} and len(both.cast) == 4
        both.apply(Advance())  # genesis: the genesis ballots are frozen

        valid = _sign_ballot(0, ValidatorIndex(0), Epoch(0), GENESIS_SEED)
        assert both.sqlite.get_epoch_context(Epoch(0)).ballots == (valid,)
        assert both.view.context(Epoch(0), frozen=True).ballots == (valid,)
        seed_1 = compute_next_seed(GENESIS_SEED, Epoch(0), (valid,))
        assert both.sqlite.get_seed(Epoch(1)) == seed_1
        assert both.view.seed(Epoch(1)) == seed_1
        assert both.fresh_view().seed(Epoch(1)) == seed_1


def test_a_frozen_context_ignores_late_events(tmp_path: Path) -> None:
    """The view caches the ballots (and so the seeds) of an epoch once it is asked with `frozen`.
    A late ballot cannot reach it through the contract: `castBallot` takes only openBallotEpoch()
    (BallotNotOpen) and one ballot per validator and epoch (BallotAlreadyCast). Had the contract let
    it through, a reader that syncs later would count it and disagree, as the fresh view shows. Stake
    is not cached by the view: the contract never emits a change effective before currentEpoch() + 3."""
    with two_registries(tmp_path / "r.sqlite") as both:
        for key in range(2):
            both.apply(Register(key, 1, "", ()))
        both.apply(Advance())  # genesis (epoch 0)
        both.apply(CastBallot(0, "valid"))  # for epoch 1
        both.apply(Advance())  # epoch 1 starts: its ballots are frozen
        frozen = both.view.context(Epoch(1), frozen=True)
        seed_2 = both.view.seed(Epoch(2))
        both.check(Epoch(1), both.view)

        late = _sign_ballot(1, ValidatorIndex(1), Epoch(1), frozen.seed)
        both.emit("BallotCast", epoch=1, validator=1, signature=late.signature)  # BallotNotOpen(1, 2)
        both.emit("BallotCast", epoch=1, validator=0, signature=IDENTITY)  # BallotAlreadyCast(1, 0)

        assert both.view.context(Epoch(1), frozen=True) == frozen
        assert both.view.seed(Epoch(2)) == seed_2
        assert len(both.fresh_view().context(Epoch(1), frozen=True).ballots) == 2


def test_a_seed_read_before_genesis_is_refused_so_the_genesis_ballots_all_count(tmp_path: Path) -> None:
    """Regression: the property, with reads of epoch 1 allowed before genesis, shrank to
    [Read(1), Register(0, ...), CastBallot(0, "valid")]: both registries allowed epoch 1
    (`current_epoch() + 1`) while the genesis ballots seed(1) mixes were still being cast, so a
    reader froze seed(1) without them and disagreed with later readers. The daemon makes that read
    on every tick, so a validator started before genesis signed its epoch-1 ballot over a seed no
    one else had. Before genesis only epoch 0 may now be asked for (`compute_latest_fixed_epoch`,
    which `ChainRegistry` applies to the synced chain time)."""
    assert compute_latest_fixed_epoch(GENESIS_TIME - 1, GENESIS_TIME, EPOCH_SECONDS) == 0
    assert compute_latest_fixed_epoch(GENESIS_TIME, GENESIS_TIME, EPOCH_SECONDS) == 1
    with two_registries(tmp_path / "r.sqlite") as both:
        both.apply(Register(0, 1, "", ()))
        with pytest.raises(UnknownEpoch):
            both.sqlite.get_epoch_context(Epoch(1))
        both.apply(CastBallot(0, "valid"))  # the contract still takes genesis ballots
        both.apply(Advance())

        late_reader = both.fresh_view()
        assert len(late_reader.context(Epoch(0), frozen=True).ballots) == 1
        assert both.view.seed(Epoch(1)) == late_reader.seed(Epoch(1)) == both.sqlite.get_seed(Epoch(1))
        both.check(Epoch(0), both.view)
        both.check(Epoch(1), both.view)
