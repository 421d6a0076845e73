"""BLS keys (validator/keys.py): PoP-scheme signing, verification, aggregation, typed errors, and a
cross-check against py_ecc's `G2ProofOfPossession`, the executable spec, on the same keys."""

from __future__ import annotations

import copy
import pickle
import traceback

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validator.errors import (
    InvalidKeyMaterial,
    InvalidKeystore,
    KeystoreExists,
    KeystoreNotFound,
    PasswordUnavailable,
    ValidatorError,
    WrongPassword,
)
from validator.keys import (
    BLS_PUBKEY_BYTES,
    BLS_SIGNATURE_BYTES,
    CURVE_ORDER,
    BLSPubkey,
    BLSSignature,
    SecretKey,
    aggregate_signatures,
    bytes_to_pubkey,
    bytes_to_signature,
    compute_proof_of_possession,
    fast_aggregate_verify,
    verify_proof_of_possession,
    verify_signature,
)

MESSAGE = b"tessera attestation signing root"
# Compressed encodings of points that are on the curve but outside the order-r subgroup:
# G1 x=4; G2 x=(0 + 1*u). test_off_subgroup_constants checks that claim with py_ecc.
G1_OFF_SUBGROUP = bytes.fromhex("80" + "00" * 46 + "04")
G2_OFF_SUBGROUP = bytes.fromhex("a0" + "00" * 46 + "01" + "00" * 48)
G1_INFINITY = bytes.fromhex("c0" + "00" * 47)
G2_INFINITY = bytes.fromhex("c0" + "00" * 95)
# EIP-2335's test vector secret and the public key its keystores declare.
EIP2335_SECRET = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
EIP2335_PUBKEY = bytes.fromhex(
    "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
)


def key(i: int) -> SecretKey:
    """A deterministic test key."""
    return SecretKey.from_seed(bytes([i]) * 32)


def assert_secret_free(error: BaseException, *forbidden: bytes | str) -> None:
    """Neither the message, the args nor the repr of `error`, nor of any exception chained to it,
    shows any of `forbidden` (bytes are searched as hex)."""
    shown = []
    seen: BaseException | None = error
    while seen is not None:  # the error and every exception chained to it
        shown += [*traceback.format_exception_only(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    text = "".join(shown)
    for item in forbidden:
        needle = item.hex() if isinstance(item, bytes) else item
        assert needle.lower() not in text.lower()


# --- SecretKey -------------------------------------------------------------------------------


def test_secret_key_never_shows_its_secret() -> None:
    sk = key(1)
    secret = sk.to_bytes()
    assert len(secret) == 32
    for shown in (repr(sk), str(sk), f"{sk}", f"{sk!r}", repr([sk]), repr({"k": sk})):
        assert secret.hex() not in shown
        assert "SecretKey(pubkey=0x" in shown
    assert sk.pubkey.hex()[:8] in repr(sk)
    assert not hasattr(sk, "__dict__")


def test_secret_key_refuses_pickling_but_copies() -> None:
    sk = key(1)
    with pytest.raises(TypeError) as info:
        pickle.dumps(sk)
    assert_secret_free(info.value, sk.to_bytes())
    assert copy.copy(sk) is sk
    assert copy.deepcopy(sk) is sk


def test_secret_key_round_trips_bytes_and_compares() -> None:
    sk = key(1)
    again = SecretKey.from_bytes(sk.to_bytes())
    assert again == sk
    assert hash(again) == hash(sk)
    assert again.pubkey == sk.pubkey
    assert key(2) != sk
    assert sk != sk.to_bytes()
    assert len(sk.pubkey) == BLS_PUBKEY_BYTES


def test_generate_gives_fresh_valid_keys() -> None:
    a, b = SecretKey.generate(), SecretKey.generate()
    assert a != b
    assert verify_signature(a.pubkey, MESSAGE, a.sign(MESSAGE))


def test_from_seed_is_deterministic_and_needs_32_bytes() -> None:
    assert SecretKey.from_seed(b"\x07" * 32) == SecretKey.from_seed(b"\x07" * 32)
    assert SecretKey.from_seed(b"\x07" * 32) != SecretKey.from_seed(b"\x07" * 33)
    with pytest.raises(InvalidKeyMaterial) as info:
        SecretKey.from_seed(b"\x07" * 31)
    assert info.value.kind == "seed"
    assert_secret_free(info.value, b"\x07" * 31)
    with pytest.raises(InvalidKeyMaterial):
        SecretKey.from_seed("not bytes" * 8)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x01" * 31, "31 bytes"),
        (b"\x01" * 33, "33 bytes"),
        (bytes(32), "zero"),
        (CURVE_ORDER.to_bytes(32, "big"), "curve order"),
        ((CURVE_ORDER + 5).to_bytes(32, "big"), "curve order"),
        (b"\xff" * 32, "curve order"),
    ],
)
def test_from_bytes_rejects_bad_secrets(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidKeyMaterial) as info:
        SecretKey.from_bytes(data)
    assert info.value.kind == "secret key"
    assert reason in str(info.value)
    assert_secret_free(info.value, data)


