"""How `das` ends (`cli.main.run`): a fast exit once a command is done, the ordinary one when the
command left a thread or a child process running, and the exit code and output kept either way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run_with_main(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`cli.main.run()` in a fresh interpreter, with `main` replaced by `body` (a function body)."""
    script = tmp_path / "program.py"
    script.write_text(
        "import cli.main\n"
        "def main():\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\ncli.main.main = main\ncli.main.run()\n"
    )
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_exit_code_and_everything_printed_survive_the_fast_exit(tmp_path: Path) -> None:
    result = _run_with_main(
        """
        import sys
        print("x" * 200_000, end="")  # more than a pipe holds: flushed before the process ends
        print("report done", file=sys.stderr, end="")
        return 3
        """,
        tmp_path,
    )
    assert result.returncode == 3
    assert result.stdout == "x" * 200_000
    assert result.stderr == "report done"


def test_a_thread_left_running_is_waited_for(tmp_path: Path) -> None:
    marker = tmp_path / "thread-finished"
    result = _run_with_main(
        f"""
        import threading, time
        def finish():
            time.sleep(0.3)
            open({str(marker)!r}, "w").close()
        threading.Thread(target=finish).start()
        return 0
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()


def test_a_child_process_left_running_is_reaped_as_usual(tmp_path: Path) -> None:
    marker = tmp_path / "child-finished"
    result = _run_with_main(
        f"""
        import multiprocessing, os, pathlib, time
        def finish():
            os.close(1)  # the test's pipes then wait for the parent only
            os.close(2)
            time.sleep(0.3)
            pathlib.Path({str(marker)!r}).touch()
        multiprocessing.get_context("fork").Process(target=finish).start()
        return 0
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert marker.exists()
