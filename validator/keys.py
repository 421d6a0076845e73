"""BLS12-381 keys and signatures in the proof-of-possession scheme (blspy's `PopSchemeMPL`).

Public keys are 48-byte compressed G1 points, signatures 96-byte compressed G2 points, as in the IETF
BLS draft and Ethereum's consensus layer (ciphersuite `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`).
Fast aggregate verification is only sound for public keys whose proof of possession has been checked
(the registry does that once, at registration): it is what defeats rogue-key attacks.

Trust boundary: `bytes_to_pubkey` / `bytes_to_signature` turn untrusted bytes into typed values and
raise `InvalidKeyMaterial`. The `verify_*` functions return False for anything well-typed that does
not verify, including bytes of the wrong length or that are not a point, and raise only when handed
something that is not `bytes` at all.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import NewType, NoReturn

from blspy import G1Element, G2Element, PopSchemeMPL, PrivateKey

from validator.errors import InvalidKeyMaterial

BLSPubkey = NewType("BLSPubkey", bytes)
BLSSignature = NewType("BLSSignature", bytes)

BLS_PUBKEY_BYTES = 48
BLS_SIGNATURE_BYTES = 96
BLS_SECRET_KEY_BYTES = 32
# EIP-2333 KeyGen (blspy's key_gen) needs at least 32 bytes of input keying material.
MIN_SEED_BYTES = 32
# The order r of the BLS12-381 G1/G2 subgroups; a secret key is a scalar in [1, r).
CURVE_ORDER = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


class SecretKey:
    """A BLS secret key. It never shows itself: `repr` and `str` give only the public key.

    Build one with `generate()`, `from_seed()` or `from_bytes()`; get the raw 32 bytes only by
    calling `to_bytes()` explicitly. It cannot be pickled, so it never leaves a process by accident.
    """

    __slots__ = ("_key", "_pubkey")

    def __init__(self, key: PrivateKey) -> None:
        self._key = key
        self._pubkey = BLSPubkey(bytes(PopSchemeMPL.sk_to_g1(key)))

    @classmethod
    def generate(cls) -> SecretKey:
        """A fresh key from 32 bytes of OS randomness, through EIP-2333 KeyGen."""
        return cls.from_seed(secrets.token_bytes(MIN_SEED_BYTES))

    @classmethod
    def from_seed(cls, seed: bytes) -> SecretKey:
        """The key EIP-2333 KeyGen derives from `seed` (at least 32 bytes of keying material)."""
        if not isinstance(seed, bytes):
            _not_bytes("seed", seed)
        if len(seed) < MIN_SEED_BYTES:
            raise InvalidKeyMaterial("seed", f"{len(seed)} bytes, need at least {MIN_SEED_BYTES}")
        return cls(PopSchemeMPL.key_gen(seed))

    @classmethod
    def from_bytes(cls, data: bytes) -> SecretKey:
        """The key whose big-endian 32-byte scalar is `data`; must be in [1, CURVE_ORDER)."""
        if not isinstance(data, bytes):
            _not_bytes("secret key", data)
        if len(data) != BLS_SECRET_KEY_BYTES:
            raise InvalidKeyMaterial("secret key", f"{len(data)} bytes, expected {BLS_SECRET_KEY_BYTES}")
        scalar = int.from_bytes(data, "big")
        if scalar == 0:
            raise InvalidKeyMaterial("secret key", "zero is not a valid secret key")
        if scalar >= CURVE_ORDER:
            raise InvalidKeyMaterial("secret key", "scalar is not below the curve order")
        return cls(PrivateKey.from_bytes(data))

    @property
    def pubkey(self) -> BLSPubkey:
        """The 48-byte compressed public key."""
        return self._pubkey

    def sign(self, message: bytes) -> BLSSignature:
        """The PoP-scheme signature of `message`."""
        # Checked here: blspy's own TypeError would print the secret key in its message.
        if not isinstance(message, bytes):
            _not_bytes("message", message)
        return BLSSignature(bytes(PopSchemeMPL.sign(self._key, message)))

    def to_bytes(self) -> bytes:
        """The raw 32-byte big-endian secret scalar. Handle with care."""
        return bytes(self._key)

    def __repr__(self) -> str:
        return f"SecretKey(pubkey=0x{self._pubkey.hex()[:8]}..)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretKey):
            return NotImplemented
        return hmac.compare_digest(bytes(self._key), bytes(other._key))

    def __hash__(self) -> int:
        return hash(self._pubkey)

    def __reduce__(self) -> NoReturn:
        raise TypeError("SecretKey cannot be pickled; serialize it with to_bytes() or a keystore")

    def __copy__(self) -> SecretKey:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, object]) -> SecretKey:
        return self


def _not_bytes(kind: str, value: object) -> NoReturn:
    raise InvalidKeyMaterial(kind, f"expected bytes, got {type(value).__name__}")


def _decode_pubkey(data: bytes) -> G1Element | None:
    """The G1 point `data` encodes, or None if it is the wrong length, not a subgroup point, or infinity."""
    if len(data) != BLS_PUBKEY_BYTES:
        return None
    try:
        point = G1Element.from_bytes(data)
    except ValueError:
        return None
    # KeyValidate (IETF BLS draft): the identity is not a valid public key.
    return None if point == G1Element() else point


def _decode_signature(data: bytes) -> G2Element | None:
    """The G2 point `data` encodes, or None if it is the wrong length or not a subgroup point."""
    if len(data) != BLS_SIGNATURE_BYTES:
        return None
    try:
        return G2Element.from_bytes(data)
    except ValueError:
        return None


def bytes_to_pubkey(data: bytes) -> BLSPubkey:
    """`data` as a public key, checking its length, encoding, subgroup, and that it is not the identity."""
    if not isinstance(data, bytes):
        _not_bytes("pubkey", data)
    if len(data) != BLS_PUBKEY_BYTES:
        raise InvalidKeyMaterial("pubkey", f"{len(data)} bytes, expected {BLS_PUBKEY_BYTES}")
    if _decode_pubkey(data) is None:
        raise InvalidKeyMaterial("pubkey", "not a valid compressed G1 subgroup point other than the identity")
    return BLSPubkey(data)


def bytes_to_signature(data: bytes) -> BLSSignature:
    """`data` as a signature, after checking its length, encoding and subgroup."""
    if not isinstance(data, bytes):
        _not_bytes("signature", data)
    if len(data) != BLS_SIGNATURE_BYTES:
        raise InvalidKeyMaterial("signature", f"{len(data)} bytes, expected {BLS_SIGNATURE_BYTES}")
    if _decode_signature(data) is None:
        raise InvalidKeyMaterial("signature", "not a valid compressed G2 subgroup point")
    return BLSSignature(data)


def compute_proof_of_possession(sk: SecretKey) -> BLSSignature:
    """The proof of possession of `sk` (PopProve: a signature of the public key under the PoP tag)."""
    return BLSSignature(bytes(PopSchemeMPL.pop_prove(sk._key)))


def verify_proof_of_possession(pubkey: BLSPubkey, pop: BLSSignature) -> bool:
    """Whether `pop` proves possession of the secret key of `pubkey` (False for malformed bytes)."""
    if not isinstance(pubkey, bytes):
        _not_bytes("pubkey", pubkey)
    if not isinstance(pop, bytes):
        _not_bytes("proof of possession", pop)
    point = _decode_pubkey(pubkey)
    proof = _decode_signature(pop)
    if point is None or proof is None:
        return False
    return PopSchemeMPL.pop_verify(point, proof)


def verify_signature(pubkey: BLSPubkey, message: bytes, signature: BLSSignature) -> bool:
    """Whether `signature` is `pubkey`'s signature of `message` (False for malformed bytes)."""
    if not isinstance(pubkey, bytes):
        _not_bytes("pubkey", pubkey)
    if not isinstance(message, bytes):
        _not_bytes("message", message)
    if not isinstance(signature, bytes):
        _not_bytes("signature", signature)
    point = _decode_pubkey(pubkey)
    sig = _decode_signature(signature)
    if point is None or sig is None:
        return False
    return PopSchemeMPL.verify(point, message, sig)


