"""pytest entry for the consensus fuzzer (profile from HYPOTHESIS_PROFILE; CI uses `ci`)."""

from hypothesis import settings

from fuzz.consensus import ConsensusMachine

ConsensusMachine.TestCase.settings = settings(settings(), stateful_step_count=50)
TestConsensusFuzz = ConsensusMachine.TestCase
