"""pytest entry for the consensus fuzzer; the profile comes from $HYPOTHESIS_PROFILE (CI uses `ci`)."""

from hypothesis import HealthCheck, settings

from fuzz.consensus import ConsensusMachine
from fuzz.profiles import current_profile

PROFILE = current_profile()


class TestConsensusFuzz(ConsensusMachine.TestCase):  # type: ignore[misc,valid-type]
    """Safety (S1-S6) after every step, liveness (L1) at the end, over real validator cores."""

    settings = settings(
        max_examples=PROFILE.consensus_examples,
        stateful_step_count=PROFILE.steps,
        deadline=None,
        derandomize=PROFILE.derandomize,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
