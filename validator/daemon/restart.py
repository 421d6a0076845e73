"""Which epochs a node still works for (specs/validator.md, Restarts and a failing registry): a blob
or a custody duty is finished under its own epoch's quorum, and only while that epoch is within the
availability window of the current one; a custody push for an epoch outside it is ignored, and a
posted blob whose epoch left it uncertified fails for good (`BlobFailure.EPOCH_EXPIRED`). The window
is the node's one availability window, `retention_epochs` (`RetentionPolicy.window_epochs`): the
epochs a blob's data is kept are the epochs work for it is still done."""

from __future__ import annotations

from validator.types import Epoch


def is_within_availability_window(epoch: Epoch, current: Epoch, window_epochs: int) -> bool:
    """True when work for `epoch` is still done in `current`: from `current - window_epochs` up to
    `current`. Never a later epoch: its ballots are not frozen yet, and the core learns an epoch
    once (a push from a sender whose view runs ahead is pushed again)."""
    return current - window_epochs <= epoch <= current
