"""A one-line progress display for long work, shown only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Renders `label done/total (rate)` in place on stderr when it is a terminal, else stays quiet."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        """Update the display; matches `da.encoding.ProgressCallback`."""
        if not self.enabled:
            return
        width = 24
        filled = width * done // max(total, 1)
        elapsed = time.monotonic() - self._started
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {elapsed:5.1f}s")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
