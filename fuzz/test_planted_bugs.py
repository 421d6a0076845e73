"""Evidence that the fuzzer works: each planted bug (aggregator or custody) is caught within a bounded
budget, by the invariant it breaks."""

import pytest

from fuzz.hunt import hunt
from fuzz.planted import PLANTED_BUGS

# Examples the derandomized fuzzer needed at the last change (`python -m fuzz planted`, L1 on):
# attest-without-custody 2 (S6), cells-outside-custody 6 (S6, which checks the exact custody set),
# certify-at-half 4, duplicate-counted-twice 10, non-member-accepted 14, chunks-refused 2 (S9).
# The budget leaves room for changes to the machine's strategies without making the test slow.
BUDGET = 400


@pytest.mark.parametrize("bug", sorted(PLANTED_BUGS))
def test_fuzzer_finds_the_planted_bug(bug: str) -> None:
    result = hunt(bug, max_examples=BUDGET)  # safety bugs: an S invariant fires before L1 would
    assert result.found, f"the fuzzer missed {bug} in {BUDGET} examples"
    assert result.message.startswith("['S"), result.message  # named by the invariant it broke


@pytest.mark.slow  # the whole budget without a find: about 2 minutes on 2 cores
def test_the_real_aggregator_survives_the_same_hunt() -> None:
    """The same hunts without a plant find no violation, safety (S1-S9) or liveness (L1), so the
    failures above come from the bugs; and L1 was judged, not only skipped as not applicable."""
    import validator.core.machine as machine_module  # noqa: PLC0415
    from validator.aggregation import AttestationAggregator  # noqa: PLC0415

    PLANTED_BUGS["control"] = AttestationAggregator
    try:
        result = hunt("control", max_examples=BUDGET)
    finally:
        del PLANTED_BUGS["control"]
    assert not result.found, result.message
    assert result.examples >= BUDGET  # the whole budget ran: a clean run, not a short one
    assert result.liveness_checks >= 1, "no run of the control hunt reached the L1 check"
    # The hunts swap the core's aggregator; afterwards the production class is back.
    assert machine_module.AttestationAggregator is AttestationAggregator
