"""One 8-validator devnet (real `das validator run` processes on 127.0.0.1) for the whole package.

Every test module here is in the xdist group "devnet", so they run in one worker and share it; a
test that stops validators starts them again before it ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from network.cli.devnet import _stop_all, create_devnet, start_node, wait_until_connected
from tests.devnet.helpers import VALIDATORS


@pytest.fixture(scope="package")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The devnet's directory, with every validator running and connected."""
    directory = tmp_path_factory.mktemp("devnet")
    create_devnet(directory, VALIDATORS, 3600.0)
    try:
        for index in range(VALIDATORS):
            start_node(directory, index)
        wait_until_connected(directory, list(range(VALIDATORS)))
        yield directory
    finally:
        _stop_all(directory)
