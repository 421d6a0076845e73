"""How often silent adversarial slots leave an honest member short of served cells (specs/validator.md,
Sampling; specs/consensus.md, L1 step 3).

For random data roots, a quorum in which the honest member under test holds `k` slots and
adversarial members hold `floor(Q/3)` slots and answer nothing: a draw fails when fewer of its cells
lie in columns an honest member holds than the duty's target. The real `DutySampler.draw` and custody
functions are compared with the earlier rule (the nonce's order alone, a draw for every member) in
the same trials. Figures, not pass/fail. Run with `python bench/bench_draw.py` (`--help`).
"""

from __future__ import annotations

import argparse
import json
import random

from da.constants import CELLS_PER_ROW
from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot, RowIndex
from validator.core.sampling import DOMAIN_SAMPLE_DRAW, DutySampler
from validator.core.state import CoreConfig, Duty, DutyStage
from validator.custody import compute_member_custody
from validator.presets import DEVNET, MAINNET, Preset
from validator.types import Epoch, Quorum, QuorumIndex, Slot, ValidatorIndex

ME = ValidatorIndex(0)


def _quorum(preset: Preset, mine: int, adversarial: list[int]) -> Quorum:
    """Validator 0 holds `mine` slots, validators 1.. hold the `adversarial` counts, the rest one each."""
    counts = [mine, *adversarial]
    counts += [1] * (preset.QUORUM_SLOTS - sum(counts))
    slots = [
        Slot(ValidatorIndex(v), ordinal, bytes(32))
        for v, count in enumerate(counts)
        for ordinal in range(count)
    ]
    return Quorum(Epoch(0), QuorumIndex(0), tuple(slots))


def _earlier_draw(sampler: DutySampler, root: DataRoot, duty: Duty, preset: Preset) -> list[CellCoordinate]:
    """The draw before issue 12's fix: candidate cells in the nonce's order alone."""
    custody = compute_member_custody(duty.quorum, root, preset)
    others = set().union(*(c for m, c in custody.items() if m != ME))
    candidates = [
        CellCoordinate(RowIndex(r), ColumnIndex(c))
        for r in range(duty.header.row_count)
        for c in range(CELLS_PER_ROW)
        if c not in custody[ME] and c in others
    ]
    candidates.sort(key=lambda c: sampler._key(DOMAIN_SAMPLE_DRAW, root, c.row, c.column))
    return candidates[: preset.VALIDATOR_SAMPLES + preset.SAMPLE_REPLACEMENTS]


def _short(drawn: list[CellCoordinate], honest_columns: set[ColumnIndex], preset: Preset) -> bool:
    target = min(preset.VALIDATOR_SAMPLES, len(drawn))
    return sum(c.column in honest_columns for c in drawn) < target


def trial_rates(preset: Preset, mine: int, adversarial: list[int], rows: int, trials: int, seed: int) -> dict:
    rng = random.Random(seed)
    quorum = _quorum(preset, mine, adversarial)
    liars = {ValidatorIndex(v) for v in range(1, 1 + len(adversarial))}
    sampler = DutySampler(ME, b"bench-nonce", preset, CoreConfig())
    header = BlobHeader(rows * 4096 * 31 - 8, rows, tuple(bytes(48) for _ in range(rows)))
    now_short = earlier_short = unsampled = 0
    for _ in range(trials):
        root = DataRoot(rng.randbytes(32))
        custody = compute_member_custody(quorum, root, preset)
        honest_columns = set().union(*(c for m, c in custody.items() if m != ME and m not in liars))
        duty = Duty(header, Epoch(0), quorum, [ME], custody[ME], DutyStage.SAMPLING, 0.0)
        drawn = sampler.draw(root, duty)
        unsampled += not drawn
        now_short += _short(drawn, honest_columns, preset)
        earlier_short += _short(_earlier_draw(sampler, root, duty, preset), honest_columns, preset)
    return {
        "preset": preset.name,
        "my_slots": mine,
        "adversarial_slots": adversarial,
        "rows": rows,
        "trials": trials,
        "short_now": now_short / trials,
        "short_earlier": earlier_short / trials,
        "custody_recovers_rows": unsampled / trials,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--trials", type=int, default=4000, help="data roots per configuration (default 4000)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the data roots (default 1)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    configurations = [(DEVNET, mine, [2], rows) for mine in (1, 2, 3, 4) for rows in (1, 8)] + [
        (DEVNET, 1, [1, 1], 8),
        (MAINNET, 1, [16, 5], 8),
        (MAINNET, 16, [16, 5], 8),
    ]
    results = []
    for preset, mine, adversarial, rows in configurations:
        trials = args.trials if preset is DEVNET else max(1, args.trials // 8)
        results.append(trial_rates(preset, mine, adversarial, rows, trials, args.seed))
        if not args.json:
            r = results[-1]
            print(
                f"{r['preset']:<8} my slots {mine:>2}  adversarial {adversarial!s:<8} rows {rows}: "
                f"short {r['short_now']:.5f} (earlier rule {r['short_earlier']:.5f}), "
                f"custody recovers every row {r['custody_recovers_rows']:.3f}  [{trials} roots]"
            )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