def test_from_bytes_accepts_the_extremes() -> None:
    assert SecretKey.from_bytes((1).to_bytes(32, "big")).to_bytes() == (1).to_bytes(32, "big")
    top = (CURVE_ORDER - 1).to_bytes(32, "big")
    assert SecretKey.from_bytes(top).to_bytes() == top


@pytest.mark.parametrize("bad", ["text", bytearray(b"x" * 32), 7, None])
def test_from_bytes_rejects_non_bytes(bad: object) -> None:
    with pytest.raises(InvalidKeyMaterial, match="expected bytes"):
        SecretKey.from_bytes(bad)  # type: ignore[arg-type]


def test_the_leak_check_catches_blspy_own_errors() -> None:
    # Why `sign` checks its argument itself: blspy's TypeError quotes the private key.
    from blspy import PopSchemeMPL, PrivateKey  # noqa: PLC0415

    secret = key(1).to_bytes()
    with pytest.raises(TypeError) as info:
        PopSchemeMPL.sign(PrivateKey.from_bytes(secret), "text")  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        assert_secret_free(info.value, secret)


def test_sign_rejects_non_bytes_without_leaking_the_key() -> None:
    # blspy's own TypeError would print the private key; ours must not.
    sk = key(1)
    for bad in ("text", bytearray(b"abc"), 5):
        with pytest.raises(InvalidKeyMaterial) as info:
            sk.sign(bad)  # type: ignore[arg-type]
        assert_secret_free(info.value, sk.to_bytes())


def test_eip2335_secret_has_the_declared_pubkey() -> None:
    assert SecretKey.from_bytes(EIP2335_SECRET).pubkey == EIP2335_PUBKEY


# --- signatures ---------------------------------------------------------------------------------


def test_signature_verifies_only_for_its_key_and_message() -> None:
    a, b = key(1), key(2)
    signature = a.sign(MESSAGE)
    assert len(signature) == BLS_SIGNATURE_BYTES
    assert signature == a.sign(MESSAGE)  # BLS signatures are deterministic (unique)
    assert verify_signature(a.pubkey, MESSAGE, signature)
    assert not verify_signature(b.pubkey, MESSAGE, signature)
    assert not verify_signature(a.pubkey, MESSAGE + b"!", signature)
    assert not verify_signature(a.pubkey, MESSAGE, b.sign(MESSAGE))


def test_empty_message_signs() -> None:
    sk = key(3)
    assert verify_signature(sk.pubkey, b"", sk.sign(b""))


@given(message=st.binary(max_size=200), other=st.binary(max_size=200))
def test_signature_property(message: bytes, other: bytes) -> None:
    sk = key(4)
    signature = sk.sign(message)
    assert verify_signature(sk.pubkey, message, signature)
    assert verify_signature(sk.pubkey, other, signature) == (other == message)


@pytest.mark.parametrize(
    ("pubkey", "signature"),
    [
        (b"", None),
        (b"\x01" * 47, None),
        (b"\x01" * 49, None),
        (b"\x01" * 48, None),  # no compression flag
        (G1_OFF_SUBGROUP, None),
        (G1_INFINITY, None),
        (None, b""),
        (None, b"\x01" * 95),
        (None, b"\x01" * 96),
        (None, G2_OFF_SUBGROUP),
        (None, G2_INFINITY),
    ],
)
def test_verify_returns_false_on_malformed_bytes(pubkey: bytes | None, signature: bytes | None) -> None:
    sk = key(1)
    pk = BLSPubkey(pubkey) if pubkey is not None else sk.pubkey
    sig = BLSSignature(signature) if signature is not None else sk.sign(MESSAGE)
    pop = BLSSignature(signature) if signature is not None else compute_proof_of_possession(sk)
    assert verify_signature(pk, MESSAGE, sig) is False
    assert verify_proof_of_possession(pk, pop) is False
    assert fast_aggregate_verify([pk], MESSAGE, sig) is False


