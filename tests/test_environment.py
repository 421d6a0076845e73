"""`require_or_skip`: a skip by default, a failure naming the missing part under TESSERA_REQUIRE_ALL."""

from __future__ import annotations

import pytest

from tests.environment import REQUIRE_ALL_ENV, require_or_skip


@pytest.mark.parametrize("value", [None, "", "0"])
def test_a_missing_part_skips_by_default(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(REQUIRE_ALL_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_ALL_ENV, value)
    with pytest.raises(pytest.skip.Exception, match="anvil is not installed"):
        require_or_skip("anvil is not installed")


@pytest.mark.parametrize("value", ["1", "yes"])
def test_a_missing_part_fails_under_require_all(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(REQUIRE_ALL_ENV, value)
    with pytest.raises(pytest.fail.Exception, match=f"anvil is not installed .{REQUIRE_ALL_ENV} is set"):
        require_or_skip("anvil is not installed")
