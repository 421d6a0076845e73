"""The `das` command as a user runs it (a subprocess of this checkout's interpreter), and one genesis
network per test module for the operator commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSWORD = "correct horse battery staple"  # noqa: S105 - test-only keystore password


def das(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TESSERA_TEST_PW": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=cwd,
        env=env,
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("devnet")
    result = das(
        "validator",
        "genesis",
        "--validators",
        "8",
        "--dir",
        "net",
        "--light-kdf",
        "--password-env",
        "TESSERA_TEST_PW",
        cwd=root,
    )
    assert result.returncode == 0, result.stderr
    assert "preset      devnet" in result.stdout
    return root / "net"
