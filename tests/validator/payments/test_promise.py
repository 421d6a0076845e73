"""The shared payments core: a promise survives its header, and `check_promise` refuses each bad
promise with its own code and status (the API answers with them)."""

from __future__ import annotations

import pytest
from eth_account.messages import _hash_eip191_message, encode_typed_data
from hypothesis import given
from hypothesis import strategies as st

from tests.validator.payments.keys import sequencer
from validator.payments.errors import (
    BadPaymentSignature,
    BilledSizeMismatch,
    InsufficientEscrow,
    InsufficientIncrement,
    MalformedPayment,
    PaymentError,
    PromiseExpired,
    PromiseReplayed,
    PromiseRootMismatch,
    WrongPayee,
)
from validator.payments.promise import (
    MAX_UINT64,
    MAX_UINT256,
    PaymentDomain,
    PaymentPromise,
    PriceTerms,
    SignedPromise,
    check_promise,
    check_root,
    compute_promise_digest,
    decode_payment_header,
    encode_payment_header,
    promise_typed_data,
    recover_signer,
)

DOMAIN = PaymentDomain(31337, "0x" + "ab" * 20)
NODE = sequencer(90).address
TERMS = PriceTerms(price_per_byte=3, min_billed_bytes=4096)
ROOT = b"\x11" * 32
NOW = 1_800_000_000
ALICE, MALLORY = sequencer(1), sequencer(2)


def promise(**changes: object) -> PaymentPromise:
    fields: dict[str, object] = {
        "account": ALICE.address,
        "node": NODE,
        "data_root": ROOT,
        "billed_bytes": 10_000,
        "cumulative": 30_000,
        "expiry": NOW + 60,
    }
    fields.update(changes)
    return PaymentPromise(**fields)  # type: ignore[arg-type]


def check(signed: SignedPromise, **changes: object) -> object:
    arguments: dict[str, object] = {
        "domain": DOMAIN,
        "node": NODE,
        "terms": TERMS,
        "byte_length": 10_000,
        "data_root": ROOT,
        "held": 0,
        "settled": 0,
        "covered": 10**18,
        "now": NOW,
    }
    arguments.update(changes)
    return check_promise(signed, **arguments)  # type: ignore[arg-type]


def test_a_good_promise_is_accepted_with_its_increment() -> None:
    accepted = check(ALICE.sign(DOMAIN, promise(cumulative=50_000)), held=20_000)
    assert (accepted.account, accepted.cumulative, accepted.increment) == (ALICE.address, 50_000, 30_000)


def test_a_blob_below_the_minimum_is_billed_the_minimum() -> None:
    signed = ALICE.sign(DOMAIN, promise(billed_bytes=4096, cumulative=4096 * 3))
    assert check(signed, byte_length=10).increment == 4096 * 3
    with pytest.raises(BilledSizeMismatch) as refused:
        check(ALICE.sign(DOMAIN, promise(billed_bytes=10, cumulative=4096 * 3)), byte_length=10)
    assert refused.value.details == {"billed_bytes": 4096}


@given(
    billed=st.integers(0, MAX_UINT64),
    cumulative=st.integers(0, MAX_UINT256),
    expiry=st.integers(0, MAX_UINT64),
    root=st.binary(min_size=32, max_size=32),
)
def test_the_header_round_trips(billed: int, cumulative: int, expiry: int, root: bytes) -> None:
    signed = SignedPromise(
        promise(billed_bytes=billed, cumulative=cumulative, expiry=expiry, data_root=root), b"\x07" * 65
    )
    assert decode_payment_header(encode_payment_header(signed)) == signed


def test_a_signed_header_decodes_to_a_promise_that_still_verifies() -> None:
    signed = ALICE.sign(DOMAIN, promise())
    header = encode_payment_header(signed)
    assert len(header) < 512
    assert recover_signer(DOMAIN, decode_payment_header(header)) == ALICE.address
    # Addresses in lower case are taken (and checksummed).
    assert decode_payment_header(header.replace(ALICE.address, ALICE.address.lower())) == signed


def test_a_promise_signed_by_another_key_is_a_bad_signature() -> None:
    forged = SignedPromise(promise(), MALLORY.sign(DOMAIN, promise()).signature)
    with pytest.raises(BadPaymentSignature) as refused:
        check(forged)
    assert (refused.value.code, refused.value.status) == ("bad_payment_signature", 401)


def test_a_signature_that_is_no_signature_is_a_bad_signature() -> None:
    with pytest.raises(BadPaymentSignature):
        check(SignedPromise(promise(), b"\x00" * 65))


def test_a_promise_signed_for_another_contract_or_chain_does_not_verify() -> None:
    for other in (PaymentDomain(1, DOMAIN.verifying_contract), PaymentDomain(31337, "0x" + "cd" * 20)):
        with pytest.raises(BadPaymentSignature):
            check(ALICE.sign(other, promise()))


