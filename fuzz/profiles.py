"""Fuzzing profiles: how long each kind of run fuzzes (`dev`, `ci`, `nightly`)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """Examples and steps per example for the consensus fuzzer, examples per codec."""

    name: str
    consensus_examples: int
    steps: int
    codec_examples: int
    derandomize: bool


PROFILES = {
    "dev": Profile("dev", consensus_examples=60, steps=50, codec_examples=300, derandomize=False),
    "ci": Profile("ci", consensus_examples=300, steps=50, codec_examples=500, derandomize=True),
    "nightly": Profile("nightly", consensus_examples=3000, steps=80, codec_examples=20000, derandomize=False),
}


def current_profile() -> Profile:
    """The profile named by $HYPOTHESIS_PROFILE; `ci` when $CI is set, else `dev`."""
    default = "ci" if os.environ.get("CI") else "dev"
    name = os.environ.get("HYPOTHESIS_PROFILE", default)
    return PROFILES.get(name, PROFILES[default])
