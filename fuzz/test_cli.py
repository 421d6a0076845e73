"""`python -m fuzz` as a researcher runs it: a failure prints the replayable program and the
`@reproduce_failure` line, and the same `--seed` gives the same run (each run in a fresh directory,
so no example database can replay the first run into the second)."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _fuzz(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "fuzz", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def test_a_planted_failure_prints_the_replayable_program_and_a_seed_repeats_the_run(tmp_path: Path) -> None:
    args = ("consensus", "--plant", "attest-without-custody", "--examples", "30", "--seed", "7")
    args += ("--no-shrink",)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first, second = _fuzz(tmp_path / "first", *args), _fuzz(tmp_path / "second", *args)
    assert first.returncode == 1, first.stderr[-2000:]
    assert "S6: validator" in first.stderr  # named by the invariant it broke
    assert "state = ConsensusMachine()" in first.stderr  # the program, step by step
    assert "@reproduce_failure(" in first.stderr  # and the line that replays it
    assert first.stdout.splitlines()[0].endswith(", seed 7")
    assert second.returncode == 1 and second.stderr == first.stderr  # the same seed, the same run
