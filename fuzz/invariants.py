"""The safety and liveness invariants of `specs/consensus.md`, checked against a simulated world.

Each check returns the violations it finds as strings that start with the invariant's id, so a
failing run says which rule of the spec broke. `STATS` counts how often each was checked.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import event

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW
from da.types import CellCoordinate, ColumnIndex, RowIndex
from fuzz.byzantine import NodeBehaviour
from fuzz.sim import SimNetwork
from sampling.sampler import Sampler
from validator.certificate import verify_certificate
from validator.core import CustodyRejected, SampleRejected, SampleRejection
from validator.custody import compute_member_custody
from validator.keys import verify_signature
from validator.quorums import compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Quorum


@dataclass
class Stats:
    """Counters for the run summary: invariants checked and events seen."""

    checks: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    machines: int = 0
    """State machines started (examples run, shrinking included)."""


STATS = Stats()


def record_event(label: str) -> None:
    """Count an event for the summary and label it for Hypothesis' coverage statistics."""
    STATS.events[label] += 1
    event(label)


def _quorum(world: SimNetwork, epoch: int, index: int) -> Quorum:
    return compute_quorums(world.contexts[epoch], world.preset, verify_ballots=False)[index]


def check_s2_counted_signatures(world: SimNetwork) -> list[str]:
    """S2: every counted signature is valid and from a member of the attestation's quorum."""
    STATS.checks["S2"] += 1
    violations = []
    for counted in world.counted():
        attestation = counted.attestation
        context = world.contexts.get(attestation.epoch)
        if context is None:
            violations.append(f"S2: counted an attestation for unknown epoch {attestation.epoch}")
            continue
        quorum = _quorum(world, attestation.epoch, attestation.quorum)
        if attestation.validator not in quorum.members:
            violations.append(
                f"S2: counted validator {attestation.validator}, not a member of quorum {quorum.index}"
            )
            continue
        record = context.get_validator(attestation.validator)
        message = compute_attestation_signing_root(
            context.chain_id, attestation.epoch, attestation.quorum, attestation.data_root
        )
        if record is None or not verify_signature(record.pubkey, message, attestation.signature):
            violations.append(f"S2: counted an invalid signature of validator {attestation.validator}")
    return violations


def check_s3_s4_s5_certificates(world: SimNetwork) -> list[str]:
    """S3/S4/S5: every certificate formed verifies offline (threshold, whole members, its own root)."""
    STATS.checks["S3-S5"] += 1
    violations = []
    for formed in world.certificates():
        certificate = formed.certificate
        verdict = verify_certificate(certificate, world.contexts[certificate.epoch], world.preset)
        if not verdict.valid:
            violations.append(f"S3-S5: a formed certificate does not verify: {verdict.reason}")
        if certificate.data_root not in world.blobs:
            violations.append("S5: certificate for a data root nobody dispersed")
    return violations


def check_s1_recoverable(world: SimNetwork) -> list[str]:
    """S1: a certificate's honest signers hold >= 64 distinct columns of every row (recoverable).

    Applies where the preset's bound applies: full-size quorums with at most a third of their
    slots adversarial.
    """
    violations = []
    for formed in world.certificates():
        certificate = formed.certificate
        quorum = _quorum(world, certificate.epoch, certificate.quorum)
        adversarial = sum(1 for slot in quorum.slots if not world.is_honest(slot.validator))
        if len(quorum.slots) < world.preset.QUORUM_SLOTS or 3 * adversarial > len(quorum.slots):
            STATS.events["S1 not applicable (small quorum or > 1/3 adversarial)"] += 1
            continue
        STATS.checks["S1"] += 1
        signers = {slot.validator for slot, bit in zip(quorum.slots, certificate.signers, strict=True) if bit}
        honest = [member for member in signers if world.is_honest(member)]
        rows = world.blobs[certificate.data_root].header.row_count
        for row in range(rows):
            columns = {
                sample.column
                for member in honest
                for sample in world.stored.get(member, {}).get(certificate.data_root, ())
                if sample.row == row
            }
            if len(columns) < CELLS_NEEDED_TO_RECOVER_ROW:
                violations.append(f"S1: honest signers hold {len(columns)} columns of row {row}, 64 needed")
    return violations


