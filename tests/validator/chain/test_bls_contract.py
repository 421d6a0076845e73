"""BLS12381.sol on a real anvil (Prague, EIP-2537), against blspy (the signer) and py_ecc (the reference):
hash_to_curve, PoP-scheme verification and its rejections, the compressed-point matchers, gas, and the
Python conversions of `validator.registry.chain.points`."""

from __future__ import annotations

import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from blspy import PopSchemeMPL, PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.bls.point_compression import decompress_G2, modular_squareroot_in_FQ2
from py_ecc.bls.typing import G2Compressed
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.fields import optimized_bls12_381_FQ2 as FQ2
from py_ecc.optimized_bls12_381.optimized_curve import (
    b,
    b2,
    curve_order,
    field_modulus,
    is_inf,
    is_on_curve,
    multiply,
    neg,
    normalize,
)
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, Web3Exception

from contracts.toolchain import CompiledContract
from tests.examples import examples
from validator.errors import RegistryError
from validator.registry.chain.points import (
    EIP2537G1,
    EIP2537G2,
    FP_BYTES,
    InvalidPoint,
    eip2537_to_g1,
    eip2537_to_g2,
    g1_to_eip2537,
    g2_to_eip2537,
    hash_to_g2_eip2537,
)

pytestmark = pytest.mark.xdist_group("chain")

# One verify in a transaction, all included; sending a precompile all the gas left would blow it.
VERIFY_GAS_BOUND = 250_000
NOT_ENOUGH_GAS = "0x" + Web3.keccak(text="NotEnoughGas(uint256,uint256)")[:4].hex()
P = field_modulus
HALF_P = (P - 1) // 2
SIGN_FLAG = 0x20
COMPRESSED_FLAG = 0x80
INFINITY_FLAG = 0x40


@dataclass(frozen=True)
class Signed:
    """One blspy PoP signature, in both encodings."""

    secret: PrivateKey
    pubkey: bytes
    message: bytes
    signature: bytes
    pubkey_point: EIP2537G1
    signature_point: EIP2537G2


def _sign(rng: random.Random, message_bytes: int) -> Signed:
    secret = PopSchemeMPL.key_gen(rng.randbytes(32))
    message = rng.randbytes(message_bytes)
    pubkey = bytes(secret.get_g1())
    signature = bytes(PopSchemeMPL.sign(secret, message))
    return Signed(secret, pubkey, message, signature, g1_to_eip2537(pubkey), g2_to_eip2537(signature))


def _fp(value: int) -> bytes:
    return value.to_bytes(FP_BYTES, "big")


def _g1(point: Any) -> bytes:
    x, y = normalize(point)
    return _fp(x.n) + _fp(y.n)


def _g2(point: Any) -> bytes:
    x, y = normalize(point)
    return b"".join(_fp(int(c)) for c in (*x.coeffs, *y.coeffs))


