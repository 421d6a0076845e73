"""`tests.examples.examples`: the floor under `dev`/`ci`, wider under `nightly`."""

from __future__ import annotations

from hypothesis import settings

from tests.examples import examples


def test_examples_keep_their_floor_and_widen_with_the_nightly_profile() -> None:
    dev, nightly = settings.get_profile("dev"), settings.get_profile("nightly")
    assert examples(10, profile=dev) == 30 and examples(150, profile=dev) == 150
    assert examples(10, profile=nightly) == 1000 and examples(150, profile=nightly) == 1000
    assert examples(10, factor=0.2, profile=nightly) == 200 and examples(10, factor=0.2, profile=dev) == 10
    assert examples(25) >= 25  # the active profile (conftest.py loads it)
