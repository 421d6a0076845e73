"""BLS12-381 points between blspy's compressed form and the EIP-2537 encoding the EVM precompiles read.

blspy (like Ethereum's consensus layer) writes ZCash-format compressed points: a 48-byte G1 public key
is x with three flags in its top bits (0x80 compressed, 0x40 infinity, 0x20 y is the larger root); a
96-byte G2 signature is x.c1 (carrying the flags) then x.c0. EIP-2537 writes points uncompressed:
every Fp element as 64 bytes (16 zero bytes, then the 48-byte big-endian value below p), Fp2 as c0
then c1, a point as x then y (G1: 128 bytes, G2: 256 bytes), infinity as all zero bytes.

The conversions check the encoding and the curve equation and refuse infinity (no signature of the
scheme verifies against it); they do not check subgroup membership, which the pairing precompile (and
blspy's `from_bytes`) does. py_ecc does the arithmetic: this runs off the hot path (registration,
certificate submission), where clarity beats speed.
"""

from __future__ import annotations

import hashlib
from typing import Final, NewType

from py_ecc.bls.hash_to_curve import hash_to_G2
from py_ecc.bls.point_compression import compress_G1, compress_G2, decompress_G1, decompress_G2
from py_ecc.bls.typing import G1Compressed, G2Compressed
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.fields import optimized_bls12_381_FQ2 as FQ2
from py_ecc.optimized_bls12_381.optimized_curve import b, b2, field_modulus, is_on_curve, normalize

from validator.errors import RegistryError

G1_COMPRESSED_BYTES: Final = 48
G2_COMPRESSED_BYTES: Final = 96
FP_BYTES: Final = 64
"""EIP-2537: one base-field element, 16 zero bytes then its 48-byte big-endian value."""
FP_VALUE_BYTES: Final = 48
G1_POINT_BYTES: Final = 2 * FP_BYTES
G2_POINT_BYTES: Final = 4 * FP_BYTES
COMPRESSED_FLAG: Final = 0x80
INFINITY_FLAG: Final = 0x40
FLAG_BITS_SHIFT: Final = 381
"""The three flags sit above bit 381 of a compressed coordinate's 384 bits."""
POP_DST: Final = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
"""The signing DST of blspy's `PopSchemeMPL` (hash_to_curve's domain separation tag)."""

EIP2537G1 = NewType("EIP2537G1", bytes)
"""A finite G1 point in EIP-2537 encoding (128 bytes): x, y."""
EIP2537G2 = NewType("EIP2537G2", bytes)
"""A finite G2 point in EIP-2537 encoding (256 bytes): x.c0, x.c1, y.c0, y.c1."""


