"""The 2D grid in the fuzz world: a planted bad extension is caught (S8), a disperser withholding
the minimum unrecoverable pattern never gets a certificate (S1), and light clients detect that
pattern at the 2D bound's rate."""

from __future__ import annotations

from math import sqrt

from da.types import ColumnIndex
from fuzz.byzantine import DisperserPolicy, NodeBehaviour
from fuzz.invariants import check_s8_invalid_cells_blame_the_byzantine, check_safety, estimate_undetected_rate
from fuzz.regressions.test_core_regressions import DEVNET_SAMPLE_TIMEOUT, _eight_validators
from fuzz.sim import SimNetwork
from fuzz.world import get_blobs, get_keys, get_kzg
from sampling.confidence import compute_samples_needed_2d, compute_undetected_probability_2d
from validator.core import BlobDispersing, SampleRejected, SampleRejection, ValidatorCore
from validator.presets import DEVNET
from validator.types import Epoch, Quorum, ValidatorIndex


def _world(behaviours: dict[int, NodeBehaviour], disperser: DisperserPolicy) -> tuple[SimNetwork, Quorum]:
    keys = get_keys()[:8]
    context, quorum = _eight_validators()
    blob = get_blobs()[0]
    world = SimNetwork(
        preset=DEVNET,
        keys=get_keys(),
        contexts={0: context},
        blobs={blob.data_root: blob},
        cores={
            ValidatorIndex(i): ValidatorCore(ValidatorIndex(i), keys[i], DEVNET, get_kzg(), b"g%d" % i)
            for i in range(8)
        },
        behaviours={ValidatorIndex(i): behaviours.get(i, NodeBehaviour.HONEST) for i in range(8)},
        disperser=disperser,
    )
    world.start()
    return world, quorum


def _run(world: SimNetwork, quorum: Quorum, rounds: int = 30) -> None:
    blob = next(iter(world.blobs.values()))
    queue = world.step_core(ValidatorIndex(0), BlobDispersing(blob.header, Epoch(0), quorum.index))
    for _ in range(rounds):
        while queue:
            queue += world.deliver(queue.pop(0))
        if world.certificates():
            return
        queue += world.tick(DEVNET_SAMPLE_TIMEOUT + 0.1)


def test_a_planted_bad_extension_is_caught_and_the_blob_still_certifies() -> None:
    _, quorum = _eight_validators()
    # Two custodians (2 of 8 slots, within a third) serve their extended cells wrong.
    liars = [m for m in quorum.members if m != 0][:2]
    world, quorum = _world({int(m): NodeBehaviour.BAD_EXTENSION for m in liars}, DisperserPolicy())
    _run(world, quorum)
    assert world.certificates()
    caught = [
        (node, o)
        for node, o in world.outputs
        if isinstance(o, SampleRejected) and o.reason is SampleRejection.INVALID_PROOF
    ]
    assert caught, "some honest member asked a liar for an extended cell"
    rows = next(iter(world.blobs.values())).header.row_count
    assert all(o.sender in liars and o.coordinate.row >= rows for _, o in caught)
    assert check_safety(world) == []


def test_s7_fails_when_an_honest_node_is_blamed() -> None:
    world, quorum = _world({}, DisperserPolicy())
    _run(world, quorum)
    blob = next(iter(world.blobs.values()))
    victim = next(m for m in quorum.members if m != 0)
    coordinate = next(c for c in (s.coordinate for s in world.stored[victim][blob.data_root]))
    world.outputs.append(
        (ValidatorIndex(0), SampleRejected(blob.data_root, victim, coordinate, SampleRejection.INVALID_PROOF))
    )
    assert [v[:3] for v in check_s8_invalid_cells_blame_the_byzantine(world)] == ["S8:"]


def test_withholding_the_minimum_unrecoverable_pattern_never_certifies() -> None:
    # R = 1: the minimum pattern is (R + 1) x 65 = both grid rows of 65 columns, i.e. 65 whole columns.
    withheld = frozenset(ColumnIndex(c) for c in range(65))
    world, quorum = _world({}, DisperserPolicy(withheld=withheld))
    _run(world, quorum, rounds=12)
    assert not world.certificates()
    assert check_safety(world) == []


def test_light_clients_detect_the_minimum_pattern_at_the_bound_rate() -> None:
    for rows, served, target, trials, seed in ((1, 128, 0.99, 4000, 1), (2, 115, 0.99, 3000, 2)):
        missed, total = estimate_undetected_rate(rows, served, target, trials, seed)
        bound = float(
            compute_undetected_probability_2d(
                rows, compute_samples_needed_2d(rows, target, served), served=served
            )
        )
        assert bound <= 1 - target
        # The miss count is binomial(total, bound): within five standard deviations of its mean.
        spread = 5 * sqrt(total * bound * (1 - bound)) + 1
        assert abs(missed - total * bound) <= spread, (rows, served, missed, total * bound)
