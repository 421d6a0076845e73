"""Quorum formation: deterministic, stake-proportional, and only from valid ballots."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.validator.network_fixture import CHAIN_ID, make_context, make_keys
from validator.presets import DEVNET, MAINNET
from validator.quorums import compute_blob_quorum, compute_quorums, compute_slots
from validator.types import Ballot, Epoch, EpochContext, Seed, ValidatorIndex
from validator.vrf import compute_ballot, compute_slot_count, verify_ballot

KEYS = make_keys(24, b"quorums")
S = DEVNET.STAKE_PER_SLOT


@settings(max_examples=examples(25))
@given(st.lists(st.integers(0, 6 * S), min_size=1, max_size=24), st.randoms(use_true_random=False))
def test_quorums_are_deterministic_and_stake_proportional(stakes: list[int], shuffler: random.Random) -> None:
    context = make_context(KEYS[: len(stakes)], stakes)
    quorums = compute_quorums(context, DEVNET)
    # The same epoch, with validators and ballots listed in any order, gives the same quorums.
    shuffled_validators = list(context.validators)
    shuffled_ballots = list(context.ballots)
    shuffler.shuffle(shuffled_validators)
    shuffler.shuffle(shuffled_ballots)
    reordered = EpochContext(
        context.chain_id, context.epoch, context.seed, tuple(shuffled_validators), tuple(shuffled_ballots)
    )
    assert compute_quorums(reordered, DEVNET) == quorums
    # Each validator draws exactly the slots its stake buys, capped at MAX_SLOTS_PER_VALIDATOR.
    slots = compute_slots(context, DEVNET)
    drawn = Counter(slot.validator for slot in slots)
    for index, stake in enumerate(stakes):
        assert drawn[ValidatorIndex(index)] == compute_slot_count(stake, DEVNET) == min(stake // S, 4)
    # Quorums are consecutive runs of QUORUM_SLOTS sorted slots; the remainder sits the epoch out.
    in_quorums = [slot for quorum in quorums for slot in quorum.slots]
    if len(slots) >= DEVNET.QUORUM_SLOTS:
        assert len(quorums) == len(slots) // DEVNET.QUORUM_SLOTS
        assert all(len(q.slots) == DEVNET.QUORUM_SLOTS for q in quorums)
        assert in_quorums == slots[: len(in_quorums)]
    else:
        assert len(quorums) == (1 if slots else 0)
        assert in_quorums == slots


def test_another_seed_gives_other_quorums() -> None:
    first = compute_quorums(make_context(KEYS, [S] * 24, entropy=b"one"), DEVNET)
    second = compute_quorums(make_context(KEYS, [S] * 24, entropy=b"two"), DEVNET)
    assert [q.slots for q in first] != [q.slots for q in second]
    assert sorted(s.validator for q in first for s in q.slots) == sorted(
        s.validator for q in second for s in q.slots
    )


def test_ballots_bind_key_epoch_and_seed() -> None:
    context = make_context(KEYS[:2], [S, S])
    ballot = context.ballots[0]
    assert verify_ballot(KEYS[0].pubkey, ballot, CHAIN_ID, context.seed)
    assert not verify_ballot(KEYS[1].pubkey, ballot, CHAIN_ID, context.seed)
    assert not verify_ballot(
        KEYS[0].pubkey, Ballot(ballot.validator, Epoch(1), ballot.signature), CHAIN_ID, context.seed
    )
    assert not verify_ballot(KEYS[0].pubkey, ballot, CHAIN_ID, Seed(b"\x01" * 32))
    assert not verify_ballot(KEYS[0].pubkey, ballot, CHAIN_ID + 1, context.seed)


def test_invalid_or_missing_ballots_buy_no_slots() -> None:
    context = make_context(KEYS[:3], [S, S, S])
    forged = compute_ballot(KEYS[2], ValidatorIndex(1), CHAIN_ID, Epoch(0), context.seed)  # key 2 signs for 1
    ballots = (context.ballots[0], forged)
    slots = compute_slots(
        EpochContext(context.chain_id, context.epoch, context.seed, context.validators, ballots), DEVNET
    )
    assert [slot.validator for slot in slots] == [0]


def test_blob_quorum_assignment_is_uniform_enough_and_deterministic() -> None:
    seed = Seed(b"\x07" * 32)
    roots = [random.Random(i).randbytes(32) for i in range(2000)]
    counts = Counter(compute_blob_quorum(root, seed, 4) for root in roots)  # type: ignore[arg-type]
    assert set(counts) == {0, 1, 2, 3}
    assert all(400 < count < 600 for count in counts.values())
    assert compute_blob_quorum(roots[0], seed, 4) == compute_blob_quorum(roots[0], seed, 4)  # type: ignore[arg-type]


def test_mainnet_sizes() -> None:
    context = make_context(make_keys(64, b"mainnet"), [MAINNET.STAKE_PER_SLOT * 3] * 64)
    quorums = compute_quorums(context, MAINNET)
    assert [len(q.slots) for q in quorums] == [64, 64, 64]