class InvalidPoint(RegistryError):
    """Raised when bytes do not encode a finite BLS12-381 point: wrong length, bad flags, a coordinate
    not below p or with nonzero padding, not on the curve, or the point at infinity.

    `kind` names the expected encoding ("compressed G1", "EIP-2537 G2", ...); the message says which
    rule failed, never the bytes.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind} point: {reason}")
        self._reduce_args = (kind, reason)
        self.kind = kind
        self.reason = reason


def g1_to_eip2537(compressed: bytes) -> EIP2537G1:
    """The 128-byte EIP-2537 encoding of a 48-byte compressed G1 point (a blspy public key)."""
    kind = "compressed G1"
    _check_length(kind, compressed, G1_COMPRESSED_BYTES)
    _check_compressed_x(kind, compressed)
    try:
        point = decompress_G1(G1Compressed(int.from_bytes(compressed, "big")))
    except ValueError:  # every other rule py_ecc checks was checked above
        raise InvalidPoint(kind, "x is not the x-coordinate of a point on the curve") from None
    x, y = normalize(point)
    return EIP2537G1(_fp_to_bytes(x.n) + _fp_to_bytes(y.n))


def g2_to_eip2537(compressed: bytes) -> EIP2537G2:
    """The 256-byte EIP-2537 encoding of a 96-byte compressed G2 point (a blspy signature)."""
    kind = "compressed G2"
    _check_length(kind, compressed, G2_COMPRESSED_BYTES)
    _check_compressed_x(kind, compressed)
    x_c0 = int.from_bytes(compressed[FP_VALUE_BYTES:], "big")
    if x_c0 >= field_modulus:
        raise InvalidPoint(kind, "x.c0 is not below the field modulus")
    try:
        point = decompress_G2(G2Compressed((int.from_bytes(compressed[:FP_VALUE_BYTES], "big"), x_c0)))
    except ValueError:  # every other rule py_ecc checks was checked above
        raise InvalidPoint(kind, "x is not the x-coordinate of a point on the curve") from None
    return _g2_point_to_bytes(point)


def eip2537_to_g1(point: bytes) -> bytes:
    """The 48-byte compressed form of a 128-byte EIP-2537 G1 point."""
    kind = "EIP-2537 G1"
    _check_length(kind, point, G1_POINT_BYTES)
    x, y = (_bytes_to_fp(kind, point, i) for i in range(2))
    if x == y == 0:
        raise InvalidPoint(kind, "the point at infinity")
    affine = (FQ(x), FQ(y), FQ.one())
    if not is_on_curve(affine, b):
        raise InvalidPoint(kind, "not on the curve y^2 = x^3 + 4")
    return int(compress_G1(affine)).to_bytes(G1_COMPRESSED_BYTES, "big")


def eip2537_to_g2(point: bytes) -> bytes:
    """The 96-byte compressed form of a 256-byte EIP-2537 G2 point."""
    kind = "EIP-2537 G2"
    _check_length(kind, point, G2_POINT_BYTES)
    x0, x1, y0, y1 = (_bytes_to_fp(kind, point, i) for i in range(4))
    if x0 == x1 == y0 == y1 == 0:
        raise InvalidPoint(kind, "the point at infinity")
    affine = (FQ2([x0, x1]), FQ2([y0, y1]), FQ2.one())
    if not is_on_curve(affine, b2):
        raise InvalidPoint(kind, "not on the curve y^2 = x^3 + 4(1 + i)")
    z1, z2 = compress_G2(affine)
    return int(z1).to_bytes(FP_VALUE_BYTES, "big") + int(z2).to_bytes(FP_VALUE_BYTES, "big")


def hash_to_g2_eip2537(message: bytes) -> EIP2537G2:
    """The reference H(m) of the PoP scheme (RFC 9380 BLS12381G2_XMD:SHA-256_SSWU_RO_ with `POP_DST`),
    computed by py_ecc, in EIP-2537 encoding: what `BLS12381.hashToG2` must return."""
    # py_ecc annotates the hash as a HASH object but calls it as a constructor: sha256 is what it wants.
    return _g2_point_to_bytes(hash_to_G2(message, POP_DST, hashlib.sha256))  # type: ignore[arg-type]


def _check_length(kind: str, data: bytes, expected: int) -> None:
    if not isinstance(data, bytes):
        raise InvalidPoint(kind, f"expected bytes, got {type(data).__name__}")
    if len(data) != expected:
        raise InvalidPoint(kind, f"{len(data)} bytes, expected {expected}")


def _check_compressed_x(kind: str, compressed: bytes) -> None:
    """The flags say "compressed, finite" and the flagged coordinate (G1's x, G2's x.c1) is below p."""
    flags = compressed[0]
    if not flags & COMPRESSED_FLAG:
        raise InvalidPoint(kind, "the compressed flag (0x80) is clear")
    if flags & INFINITY_FLAG:
        raise InvalidPoint(kind, "the point at infinity")
    value = int.from_bytes(compressed[:FP_VALUE_BYTES], "big") & ((1 << FLAG_BITS_SHIFT) - 1)
    if value >= field_modulus:
        raise InvalidPoint(kind, "x is not below the field modulus")


def _fp_to_bytes(value: int) -> bytes:
    return value.to_bytes(FP_BYTES, "big")


def _bytes_to_fp(kind: str, point: bytes, index: int) -> int:
    """The `index`-th 64-byte Fp element of `point`: zero padding, value below p."""
    block = point[index * FP_BYTES : (index + 1) * FP_BYTES]
    if any(block[: FP_BYTES - FP_VALUE_BYTES]):
        raise InvalidPoint(kind, f"coordinate {index} has nonzero padding")
    value = int.from_bytes(block, "big")
    if value >= field_modulus:
        raise InvalidPoint(kind, f"coordinate {index} is not below the field modulus")
    return value


def _g2_point_to_bytes(point: tuple[FQ2, FQ2, FQ2]) -> EIP2537G2:
    x, y = normalize(point)
    return EIP2537G2(b"".join(_fp_to_bytes(int(c)) for c in (*x.coeffs, *y.coeffs)))
