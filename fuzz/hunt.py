"""Run the consensus fuzzer against a planted bug and report how many examples it took to catch it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.stateful import run_state_machine_as_test

import fuzz.consensus as consensus_module
import validator.core.machine as machine_module
from fuzz.consensus import ConsensusMachine
from fuzz.invariants import STATS
from fuzz.planted import PLANTED_BUGS
from validator.aggregation import AttestationAggregator
from validator.core import ValidatorCore


@dataclass(frozen=True)
class HuntResult:
    """Whether the fuzzer failed on the planted bug, after how many examples, and with what."""

    bug: str
    found: bool
    examples: int
    message: str
    liveness_checks: int = 0
    """How many runs ended with the L1 check (`ConsensusMachine.teardown`), 0 without liveness."""


@contextmanager
def planted(bug: type[AttestationAggregator] | type[ValidatorCore]) -> Iterator[None]:
    """Swap the core's aggregator class, or the fuzzer's core class, for `bug` during the block."""
    module, name = (
        (consensus_module, "ValidatorCore")
        if issubclass(bug, ValidatorCore)
        else (machine_module, "AttestationAggregator")
    )
    original = getattr(module, name)
    setattr(module, name, bug)
    try:
        yield
    finally:
        setattr(module, name, original)


def hunt(
    bug: str, max_examples: int, seed: int | None = None, steps: int = 50, *, liveness: bool = True
) -> HuntResult:
    """Fuzz with the planted bug `bug` until the first failure (no shrinking), at most `max_examples`.

    With `seed` None the run is derandomized (the same every time, as CI needs); a seed explores.
    """
    started: list[int] = [0]
    liveness_before = STATS.checks["L1"]

    class Counting(ConsensusMachine):
        CHECK_LIVENESS = liveness

        def __init__(self) -> None:
            super().__init__()
            started[0] += 1

    config = settings(
        max_examples=max_examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    with planted(PLANTED_BUGS[bug]):
        try:
            if seed is not None:  # Hypothesis reads the seed from the machine class
                hypothesis_seed(seed)(Counting)
            run_state_machine_as_test(Counting, settings=config)
        except AssertionError as failure:
            first_line = (str(failure).splitlines() or [type(failure).__name__])[0]
            return HuntResult(bug, True, started[0], first_line[:200], STATS.checks["L1"] - liveness_before)
    return HuntResult(bug, False, started[0], "not found", STATS.checks["L1"] - liveness_before)
