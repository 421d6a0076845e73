"""`python -m fuzz consensus|codecs|uploads|planted [--examples N] [--seed S] [--profile P] [--plant BUG]`.

Prints a summary (examples run, events seen, invariants checked). A failure prints the replayable
program Hypothesis found (every rule call with its drawn values) and the `@reproduce_failure` line
that replays it, and exits 1. The same `--seed` gives the same run; the example database is shared
with pytest, so a failure found here is replayed first by `pytest fuzz/`, and the reverse.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import run_state_machine_as_test

from fuzz.codecs import CODECS, fuzz_codec
from fuzz.consensus import ConsensusMachine
from fuzz.hunt import hunt, planted
from fuzz.invariants import STATS
from fuzz.planted import PLANTED_BUGS
from fuzz.profiles import PROFILES, current_profile
from fuzz.uploads import fuzz_uploads


def _summary(title: str, started: float, examples: int) -> None:
    print(f"{title}: {examples} examples in {time.perf_counter() - started:.1f} s")
    print("invariants checked:")
    for name, count in sorted(STATS.checks.items()):
        print(f"  {name:<28} {count}")
    print("events seen:")
    for name, count in STATS.events.most_common():
        print(f"  {name:<60} {count}")


def _report(failure: BaseException) -> None:
    """The failure and everything Hypothesis attached to it: the falsifying program (every rule call
    with its drawn values) and the `@reproduce_failure` line that replays it; each of them when
    Hypothesis found several distinct failures."""
    if isinstance(failure, ExceptionGroup):
        print(f"FAILED: {failure.message}", file=sys.stderr)
        for number, inner in enumerate(failure.exceptions, start=1):
            print(f"--- failure {number} of {len(failure.exceptions)}", file=sys.stderr)
            _report(inner)
        for note in getattr(failure, "__notes__", ()):
            print(note, file=sys.stderr)
        return
    print(f"FAILED: {failure}", file=sys.stderr)
    for note in getattr(failure, "__notes__", ()):
        print(note, file=sys.stderr)


def run_consensus(
    examples: int,
    steps: int,
    seed: int | None,
    derandomize: bool,
    plant: str | None = None,
    shrink: bool = True,
) -> int:
    """Fuzz the consensus; 0 when no invariant broke.

    The machine run is `ConsensusMachine` itself, so the CLI and pytest (`fuzz/test_consensus.py`)
    share one example database entry: a failure either finds is replayed by the other. `--seed`
    seeds the machine (Hypothesis reads the seed from the machine class), so a seeded run repeats.
    """
    config = settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize and seed is None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        verbosity=Verbosity.normal,
        print_blob=True,
        phases=list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink],
    )
    started, before = time.perf_counter(), STATS.machines
    machine = ConsensusMachine
    previous = getattr(machine, "_hypothesis_internal_use_seed", None)
    if seed is not None:
        hypothesis_seed(seed)(machine)
    try:
        with planted(PLANTED_BUGS[plant]) if plant is not None else contextlib.nullcontext():
            run_state_machine_as_test(machine, settings=config)
    except (AssertionError, ExceptionGroup) as failure:
        _report(failure)
        _summary("consensus", started, STATS.machines - before)
        return 1
    finally:
        machine._hypothesis_internal_use_seed = previous  # type: ignore[attr-defined]
    _summary("consensus", started, STATS.machines - before)
    return 0


def run_codecs(examples: int) -> int:
    """Fuzz every decoder; 0 when all only raised typed errors and stayed canonical."""
    started = time.perf_counter()
    for codec in CODECS:
        try:
            fuzz_codec(codec, examples)
        except AssertionError as failure:
            print(f"codec {codec.name}:", file=sys.stderr)
            _report(failure)
            return 1
    _summary("codecs", started, examples * len(CODECS))
    return 0


def run_uploads(examples: int) -> int:
    """Fuzz the node's check of pre-encoded uploads with a scrambling sequencer (S7); 0 when it held."""
    started = time.perf_counter()
    try:
        fuzz_uploads(examples)
    except AssertionError as failure:
        _report(failure)
        return 1
    _summary("uploads", started, examples)
    return 0


def run_planted(examples: int, seed: int | None) -> int:
    """Show the fuzzer catching each planted bug; 0 when it caught all of them."""
    missed = 0
    for bug in sorted(PLANTED_BUGS):
        started = time.perf_counter()
        result = hunt(bug, examples, seed)  # safety bugs, named by S1-S6; L1 checked too
        verdict = f"caught after {result.examples} examples" if result.found else "MISSED"
        print(f"{bug:<26} {verdict} ({time.perf_counter() - started:.1f} s): {result.message}")
        missed += not result.found
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__)
    parser.add_argument("target", choices=["consensus", "codecs", "uploads", "planted"], help="what to fuzz")
    parser.add_argument(
        "--profile", choices=sorted(PROFILES), help="run length (default: $HYPOTHESIS_PROFILE or dev)"
    )
    parser.add_argument("--examples", type=int, help="override the profile's number of examples")
    parser.add_argument("--seed", type=int, help="explore with this seed (default: derandomized under ci)")
    parser.add_argument(
        "--plant",
        choices=sorted(PLANTED_BUGS),
        help="consensus only: run with this planted bug (shows what a failure report looks like)",
    )
    parser.add_argument(
        "--no-shrink", action="store_true", help="report the first failing program as found, unshrunk"
    )
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile] if args.profile else current_profile()
    print(f"profile {profile.name}" + (f", seed {args.seed}" if args.seed is not None else ""))
    if args.target == "consensus":
        examples = args.examples or profile.consensus_examples
        return run_consensus(
            examples, profile.steps, args.seed, profile.derandomize, args.plant, shrink=not args.no_shrink
        )
    if args.target == "codecs":
        return run_codecs(args.examples or profile.codec_examples)
    if args.target == "uploads":
        return run_uploads(args.examples or profile.codec_examples // 5)
    return run_planted(args.examples or 400, args.seed)


if __name__ == "__main__":
    sys.exit(main())
