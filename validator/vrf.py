"""VRF ballots: a unique BLS signature over (domain, chain id, epoch, seed), hashed into slot values.

BLS signatures are unique for a key and message, so the output cannot be ground by the signer;
anyone holding the public key verifies it. A validator's stake buys it slots; each slot's value
is derived from the output, and the sorted values cut the slots into quorums (`validator.quorums`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from validator.keys import BLSPubkey, BLSSignature, SecretKey, verify_signature
from validator.presets import Preset
from validator.signing import DOMAIN_SEED, compute_ballot_signing_root
from validator.types import Ballot, Epoch, Seed, ValidatorIndex, VRFOutput


def compute_ballot(
    secret_key: SecretKey, validator: ValidatorIndex, chain_id: int, epoch: Epoch, seed: Seed
) -> Ballot:
    """Sign this validator's ballot for `epoch`."""
    signature = secret_key.sign(compute_ballot_signing_root(chain_id, epoch, seed))
    return Ballot(validator=validator, epoch=epoch, signature=signature)


def verify_ballot(pubkey: BLSPubkey, ballot: Ballot, chain_id: int, seed: Seed) -> bool:
    """True iff `ballot` is `pubkey`'s signature over the ballot message of its epoch and `seed`."""
    message = compute_ballot_signing_root(chain_id, ballot.epoch, seed)
    return verify_signature(pubkey, message, ballot.signature)


def compute_vrf_output(signature: BLSSignature) -> VRFOutput:
    """The VRF output of a ballot: SHA-256 of its signature."""
    return VRFOutput(hashlib.sha256(signature).digest())


def compute_slot_count(stake: int, preset: Preset) -> int:
    """Slots bought by `stake`: one per `STAKE_PER_SLOT`, at most `MAX_SLOTS_PER_VALIDATOR`."""
    return min(max(stake, 0) // preset.STAKE_PER_SLOT, preset.MAX_SLOTS_PER_VALIDATOR)


def compute_slot_value(output: VRFOutput, ordinal: int) -> bytes:
    """The draw value of a validator's `ordinal`-th slot: SHA-256(output || uint64_le(ordinal))."""
    return hashlib.sha256(output + ordinal.to_bytes(8, "little")).digest()


def compute_ballot_mix(epoch: Epoch, ballots: Iterable[Ballot]) -> bytes:
    """The XOR of the VRF outputs of `epoch`'s ballots (32 zero bytes for none).

    XOR does not depend on the order ballots arrived in, and a contract keeps it with one word per
    epoch as ballots are cast (no sort of every output), so the chain registry derives seeds on-chain.
    """
    mix = 0
    for ballot in ballots:
        if ballot.epoch == epoch:
            mix ^= int.from_bytes(compute_vrf_output(ballot.signature), "big")
    return mix.to_bytes(32, "big")


def compute_next_seed(seed: Seed, epoch: Epoch, ballots: Iterable[Ballot]) -> Seed:
    """The seed of epoch `epoch + 1`: the current seed mixed with every VRF output of `epoch`.

    SHA-256(DOMAIN_SEED || seed || uint64_le(epoch + 1) || compute_ballot_mix(epoch, ballots)).
    """
    mix = compute_ballot_mix(epoch, ballots)
    return Seed(hashlib.sha256(DOMAIN_SEED + seed + (epoch + 1).to_bytes(8, "little") + mix).digest())


def compute_genesis_seed(chain_id: int, entropy: bytes) -> Seed:
    """The seed of epoch 0 from the chain id and genesis entropy."""
    return Seed(hashlib.sha256(DOMAIN_SEED + chain_id.to_bytes(8, "little") + entropy).digest())
