"""`python -m fuzz consensus|codecs|planted [--examples N] [--seed S] [--profile dev|ci|nightly]`.

Prints a summary (examples run, events seen, invariants checked). A failure prints the replayable
program Hypothesis found (every rule call with its drawn values) and exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time

from hypothesis import HealthCheck, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import run_state_machine_as_test

from fuzz.codecs import CODECS, fuzz_codec
from fuzz.consensus import ConsensusMachine
from fuzz.hunt import hunt
from fuzz.invariants import STATS
from fuzz.planted import PLANTED_BUGS
from fuzz.profiles import PROFILES, current_profile


def _summary(title: str, started: float, examples: int) -> None:
    print(f"{title}: {examples} examples in {time.perf_counter() - started:.1f} s")
    print("invariants checked:")
    for name, count in sorted(STATS.checks.items()):
        print(f"  {name:<28} {count}")
    print("events seen:")
    for name, count in STATS.events.most_common(25):
        print(f"  {name:<60} {count}")


def run_consensus(examples: int, steps: int, seed: int | None, derandomize: bool) -> int:
    """Fuzz the consensus; 0 when no invariant broke."""
    runs = [0]

    class Counting(ConsensusMachine):
        def __init__(self) -> None:
            super().__init__()
            runs[0] += 1

    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize and seed is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        verbosity=Verbosity.normal,
        print_blob=True,
    )
    started = time.perf_counter()
    def test() -> None:
        run_state_machine_as_test(Counting, settings=config)

    try:
        (hypothesis_seed(seed)(test) if seed is not None else test)()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        _summary("consensus", started, runs[0])
        return 1
    _summary("consensus", started, runs[0])
    return 0


def run_codecs(examples: int) -> int:
    """Fuzz every decoder; 0 when all only raised typed errors and stayed canonical."""
    started = time.perf_counter()
    for codec in CODECS:
        try:
            fuzz_codec(codec, examples)
        except AssertionError as failure:
            print(f"FAILED: {codec.name}: {failure}", file=sys.stderr)
            return 1
    _summary("codecs", started, examples * len(CODECS))
    return 0


def run_planted(examples: int, seed: int | None) -> int:
    """Show the fuzzer catching each planted bug; 0 when it caught all of them."""
    missed = 0
    for bug in sorted(PLANTED_BUGS):
        started = time.perf_counter()
        result = hunt(bug, examples, seed)
        verdict = f"caught after {result.examples} examples" if result.found else "MISSED"
        print(f"{bug:<26} {verdict} ({time.perf_counter() - started:.1f} s): {result.message}")
        missed += not result.found
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("target", choices=["consensus", "codecs", "planted"], help="what to fuzz")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), help="run length (default: $HYPOTHESIS_PROFILE or dev)"
    )
    parser.add_argument("--examples", type=int, help="override the profile's number of examples")
    parser.add_argument("--seed", type=int, help="explore with this seed (default: derandomized under ci)")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile] if args.profile else current_profile()
    print(f"profile {profile.name}" + (f", seed {args.seed}" if args.seed is not None else ""))
    if args.target == "consensus":
        return run_consensus(
            args.examples or profile.consensus_examples, profile.steps, args.seed, profile.derandomize
        )
    if args.target == "codecs":
        return run_codecs(args.examples or profile.codec_examples)
    return run_planted(args.examples or 400, args.seed)


if __name__ == "__main__":
    sys.exit(main())