def check_s6_attest_after_custody(world: SimNetwork) -> list[str]:
    """S6: an honest node attests only after storing its complete custody for that blob: exactly the
    cells of its custody columns, every row (not fewer, and none from outside its custody), however
    many chunks it was pushed in (the union of every chunk it stored)."""
    STATS.checks["S6"] += 1
    violations = []
    for node, attested in world.attested():
        attestation = attested.attestation
        stored = world.stored.get(node, {}).get(attestation.data_root)
        if stored is None:
            violations.append(f"S6: validator {node} attested without storing custody")
            continue
        quorum = _quorum(world, attestation.epoch, attestation.quorum)
        columns = compute_member_custody(quorum, attestation.data_root, world.preset)[node]
        rows = world.blobs[attestation.data_root].header.row_count
        expected = {CellCoordinate(RowIndex(row), column) for row in range(rows) for column in columns}
        held = {sample.coordinate for sample in stored}
        if held != expected:
            violations.append(
                f"S6: validator {node} attested holding {len(held & expected)} of its {len(expected)} "
                f"custody cells and {len(held - expected)} from outside its custody"
            )
    return violations


def check_s8_invalid_cells_blame_the_byzantine(world: SimNetwork) -> list[str]:
    """S8: an honest custodian serves only cells that verify, over all 2R rows of the grid (the
    extended cells it derived from its verified custody are right): every `INVALID_PROOF` sample
    rejection an honest member makes blames an adversarial node. A planted bad extension (a node
    serving wrong extended cells) is caught this way, and never counted as served."""
    STATS.checks["S8"] += 1
    violations = []
    for node, output in world.outputs:
        if not isinstance(output, SampleRejected) or output.reason is not SampleRejection.INVALID_PROOF:
            continue
        if world.is_honest(node) and world.is_honest(output.sender):
            violations.append(
                f"S8: honest validator {output.sender} served {output.coordinate} invalid to {node}"
            )
        elif world.behaviours[output.sender] is NodeBehaviour.BAD_EXTENSION:
            rows = world.blobs[output.data_root].header.row_count
            STATS.events["S8: a bad extended cell caught"] += 1
            if output.coordinate.row < rows:
                violations.append(f"S8: an original cell {output.coordinate} of a bad extension failed")
    return violations


def check_s9_honest_pushes_are_taken(world: SimNetwork) -> list[str]:
    """S9: an honest member refuses a custody push as wrong (`blames_sender`) only when an adversary
    sent it or the disperser is hostile: an honest aggregator's chunks are whole rows of the
    member's custody that verify, whatever their size, order, duplication or partial overlap."""
    STATS.checks["S9"] += 1
    violations = []
    for node, output in world.outputs:
        if not isinstance(output, CustodyRejected) or not output.reason.blames_sender:
            continue
        if world.is_honest(node) and world.is_honest(output.sender) and world.disperser.honest:
            violations.append(
                f"S9: honest validator {node} refused an honest push of {output.sender}: "
                f"{output.reason.value}: {output.detail}"
            )
        elif not world.is_honest(output.sender):
            STATS.events[f"S9: a Byzantine push refused ({output.reason.value})"] += 1
    return violations


def estimate_undetected_rate(
    original_rows: int, served: int, target: float, trials: int, seed: int
) -> tuple[int, int]:
    """(trials in which every cell a light client drew was available, trials) against a grid that
    withholds the minimum unrecoverable pattern: R + 1 rows x (served - 63) of the served columns.
    The light client draws as `das light check` does (`Sampler(grid=True)`, uniformly over the 2R x
    served cells); the rate must be the 2D bound's (`compute_undetected_probability_2d`)."""
    columns = [ColumnIndex(c) for c in range(served)]
    withheld = {
        CellCoordinate(RowIndex(row), ColumnIndex(column))
        for row in range(original_rows + 1)
        for column in range(served - CELLS_NEEDED_TO_RECOVER_ROW + 1)
    }
    chooser = random.Random(seed)
    missed = 0
    for _ in range(trials):
        sampler = Sampler(original_rows, target, chooser, columns=columns, grid=True)
        if not any(cell in withheld for cell in sampler.cells):
            missed += 1
    return missed, trials


SAFETY_CHECKS = (
    check_s1_recoverable,
    check_s2_counted_signatures,
    check_s3_s4_s5_certificates,
    check_s6_attest_after_custody,
    check_s8_invalid_cells_blame_the_byzantine,
    check_s9_honest_pushes_are_taken,
)


def check_safety(world: SimNetwork) -> list[str]:
    """Every safety invariant."""
    return [violation for check in SAFETY_CHECKS for violation in check(world)]
