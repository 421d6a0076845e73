"""The one rule for a test whose environment lacks a part it needs (root and iproute2 for network
namespaces, Node.js and the interop client's npm packages, anvil and solc, the official vectors, /proc):
it skips and says what is missing, except under `TESSERA_REQUIRE_ALL=1` (`.ci/run` sets it), where it
fails, naming the part, so a CI machine that lost one cannot stay green by skipping.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

REQUIRE_ALL_ENV = "TESSERA_REQUIRE_ALL"


def is_everything_required() -> bool:
    """Whether `TESSERA_REQUIRE_ALL` is set to anything but empty or `0`."""
    return os.environ.get(REQUIRE_ALL_ENV, "") not in {"", "0"}


def require_or_skip(missing: str) -> NoReturn:
    """Fail the test under `TESSERA_REQUIRE_ALL`, else skip it; `missing` says what the machine lacks."""
    __tracebackhide__ = True  # the skip or failure is reported at the caller's line
    if is_everything_required():
        pytest.fail(f"{missing} ({REQUIRE_ALL_ENV} is set: a missing part fails)")
    pytest.skip(missing)