@pytest.mark.parametrize("bad", ["text", bytearray(48), 0, None, [1, 2]])
def test_verify_raises_typed_error_on_non_bytes(bad: object) -> None:
    sk = key(1)
    sig = sk.sign(MESSAGE)
    pop = compute_proof_of_possession(sk)
    calls = [
        lambda: verify_signature(bad, MESSAGE, sig),  # type: ignore[arg-type]
        lambda: verify_signature(sk.pubkey, bad, sig),  # type: ignore[arg-type]
        lambda: verify_signature(sk.pubkey, MESSAGE, bad),  # type: ignore[arg-type]
        lambda: verify_proof_of_possession(bad, pop),  # type: ignore[arg-type]
        lambda: verify_proof_of_possession(sk.pubkey, bad),  # type: ignore[arg-type]
        lambda: fast_aggregate_verify([bad], MESSAGE, sig),  # type: ignore[list-item]
        lambda: fast_aggregate_verify([sk.pubkey], bad, sig),  # type: ignore[arg-type]
        lambda: fast_aggregate_verify([sk.pubkey], MESSAGE, bad),  # type: ignore[arg-type]
        lambda: aggregate_signatures([bad]),  # type: ignore[list-item]
        lambda: bytes_to_pubkey(bad),  # type: ignore[arg-type]
        lambda: bytes_to_signature(bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidKeyMaterial, match="expected bytes"):
            call()


def test_bytes_to_pubkey_and_signature() -> None:
    sk = key(1)
    assert bytes_to_pubkey(bytes(sk.pubkey)) == sk.pubkey
    signature = sk.sign(MESSAGE)
    assert bytes_to_signature(bytes(signature)) == signature
    assert bytes_to_signature(G2_INFINITY) == G2_INFINITY  # the identity is a point; it just verifies nothing
    for bad in (b"\x01" * 47, b"\x01" * 48, G1_OFF_SUBGROUP, G1_INFINITY):
        with pytest.raises(InvalidKeyMaterial) as info:
            bytes_to_pubkey(bad)
        assert info.value.kind == "pubkey"
    for bad in (b"\x01" * 95, b"\x01" * 96, G2_OFF_SUBGROUP):
        with pytest.raises(InvalidKeyMaterial) as info:
            bytes_to_signature(bad)
        assert info.value.kind == "signature"


# --- proofs of possession -----------------------------------------------------------------------


def test_proof_of_possession_binds_its_key() -> None:
    a, b = key(1), key(2)
    pop = compute_proof_of_possession(a)
    assert verify_proof_of_possession(a.pubkey, pop)
    assert not verify_proof_of_possession(b.pubkey, pop)
    assert not verify_proof_of_possession(a.pubkey, compute_proof_of_possession(b))


def test_proof_of_possession_is_not_a_plain_signature() -> None:
    # Domain separation: PopProve uses its own DST, so a signature over the pubkey bytes is no proof,
    # and a proof does not verify as a signature over the pubkey bytes.
    sk = key(1)
    assert not verify_proof_of_possession(sk.pubkey, sk.sign(bytes(sk.pubkey)))
    assert not verify_signature(sk.pubkey, bytes(sk.pubkey), compute_proof_of_possession(sk))


# --- aggregation --------------------------------------------------------------------------------


def test_aggregate_verifies_and_fails_when_a_signer_is_swapped() -> None:
    signers = [key(i) for i in range(1, 7)]
    outsider = key(99)
    pubkeys = [sk.pubkey for sk in signers]
    aggregate = aggregate_signatures([sk.sign(MESSAGE) for sk in signers])
    assert len(aggregate) == BLS_SIGNATURE_BYTES
    assert fast_aggregate_verify(pubkeys, MESSAGE, aggregate)
    assert fast_aggregate_verify(list(reversed(pubkeys)), MESSAGE, aggregate)  # order does not matter
    for i in range(len(pubkeys)):
        swapped = [*pubkeys[:i], outsider.pubkey, *pubkeys[i + 1 :]]
        assert not fast_aggregate_verify(swapped, MESSAGE, aggregate)
        assert not fast_aggregate_verify(pubkeys[:i] + pubkeys[i + 1 :], MESSAGE, aggregate)
    assert not fast_aggregate_verify([*pubkeys, outsider.pubkey], MESSAGE, aggregate)
    assert not fast_aggregate_verify(pubkeys, MESSAGE + b"!", aggregate)
    # A signer who signed another message spoils the aggregate.
    mixed = aggregate_signatures([sk.sign(MESSAGE) for sk in signers[:-1]] + [signers[-1].sign(b"other")])
    assert not fast_aggregate_verify(pubkeys, MESSAGE, mixed)


def test_aggregate_of_one_is_the_signature() -> None:
    sk = key(1)
    assert aggregate_signatures([sk.sign(MESSAGE)]) == sk.sign(MESSAGE)
    assert fast_aggregate_verify([sk.pubkey], MESSAGE, sk.sign(MESSAGE))


def test_fast_aggregate_verify_false_for_no_keys_or_bad_points() -> None:
    sk = key(1)
    signature = sk.sign(MESSAGE)
    assert not fast_aggregate_verify([], MESSAGE, signature)
    assert not fast_aggregate_verify([], MESSAGE, BLSSignature(G2_INFINITY))
    assert not fast_aggregate_verify([sk.pubkey, BLSPubkey(G1_OFF_SUBGROUP)], MESSAGE, signature)
    assert not fast_aggregate_verify([sk.pubkey, BLSPubkey(G1_INFINITY)], MESSAGE, signature)


def test_aggregate_rejects_empty_and_undecodable() -> None:
    with pytest.raises(InvalidKeyMaterial, match="zero signatures"):
        aggregate_signatures([])
    good = key(1).sign(MESSAGE)
    with pytest.raises(InvalidKeyMaterial) as info:
        aggregate_signatures([good, BLSSignature(G2_OFF_SUBGROUP)])
    assert info.value.kind == "signature 1"


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        InvalidKeyMaterial("pubkey", "48 bytes expected"),
        InvalidKeystore("missing field crypto", "keys/k.json"),
        InvalidKeystore("missing field crypto"),
        WrongPassword("1d85ae20-35c5-4611-98e8-aa14a633906f"),
        WrongPassword(),
        KeystoreNotFound("keys/k.json"),
        KeystoreExists("keys/k.json"),
        PasswordUnavailable("no TTY"),
    ],
)
def test_errors_pickle_and_share_the_root(error: ValidatorError) -> None:
    assert isinstance(error, ValidatorError)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert again.__dict__ == error.__dict__


