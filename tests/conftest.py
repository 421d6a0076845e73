"""Shared fixtures: the real ckzg backend (loaded once per test process) and small encoded blobs."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import HealthCheck, settings

from da import CkzgBackend, EncodedBlob, encode_blob, load_ckzg_backend
from da.constants import USABLE_BYTES_PER_ROW
from da.kzg import PRECOMPUTE_FOR_PROVING

settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile(
    "ci",
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("nightly", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def kzg() -> CkzgBackend:
    """The production backend with proving precomputation, as the encoding node runs it."""
    return load_ckzg_backend(PRECOMPUTE_FOR_PROVING)


@pytest.fixture(scope="session")
def one_row_blob(kzg: CkzgBackend) -> tuple[bytes, EncodedBlob]:
    """A random blob that fills most of one row, and its encoding."""
    data = random.Random(7594).randbytes(USABLE_BYTES_PER_ROW - 1000)
    return data, encode_blob(data, kzg)


@pytest.fixture(scope="session")
def two_row_blob(kzg: CkzgBackend) -> tuple[bytes, EncodedBlob]:
    """A random blob just over one row, so it spans two rows, and its encoding."""
    data = random.Random(4844).randbytes(USABLE_BYTES_PER_ROW + 5000)
    return data, encode_blob(data, kzg)
