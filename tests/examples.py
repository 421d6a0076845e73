"""Example counts for `@settings(max_examples=...)` that widen with the Hypothesis profile.

An explicit `max_examples` overrides the profile loaded in `tests/conftest.py`, so a test that wrote
`max_examples=10` ran 10 examples under `HYPOTHESIS_PROFILE=nightly` too. `examples(floor)` keeps the
floor under `dev` and `ci` and scales with the profile's own count above it.
"""

from __future__ import annotations

from hypothesis import settings


def examples(floor: int, factor: float = 1.0, profile: settings | None = None) -> int:
    """At least `floor`; `factor` times the `max_examples` of `profile` (default: the active one)
    when that is more (`dev` and `ci` run 30, `nightly` 1000: a slow test passes a factor below 1)."""
    active = settings.default if profile is None else profile
    if active is None:  # typed Optional; Hypothesis loads its default profile on import
        raise RuntimeError("no Hypothesis profile is loaded")
    return max(floor, int(active.max_examples * factor))
