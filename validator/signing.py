"""Domains and signing roots: what exactly a ballot or an attestation signs (SSZ hash_tree_root).

Every signed message carries a 4-byte domain and the chain id, so a signature can never be replayed
as another kind of message or on another network.
"""

from remerkleable.basic import uint64
from remerkleable.byte_arrays import Bytes4, Bytes32
from remerkleable.complex import Container

from da.types import DataRoot
from validator.types import Epoch, QuorumIndex, Seed

DOMAIN_BALLOT = bytes.fromhex("01000000")
DOMAIN_ATTESTATION = bytes.fromhex("02000000")
DOMAIN_SEED = bytes.fromhex("03000000")
DOMAIN_CUSTODY = bytes.fromhex("04000000")
DOMAIN_QUORUM_ASSIGNMENT = bytes.fromhex("05000000")


class BallotMessage(Container):  # type: ignore[misc]
    """What a VRF ballot signs."""

    domain: Bytes4
    chain_id: uint64
    epoch: uint64
    seed: Bytes32


class AttestationMessage(Container):  # type: ignore[misc]
    """What an attestation signs (and what a certificate's aggregate signature covers)."""

    domain: Bytes4
    chain_id: uint64
    epoch: uint64
    quorum: uint64
    data_root: Bytes32


def compute_ballot_signing_root(chain_id: int, epoch: Epoch, seed: Seed) -> bytes:
    """The 32-byte message of a ballot for `epoch` under `seed` on chain `chain_id`."""
    message = BallotMessage(domain=DOMAIN_BALLOT, chain_id=chain_id, epoch=epoch, seed=seed)
    return bytes(message.hash_tree_root())


def compute_attestation_signing_root(
    chain_id: int, epoch: Epoch, quorum: QuorumIndex, data_root: DataRoot
) -> bytes:
    """The 32-byte message an attestation to `data_root` by quorum `quorum` in `epoch` signs."""
    message = AttestationMessage(
        domain=DOMAIN_ATTESTATION, chain_id=chain_id, epoch=epoch, quorum=quorum, data_root=data_root
    )
    return bytes(message.hash_tree_root())
