"""A registry's epoch in memory (the keys and stakes of tests/validator/network_fixture) and real
certificates of it, for the Alt-DA tests that need no network."""

from __future__ import annotations

from da.types import DataRoot
from tests.validator.network_fixture import CHAIN_ID, make_context, make_keys
from validator.errors import UnknownEpoch
from validator.keys import aggregate_signatures
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.registry.port import RegistryInfo
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, EpochContext

KEYS = make_keys(12, b"altda")
S = DEVNET.STAKE_PER_SLOT
CONTEXT = make_context(KEYS, [2 * S] * 4 + [S] * 8)
QUORUM = compute_quorums(CONTEXT, DEVNET)[0]
GENESIS_TIME = 1_700_000_000.0
EPOCH_SECONDS = 3600.0


class OneEpochRegistry:
    """An `EpochSource` that knows epoch 0 only (later epochs raise `UnknownEpoch`, as a registry
    that has not reached them does)."""

    def get_info(self) -> RegistryInfo:
        return RegistryInfo(CHAIN_ID, DEVNET.name, GENESIS_TIME, EPOCH_SECONDS)

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        if epoch != 0:
            raise UnknownEpoch(epoch)
        return CONTEXT


def certify(root: DataRoot, epoch: int = 0) -> Certificate:
    """A certificate of `root` signed by every member of quorum 0."""
    message = compute_attestation_signing_root(CHAIN_ID, Epoch(epoch), QUORUM.index, root)
    return Certificate(
        data_root=root,
        epoch=Epoch(epoch),
        quorum=QUORUM.index,
        signers=(True,) * len(QUORUM.slots),
        signature=aggregate_signatures([KEYS[m].sign(message) for m in QUORUM.members]),
    )