@cache
def _g1_off_subgroup() -> bytes:
    """A point of E(Fp) outside the order-r subgroup: the first x whose x^3 + 4 has a square root."""
    for x in range(1, 1000):
        rhs = (x**3 + 4) % P
        y = pow(rhs, (P + 1) // 4, P)
        point = (FQ(x), FQ(y), FQ.one())
        if y * y % P == rhs and not is_inf(multiply(point, curve_order)):
            assert is_on_curve(point, b)
            return _g1(point)
    raise AssertionError("no off-subgroup G1 point below x = 1000")


@cache
def _g2_off_subgroup() -> bytes:
    """A point of E'(Fp2) outside the order-r subgroup (the cofactor not cleared)."""
    for x0 in range(1, 1000):
        x = FQ2([x0, 1])
        y = modular_squareroot_in_FQ2(x**3 + b2)
        if y is None:
            continue
        point = (x, y, FQ2.one())
        if not is_inf(multiply(point, curve_order)):
            assert is_on_curve(point, b2)
            return _g2(point)
    raise AssertionError("no off-subgroup G2 point below x0 = 1000")


@pytest.fixture(scope="module")
def harness(web3: Web3, compiled_contracts: dict[str, CompiledContract]) -> Contract:
    """BLS12381Harness compiled with the shipped sources and deployed once."""
    compiled = compiled_contracts["BLS12381Harness"]
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    tx = factory.constructor().transact({"from": web3.eth.accounts[0]})
    receipt = web3.eth.wait_for_transaction_receipt(tx)
    deployed = web3.eth.contract(address=receipt["contractAddress"], abi=compiled.abi)
    assert isinstance(deployed, Contract)
    return deployed


@pytest.fixture(scope="module")
def signed() -> list[Signed]:
    rng = random.Random(2537)
    return [_sign(rng, rng.choice([0, 1, 32, 100, 333])) for _ in range(6)]


# hash_to_curve


@pytest.mark.parametrize("message", [b"", bytes(range(32)), random.Random(9380).randbytes(200)])
def test_hash_to_g2_equals_py_ecc(harness: Contract, message: bytes) -> None:
    assert harness.functions.hashToG2(message).call() == hash_to_g2_eip2537(message)


@settings(max_examples=examples(10, factor=0.2), deadline=None)
@given(message=st.binary(max_size=300))
def test_hash_to_g2_equals_py_ecc_property(harness: Contract, message: bytes) -> None:
    assert harness.functions.hashToG2(message).call() == hash_to_g2_eip2537(message)


# verify


def test_verify_accepts_blspy_signatures(harness: Contract, signed: list[Signed]) -> None:
    for case in signed:
        assert PopSchemeMPL.verify(
            case.secret.get_g1(), case.message, PopSchemeMPL.sign(case.secret, case.message)
        )
        assert harness.functions.verify(case.pubkey_point, case.message, case.signature_point).call() is True


def _other_message(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return c.pubkey_point, c.message + b"!", c.signature_point


def _other_key(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return d.pubkey_point, c.message, c.signature_point


def _negated_key(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    x, y = c.pubkey_point[:FP_BYTES], int.from_bytes(c.pubkey_point[FP_BYTES:], "big")
    return x + _fp(P - y), c.message, c.signature_point


def _negated_signature(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    halves = (int.from_bytes(c.signature[:48], "big"), int.from_bytes(c.signature[48:], "big"))
    point = decompress_G2(G2Compressed(halves))
    return c.pubkey_point, c.message, _g2(neg(point))


def _zero_key(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return bytes(128), c.message, c.signature_point


def _zero_signature(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return c.pubkey_point, c.message, bytes(256)


def _zero_both(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return bytes(128), c.message, bytes(256)  # the pairing alone would accept this for any message


def _key_off_curve(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    y = int.from_bytes(c.pubkey_point[FP_BYTES:], "big")
    return c.pubkey_point[:FP_BYTES] + _fp((y + 1) % P), c.message, c.signature_point


def _signature_off_curve(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    y1 = int.from_bytes(c.signature_point[3 * FP_BYTES :], "big")
    return c.pubkey_point, c.message, c.signature_point[: 3 * FP_BYTES] + _fp((y1 + 1) % P)


def _key_off_subgroup(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return _g1_off_subgroup(), c.message, c.signature_point


def _signature_off_subgroup(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return c.pubkey_point, c.message, _g2_off_subgroup()


def _key_127_bytes(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return c.pubkey_point[1:], c.message, c.signature_point


def _signature_255_bytes(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return c.pubkey_point, c.message, c.signature_point[1:]


def _key_x_plus_p(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    x = int.from_bytes(c.pubkey_point[:FP_BYTES], "big")  # same residue, not canonical
    return _fp(x + P) + c.pubkey_point[FP_BYTES:], c.message, c.signature_point


def _key_padding_set(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    return b"\x01" + c.pubkey_point[1:], c.message, c.signature_point


def _signature_fp_not_below_p(c: Signed, d: Signed) -> tuple[bytes, bytes, bytes]:
    x0 = int.from_bytes(c.signature_point[:FP_BYTES], "big")
    return c.pubkey_point, c.message, _fp(x0 + P) + c.signature_point[FP_BYTES:]


FORGERIES: list[Callable[[Signed, Signed], tuple[bytes, bytes, bytes]]] = [
    _other_message,
    _other_key,
    _negated_key,
    _negated_signature,
    _zero_key,
    _zero_signature,
    _zero_both,
    _key_off_curve,
    _signature_off_curve,
    _key_off_subgroup,
    _signature_off_subgroup,
    _key_127_bytes,
    _signature_255_bytes,
    _key_x_plus_p,
    _key_padding_set,
    _signature_fp_not_below_p,
]


@pytest.mark.parametrize("forge", FORGERIES, ids=lambda forge: forge.__name__.strip("_"))
def test_verify_rejects_without_reverting(
    harness: Contract, signed: list[Signed], forge: Callable[[Signed, Signed], tuple[bytes, bytes, bytes]]
) -> None:
    publicKey, message, signature = forge(signed[0], signed[1])  # noqa: N806
    # A revert would raise here; the verdict must be a plain False.
    assert harness.functions.verify(publicKey, message, signature).call() is False


def test_off_subgroup_points_are_on_the_curve() -> None:
    """The subgroup forgeries above test the subgroup check, not the curve check."""
    assert eip2537_to_g1(_g1_off_subgroup())  # on the curve: it converts
    assert eip2537_to_g2(_g2_off_subgroup())


def test_short_gas_reverts_instead_of_returning_false(harness: Contract, signed: list[Signed]) -> None:
    """Below what the precompiles cost, a call runs out of gas or reverts NotEnoughGas: it never
    turns a valid signature into False (EIP-150's 63/64 rule would, without the library's check)."""
    case = signed[0]
    call = harness.functions.verify(case.pubkey_point, case.message, case.signature_point)
    verdicts: list[bool | str] = []
    for gas in range(40_000, 260_000, 10_000):
        try:
            verdicts.append(call.call({"gas": gas}))
        except ContractCustomError as error:
            verdicts.append("NotEnoughGas" if str(error.data).startswith(NOT_ENOUGH_GAS) else repr(error))
        except Web3Exception:
            verdicts.append("out of gas")
    assert False not in verdicts
    assert "NotEnoughGas" in verdicts  # the library's check fired, not only the EVM's
    assert verdicts[-1] is True


def test_estimated_gas_is_enough_for_a_true_verdict(harness: Contract, signed: list[Signed]) -> None:
    """eth_estimateGas finds the least gas that does not revert; without the gas check that is an
    amount at which the pairing call fails and verify returns False."""
    case = signed[0]
    call = harness.functions.verify(case.pubkey_point, case.message, case.signature_point)
    assert call.call({"gas": call.estimate_gas()}) is True


# gas


def test_gas_of_one_verify(harness: Contract, web3: Web3) -> None:
    case = _sign(random.Random(100), 100)
    args = (case.pubkey_point, case.message, case.signature_point)
    hash_gas = harness.functions.hashToG2Gas(case.message).call()
    valid, verify_gas = harness.functions.verifyGas(*args).call()
    tx = harness.functions.verifyAndRecord(*args).transact({"from": web3.eth.accounts[0]})
    receipt = web3.eth.wait_for_transaction_receipt(tx)
    (event,) = harness.events.Verified().process_receipt(receipt)
    print(  # noqa: T201
        f"hashToG2 {hash_gas} gas, verify {verify_gas} gas, verifyAndRecord tx {receipt['gasUsed']} gas "
        f"(100-byte message)"
    )
    assert valid is True
    assert event["args"]["valid"] is True
    assert hash_gas < verify_gas < receipt["gasUsed"] < VERIFY_GAS_BOUND


def test_failed_pairing_burns_only_its_budget(harness: Contract, web3: Web3, signed: list[Signed]) -> None:
    """An off-subgroup key makes the pairing precompile fail and burn what it was sent: the fixed
    budget, not the 5,000,000 gas the transaction carries."""
    case = signed[0]
    tx = harness.functions.verifyAndRecord(_g1_off_subgroup(), case.message, case.signature_point).transact(
        {"from": web3.eth.accounts[0], "gas": 5_000_000}
    )
    receipt = web3.eth.wait_for_transaction_receipt(tx)
    (event,) = harness.events.Verified().process_receipt(receipt)
    assert receipt["status"] == 1
    assert event["args"]["valid"] is False
    assert receipt["gasUsed"] < VERIFY_GAS_BOUND


# g1MatchesCompressed / g2MatchesCompressed


@pytest.fixture(scope="module")
def many_signed() -> list[Signed]:
    rng = random.Random(381)
    return [_sign(rng, 8) for _ in range(16)]


def _with_flags(compressed: bytes, set_bits: int = 0, clear_bits: int = 0) -> bytes:
    return bytes([(compressed[0] | set_bits) & ~clear_bits & 0xFF]) + compressed[1:]


def test_g1_matches_compressed(harness: Contract, many_signed: list[Signed]) -> None:
    match = harness.functions.g1MatchesCompressed
    signs = {case.pubkey[0] & SIGN_FLAG for case in many_signed}
    assert signs == {0, SIGN_FLAG}  # both roots are exercised
    for case in many_signed:
        key, point = case.pubkey, case.pubkey_point
        assert match(key, point).call() is True
        assert match(bytes([key[0] ^ SIGN_FLAG]) + key[1:], point).call() is False
        assert match(key[:-1] + bytes([key[-1] ^ 1]), point).call() is False
        assert match(_with_flags(key, clear_bits=COMPRESSED_FLAG), point).call() is False
        assert match(_with_flags(key, set_bits=INFINITY_FLAG), point).call() is False
    other = many_signed[1].pubkey_point
    assert match(many_signed[0].pubkey, other).call() is False
    assert match(bytes([COMPRESSED_FLAG]) + bytes(47), bytes(128)).call() is False  # EIP-2537 infinity


def test_g1_matches_compressed_rejects_non_canonical_points(
    harness: Contract, many_signed: list[Signed]
) -> None:
    match = harness.functions.g1MatchesCompressed
    case = many_signed[0]
    y = int.from_bytes(case.pubkey_point[FP_BYTES:], "big")
    assert match(case.pubkey, case.pubkey_point[:FP_BYTES] + _fp(y + P)).call() is False
    assert match(case.pubkey, b"\x01" + case.pubkey_point[1:]).call() is False
    assert match(case.pubkey[:-1], case.pubkey_point).call() is False
    assert match(case.pubkey, case.pubkey_point[:-1]).call() is False


def test_g2_matches_compressed(harness: Contract, many_signed: list[Signed]) -> None:
    match = harness.functions.g2MatchesCompressed
    signs = {case.signature[0] & SIGN_FLAG for case in many_signed}
    assert signs == {0, SIGN_FLAG}
    for case in many_signed:
        sig, point = case.signature, case.signature_point
        flipped = bytes([sig[0] ^ SIGN_FLAG]) + sig[1:]
        assert match(sig, point).call() is True
        assert match(flipped, point).call() is False
        assert match(sig[:-1] + bytes([sig[-1] ^ 1]), point).call() is False  # x.c0 differs
        assert match(sig[:47] + bytes([sig[47] ^ 1]) + sig[48:], point).call() is False  # x.c1 differs
        assert match(_with_flags(sig, clear_bits=COMPRESSED_FLAG), point).call() is False
        assert match(_with_flags(sig, set_bits=INFINITY_FLAG), point).call() is False
    assert match(bytes([COMPRESSED_FLAG]) + bytes(95), bytes(256)).call() is False


@pytest.mark.parametrize("y0", [1, HALF_P, HALF_P + 1, P - 1])
def test_g2_sign_falls_back_to_y_c0_when_y_c1_is_zero(harness: Contract, y0: int) -> None:
    """blspy's signatures almost never have y.c1 == 0, so the fallback rule is checked on a built
    pair (the matcher does not check the curve)."""
    x0, x1 = 5, 7
    point = _fp(x0) + _fp(x1) + _fp(y0) + _fp(0)
    sign = SIGN_FLAG if y0 > HALF_P else 0
    compressed = bytes([COMPRESSED_FLAG | sign]) + x1.to_bytes(48, "big")[1:] + x0.to_bytes(48, "big")
    match = harness.functions.g2MatchesCompressed
    assert match(compressed, point).call() is True
    assert match(bytes([compressed[0] ^ SIGN_FLAG]) + compressed[1:], point).call() is False


# points.py


def test_points_round_trip(many_signed: list[Signed]) -> None:
    for case in many_signed:
        assert eip2537_to_g1(g1_to_eip2537(case.pubkey)) == case.pubkey
        assert eip2537_to_g2(g2_to_eip2537(case.signature)) == case.signature
        assert len(case.pubkey_point) == 128
        assert len(case.signature_point) == 256


def _not_on_g1_x() -> int:
    return next(x for x in range(1, 1000) if pow((x**3 + 4) % P, (P - 1) // 2, P) != 1)


def _not_on_g2_x0() -> int:
    """An x = (x0, 0) with no y on E'(Fp2), as the 96-bit compressed integer (x.c1 = 0 first)."""
    return next(x0 for x0 in range(1, 1000) if modular_squareroot_in_FQ2(FQ2([x0, 0]) ** 3 + b2) is None)


def _compressed(value: int, flags: int, size: int) -> bytes:
    raw = bytearray(value.to_bytes(size, "big"))
    raw[0] |= flags
    return bytes(raw)


@pytest.mark.parametrize(
    ("convert", "data", "reason"),
    [
        (g1_to_eip2537, bytes(47), "47 bytes, expected 48"),
        (g1_to_eip2537, _compressed(1, 0, 48), "compressed flag"),
        (g1_to_eip2537, _compressed(0, COMPRESSED_FLAG | INFINITY_FLAG, 48), "infinity"),
        (g1_to_eip2537, _compressed(P, COMPRESSED_FLAG, 48), "not below the field modulus"),
        (g1_to_eip2537, _compressed(_not_on_g1_x(), COMPRESSED_FLAG, 48), "not the x-coordinate"),
        (g2_to_eip2537, bytes(95), "95 bytes, expected 96"),
        (g2_to_eip2537, _compressed(0, COMPRESSED_FLAG | INFINITY_FLAG, 96), "infinity"),
        (g2_to_eip2537, _compressed(P, COMPRESSED_FLAG, 96), "x.c0 is not below"),
        (eip2537_to_g1, bytes(127), "127 bytes, expected 128"),
        (eip2537_to_g1, bytes(128), "infinity"),
        (eip2537_to_g1, b"\x01" + bytes(127), "nonzero padding"),
        (eip2537_to_g1, _fp(P) + _fp(2), "not below the field modulus"),
        (eip2537_to_g1, _fp(0) + _fp(3), "not on the curve"),
        (eip2537_to_g2, bytes(256), "infinity"),
        (eip2537_to_g2, _fp(1) * 4, "not on the curve"),
        (eip2537_to_g2, _fp(0) * 3 + _fp(P + 1), "not below the field modulus"),
        (g2_to_eip2537, _compressed(_not_on_g2_x0(), COMPRESSED_FLAG, 96), "not the x-coordinate"),
    ],
)
def test_points_reject_bad_input(convert: Callable[[bytes], bytes], data: bytes, reason: str) -> None:
    with pytest.raises(InvalidPoint, match=reason) as raised:
        convert(data)
    assert isinstance(raised.value, RegistryError)
    restored = pickle.loads(pickle.dumps(raised.value))
    assert (restored.kind, restored.reason) == (raised.value.kind, raised.value.reason)


def test_points_reject_what_is_not_bytes() -> None:
    with pytest.raises(InvalidPoint, match="expected bytes, got str"):
        g1_to_eip2537("00" * 48)  # type: ignore[arg-type]


def test_eip2537_g1_accepts_off_subgroup_points_on_the_curve() -> None:
    """(0, 2) is on y^2 = x^3 + 4 but of order 3: the conversion checks the curve, the pairing the
    subgroup."""
    order_three = (FQ(0), FQ(2), FQ.one())
    assert is_inf(multiply(order_three, 3))
    assert eip2537_to_g1(_g1(order_three))[0] & COMPRESSED_FLAG