# --- py_ecc oracle ------------------------------------------------------------------------------


@pytest.mark.oracle
def test_py_ecc_agrees_on_keys_signatures_and_proofs() -> None:
    from py_ecc.bls import G2ProofOfPossession as Oracle  # noqa: PLC0415 (slow import, oracle only)

    for sk in (key(1), SecretKey.from_bytes(EIP2335_SECRET)):
        scalar = int.from_bytes(sk.to_bytes(), "big")
        assert Oracle.SkToPk(scalar) == sk.pubkey
        signature = sk.sign(MESSAGE)
        assert Oracle.Sign(scalar, MESSAGE) == signature
        assert Oracle.Verify(sk.pubkey, MESSAGE, signature)
        pop = compute_proof_of_possession(sk)
        assert Oracle.PopProve(scalar) == pop
        assert Oracle.PopVerify(sk.pubkey, pop)
    assert Oracle.SkToPk(int.from_bytes(EIP2335_SECRET, "big")) == EIP2335_PUBKEY


@pytest.mark.oracle
def test_py_ecc_agrees_on_aggregates() -> None:
    from py_ecc.bls import G2ProofOfPossession as Oracle  # noqa: PLC0415 (slow import, oracle only)

    signers = [key(i) for i in range(1, 4)]
    pubkeys = [sk.pubkey for sk in signers]
    signatures = [sk.sign(MESSAGE) for sk in signers]
    aggregate = aggregate_signatures(signatures)
    assert Oracle.Aggregate(signatures) == aggregate
    assert Oracle.FastAggregateVerify(pubkeys, MESSAGE, aggregate)
    swapped = [*pubkeys[:-1], key(99).pubkey]
    assert not Oracle.FastAggregateVerify(swapped, MESSAGE, aggregate)
    assert not fast_aggregate_verify(swapped, MESSAGE, aggregate)
    # And the other way: what py_ecc signs, blspy verifies.
    scalar = int.from_bytes(key(5).to_bytes(), "big")
    assert verify_signature(key(5).pubkey, b"from py_ecc", BLSSignature(Oracle.Sign(scalar, b"from py_ecc")))


@pytest.mark.oracle
def test_off_subgroup_constants() -> None:
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2  # noqa: PLC0415
    from py_ecc.optimized_bls12_381 import b, b2, curve_order, is_inf, is_on_curve, multiply  # noqa: PLC0415

    g1 = decompress_G1(int.from_bytes(G1_OFF_SUBGROUP, "big"))
    assert is_on_curve(g1, b)
    assert not is_inf(multiply(g1, curve_order))
    g2 = decompress_G2(
        (int.from_bytes(G2_OFF_SUBGROUP[:48], "big"), int.from_bytes(G2_OFF_SUBGROUP[48:], "big"))
    )
    assert is_on_curve(g2, b2)
    assert not is_inf(multiply(g2, curve_order))