REFUSALS = [
    ("wrong_payee", WrongPayee, {"node": MALLORY.address}, {}),
    ("promise_expired", PromiseExpired, {"expiry": NOW - 1}, {}),
    ("promise_root_mismatch", PromiseRootMismatch, {"data_root": b"\x22" * 32}, {}),
    ("billed_size_mismatch", BilledSizeMismatch, {"billed_bytes": 9_999}, {}),
    ("promise_replayed", PromiseReplayed, {"cumulative": 30_000}, {"held": 30_000}),
    ("insufficient_increment", InsufficientIncrement, {"cumulative": 59_999}, {"held": 30_000}),
    ("insufficient_escrow", InsufficientEscrow, {"cumulative": 60_000}, {"held": 30_000, "covered": 59_999}),
]


@pytest.mark.parametrize(("code", "kind", "fields", "state"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_each_refusal_has_its_code_and_402(
    code: str, kind: type[PaymentError], fields: dict[str, object], state: dict[str, object]
) -> None:
    with pytest.raises(kind) as refused:
        check(ALICE.sign(DOMAIN, promise(**fields)), **state)
    assert (refused.value.code, refused.value.status) == (code, 402)


def test_escrow_counts_what_was_settled_and_expiry_is_inclusive() -> None:
    signed = ALICE.sign(DOMAIN, promise(cumulative=60_000, expiry=NOW))
    assert check(signed, held=30_000, settled=30_000, covered=30_000).increment == 30_000
    with pytest.raises(InsufficientEscrow) as refused:
        check(signed, held=30_000, settled=29_999, covered=30_000)
    assert refused.value.details == {"outstanding": "30001", "covered": "30000"}


def test_the_root_is_checked_later_when_unknown() -> None:
    signed = ALICE.sign(DOMAIN, promise())
    check(signed, data_root=None)
    check_root(signed.promise, ROOT)
    with pytest.raises(PromiseRootMismatch) as refused:
        check_root(signed.promise, b"\x33" * 32)
    assert refused.value.details == {"data_root": "0x" + "33" * 32}


GOOD = encode_payment_header(SignedPromise(promise(), b"\x07" * 65))
MALFORMED = [
    ("too long", GOOD + "," + "x" * 600, None),
    ("unknown field", GOOD + ",tip=1", "tip"),
    ("no equals sign", GOOD + ",junk", "junk"),
    ("repeated field", GOOD + ",expiry=5", "expiry"),
    ("missing field", GOOD.replace(",expiry=" + str(NOW + 60), ""), "expiry"),
    ("bad address", GOOD.replace(ALICE.address, "0x1234"), "account"),
    ("short root", GOOD.replace("11" * 32, "11" * 31), "data_root"),
    ("root without 0x", GOOD.replace("0x" + "11" * 32, "11" * 33), "data_root"),
    ("root not hex", GOOD.replace("11" * 32, "zz" * 32), "data_root"),
    ("negative number", GOOD.replace("billed_bytes=10000", "billed_bytes=-1"), "billed_bytes"),
    ("leading zero", GOOD.replace("billed_bytes=10000", "billed_bytes=010000"), "billed_bytes"),
    ("not ascii digits", GOOD.replace("billed_bytes=10000", "billed_bytes=١٢"), "billed_bytes"),
    ("uint64 overflow", GOOD.replace(f"expiry={NOW + 60}", f"expiry={MAX_UINT64 + 1}"), "expiry"),
    ("short signature", GOOD.replace("07" * 65, "07" * 64), "signature"),
    ("empty", "", ""),
]


@pytest.mark.parametrize(("name", "header", "field"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_header_names_its_field(name: str, header: str, field: str | None) -> None:
    with pytest.raises(MalformedPayment) as refused:
        decode_payment_header(header)
    assert (refused.value.code, refused.value.status) == ("malformed_payment", 400)
    assert refused.value.details.get("field") == field


@given(
    chain_id=st.integers(1, 2**64),
    billed=st.integers(0, MAX_UINT64),
    cumulative=st.integers(0, MAX_UINT256),
    expiry=st.integers(0, MAX_UINT64),
    root=st.binary(min_size=32, max_size=32),
)
def test_the_digest_is_eip712s(chain_id: int, billed: int, cumulative: int, expiry: int, root: bytes) -> None:
    """The node's direct digest equals eth-account's typed-data hash (what wallets and the contract
    compute), so a promise signed by any EIP-712 signer verifies."""
    domain = PaymentDomain(chain_id, DOMAIN.verifying_contract)
    unsigned = promise(billed_bytes=billed, cumulative=cumulative, expiry=expiry, data_root=root)
    signable = encode_typed_data(full_message=promise_typed_data(domain, unsigned))
    assert compute_promise_digest(domain, unsigned) == _hash_eip191_message(signable)


def test_a_signature_with_a_bad_recovery_byte_is_a_bad_signature() -> None:
    signature = ALICE.sign(DOMAIN, promise()).signature
    for v in (2, 26, 29, 255):
        with pytest.raises(BadPaymentSignature):
            recover_signer(DOMAIN, SignedPromise(promise(), signature[:64] + bytes([v])))
    # v as 0/1 (some signers) is the same signature as 27/28.
    low = SignedPromise(promise(), signature[:64] + bytes([signature[64] - 27]))
    assert recover_signer(DOMAIN, low) == ALICE.address
