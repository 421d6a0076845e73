"""One 8-validator devnet (real `das validator run` processes on 127.0.0.1) for the whole package.

It is a private network (`payments = false`): its tests post unpaid, as any client. Paid posts are
tested against a node with payments on in tests/validator/daemon/test_paid_posts.py.

Every test module here is in the xdist group "devnet", so they run in one worker and share it; a
test that stops validators starts them again before it ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.devnet.helpers import VALIDATORS
from validator.devnet import Devnet


@pytest.fixture(scope="package")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """The devnet, with every validator running and connected."""
    network = Devnet(tmp_path_factory.mktemp("devnet"))
    network.create(VALIDATORS, 3600.0, payments=False)
    try:
        for index in range(VALIDATORS):
            network.start_node(index)
        network.wait_until_connected(list(range(VALIDATORS)))
        yield network
    finally:
        network.stop_all()
