"""`das devnet up` as `make demo` runs it: foreground, report, then SIGTERM stops every validator.

Named to sort before the package's shared devnet is started, so the two networks do not overlap.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.devnet.helpers import DAS_COMMAND, VALIDATORS, das
from validator.devnet import Devnet

pytestmark = pytest.mark.xdist_group("devnet")

UP_TIMEOUT_S = 180.0


def test_devnet_up_reports_a_certified_and_light_checked_blob_and_stops_on_sigterm(tmp_path: Path) -> None:
    directory = tmp_path / "devnet"
    process = subprocess.Popen(
        [*DAS_COMMAND, "devnet", "up", "--validators", str(VALIDATORS), "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + UP_TIMEOUT_S
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()  # the command prints steadily, then its last line below
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("devnet running"):
                break
        report = "\n".join(lines)
        assert lines and lines[-1] == "devnet running; Ctrl-C stops it", report
        assert f"{VALIDATORS} validators up and connected" in report
        assert "  certified in " in report, report
        assert "  paid " in report and " wei from the demo sequencer 0x" in report, report  # make demo pays
        assert "light check: AVAILABLE, confidence 0.99" in report, report
        status = das("devnet", "status", "--dir", str(directory))
        assert status.stdout.count(" running ") == VALIDATORS, status.stdout
        pids = list(Devnet(directory).load_state()["pids"].values())
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
            das("devnet", "down", "--dir", str(directory))
    assert not any(Devnet(directory).is_alive(pid) for pid in pids)
    status = das("devnet", "status", "--dir", str(directory))
    assert status.stdout.count(" stopped ") == VALIDATORS, status.stdout
