"""Domains and signing roots: what exactly a ballot or an attestation signs (SSZ hash_tree_root).

Every signed message carries a 4-byte domain and the chain id, so a signature can never be replayed
as another kind of message or on another network.
"""

import hashlib

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
DOMAIN_REGISTRATION = bytes.fromhex("06000000")

REGISTRATION_ADDRESS_BYTES = 20


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


def compute_registration_signing_root(chain_id: int, registry: bytes, account: bytes, pubkey: bytes) -> bytes:
    """What a chain registration's proof of possession signs: sha256(DOMAIN_REGISTRATION ||
    uint64_le(chain_id) || registry || account || pubkey), binding the key to one account of one
    registry contract on one chain (a plain hash, not an SSZ root, so the contract computes it with one
    SHA-256 call). `registry` and `account` are 20-byte addresses, `pubkey` a 48-byte key."""
    for name, value in (("registry", registry), ("account", account)):
        if len(value) != REGISTRATION_ADDRESS_BYTES:
            raise ValueError(f"{name} must be a 20-byte address, got {len(value)} bytes")
    preimage = DOMAIN_REGISTRATION + chain_id.to_bytes(8, "little") + registry + account + pubkey
    return hashlib.sha256(preimage).digest()


def compute_attestation_signing_root(
    chain_id: int, epoch: Epoch, quorum: QuorumIndex, data_root: DataRoot
) -> bytes:
    """The 32-byte message an attestation to `data_root` by quorum `quorum` in `epoch` signs."""
    message = AttestationMessage(
        domain=DOMAIN_ATTESTATION, chain_id=chain_id, epoch=epoch, quorum=quorum, data_root=data_root
    )
    return bytes(message.hash_tree_root())