def aggregate_signatures(signatures: Sequence[BLSSignature]) -> BLSSignature:
    """The aggregate (sum) of `signatures`; raises `InvalidKeyMaterial` if empty or one does not decode."""
    if len(signatures) == 0:
        raise InvalidKeyMaterial("signature list", "cannot aggregate zero signatures")
    points = []
    for index, signature in enumerate(signatures):
        if not isinstance(signature, bytes):
            _not_bytes(f"signature {index}", signature)
        point = _decode_signature(signature)
        if point is None:
            raise InvalidKeyMaterial(f"signature {index}", "not a valid compressed G2 subgroup point")
        points.append(point)
    return BLSSignature(bytes(PopSchemeMPL.aggregate(points)))


def fast_aggregate_verify(pubkeys: Sequence[BLSPubkey], message: bytes, signature: BLSSignature) -> bool:
    """Whether `signature` aggregates signatures of `message` by every key in `pubkeys`.

    False for no keys, or any key or the signature not decoding. Sound only for keys whose proof of
    possession was verified.
    """
    if not isinstance(message, bytes):
        _not_bytes("message", message)
    if not isinstance(signature, bytes):
        _not_bytes("signature", signature)
    for index, pubkey in enumerate(pubkeys):
        if not isinstance(pubkey, bytes):
            _not_bytes(f"pubkey {index}", pubkey)
    if len(pubkeys) == 0:
        return False
    points = []
    for pubkey in pubkeys:
        point = _decode_pubkey(pubkey)
        if point is None:
            return False
        points.append(point)
    sig = _decode_signature(signature)
    if sig is None:
        return False
    return PopSchemeMPL.fast_aggregate_verify(points, message, sig)
