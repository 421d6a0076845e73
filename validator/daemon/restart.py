"""Which epochs a node still works for (specs/validator.md, Restarts and a failing registry): a blob
or a custody duty is finished under its own epoch's quorum, and only while that epoch is within the
availability window of the current one; a custody push for an epoch outside it is ignored, and a
posted blob whose epoch left it uncertified fails for good (`BlobFailure.EPOCH_EXPIRED`)."""

from __future__ import annotations

from typing import Final

from validator.types import Epoch

AVAILABILITY_WINDOW_EPOCHS: Final = 8
"""Epochs after its own during which a blob is still dispersed, pushed custody is taken and duties
are resumed (so a node restarted within them finishes what it acknowledged)."""


def is_within_availability_window(epoch: Epoch, current: Epoch) -> bool:
    """True when work for `epoch` is still done in `current`: from `current -
    AVAILABILITY_WINDOW_EPOCHS` up to `current`. Never a later epoch: its ballots are not frozen yet,
    and the core learns an epoch once (a push from a sender whose view runs ahead is pushed again)."""
    return current - AVAILABILITY_WINDOW_EPOCHS <= epoch <= current
