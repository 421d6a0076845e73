"""Payment promises: what a sequencer signs with its Ethereum key for each dispersal, and the pure
check a node runs before it accepts one (specs/validator.md, "Payments").

A promise is EIP-712 typed data,

    Promise(address account, address node, bytes32 dataRoot, uint64 billedBytes,
            uint256 cumulative, uint64 expiry)

under the domain {name: "Tessera Payments", version: "1", chainId, verifyingContract}. `cumulative`
is everything `account` has ever promised `node`; each new promise must raise it by at least the
blob's cost, so a node only ever needs the highest one it holds, and the payments contract pays each
(account, node) pair the difference between the highest promise settled and what it already paid.

It travels in the `Tessera-Payment` request header as comma-separated `name=value` fields (below).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_utils.address import is_hex_address, to_checksum_address
from eth_utils.crypto import keccak

from validator.payments.errors import (
    BadPaymentSignature,
    BilledSizeMismatch,
    InsufficientEscrow,
    InsufficientIncrement,
    MalformedPayment,
    PromiseExpired,
    PromiseReplayed,
    PromiseRootMismatch,
    WrongPayee,
)

PAYMENT_HEADER: Final = "Tessera-Payment"
"""The request header that carries a signed promise."""

DOMAIN_NAME: Final = "Tessera Payments"
DOMAIN_VERSION: Final = "1"
MAX_UINT64: Final = 2**64 - 1
MAX_UINT256: Final = 2**256 - 1
MAX_HEADER_CHARS: Final = 512
"""A well-formed header is about 400 characters; anything longer is refused before parsing."""

_PROMISE_TYPES: Final = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Promise": [
        {"name": "account", "type": "address"},
        {"name": "node", "type": "address"},
        {"name": "dataRoot", "type": "bytes32"},
        {"name": "billedBytes", "type": "uint64"},
        {"name": "cumulative", "type": "uint256"},
        {"name": "expiry", "type": "uint64"},
    ],
}
_DOMAIN_TYPEHASH: Final = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
_PROMISE_TYPEHASH: Final = keccak(
    b"Promise(address account,address node,bytes32 dataRoot,uint64 billedBytes,uint256 cumulative,"
    b"uint64 expiry)"
)
_FIELDS: Final = ("account", "node", "data_root", "billed_bytes", "cumulative", "expiry", "signature")


@dataclass(frozen=True, slots=True)
class PaymentDomain:
    """Where promises are valid: the chain and the payments contract (or, for the embedded SQLite
    registry, the address it derives for its escrow table). Addresses are checksummed."""

    chain_id: int
    verifying_contract: str


@dataclass(frozen=True, slots=True)
class PriceTerms:
    """The on-chain price: wei per billed byte, and the least a blob is billed for."""

    price_per_byte: int
    min_billed_bytes: int

    def billed_bytes(self, byte_length: int) -> int:
        """The size a blob of `byte_length` bytes is billed for."""
        return max(byte_length, self.min_billed_bytes)

    def cost(self, byte_length: int) -> int:
        """What a blob of `byte_length` bytes costs, in wei."""
        return self.billed_bytes(byte_length) * self.price_per_byte


@dataclass(frozen=True, slots=True)
class PaymentPromise:
    """One promise, unsigned. `data_root` is 32 bytes; addresses are checksummed; `expiry` is a unix
    time in seconds (the chain's block timestamps and the node's clock use the same scale)."""

    account: str
    node: str
    data_root: bytes
    billed_bytes: int
    cumulative: int
    expiry: int


@dataclass(frozen=True, slots=True)
class SignedPromise:
    """A promise and its 65-byte secp256k1 signature (r ‖ s ‖ v) over the EIP-712 digest."""

    promise: PaymentPromise
    signature: bytes


@dataclass(frozen=True, slots=True)
class AcceptedPayment:
    """What a node records when it accepts a promise: the account, the new cumulative it holds from
    it, and what this blob added (the increment, at least the blob's cost)."""

    account: str
    cumulative: int
    increment: int


def promise_typed_data(domain: PaymentDomain, promise: PaymentPromise) -> dict[str, Any]:
    """The EIP-712 `eth_signTypedData_v4` document of `promise` (what wallets and the contract hash)."""
    return {
        "types": _PROMISE_TYPES,
        "primaryType": "Promise",
        "domain": {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": domain.chain_id,
            "verifyingContract": domain.verifying_contract,
        },
        "message": {
            "account": promise.account,
            "node": promise.node,
            "dataRoot": promise.data_root,
            "billedBytes": promise.billed_bytes,
            "cumulative": promise.cumulative,
            "expiry": promise.expiry,
        },
    }


def sign_promise(domain: PaymentDomain, promise: PaymentPromise, private_key: bytes) -> SignedPromise:
    """Sign `promise` with the account's secp256k1 key (32 bytes)."""
    signable = encode_typed_data(full_message=promise_typed_data(domain, promise))
    signed = Account.sign_message(signable, private_key)
    return SignedPromise(promise, bytes(signed.signature))


def compute_promise_digest(domain: PaymentDomain, promise: PaymentPromise) -> bytes:
    """The EIP-712 digest of `promise` (keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(promise))),
    what `sign_promise` signs, computed directly: about 20 times faster than building the typed-data
    document, and a node computes it for every paid post."""
    separator = keccak(
        _DOMAIN_TYPEHASH
        + keccak(DOMAIN_NAME.encode())
        + keccak(DOMAIN_VERSION.encode())
        + _word(domain.chain_id)
        + _address_word(domain.verifying_contract)
    )
    if len(promise.data_root) != 32:
        raise ValueError(f"a data root is 32 bytes, not {len(promise.data_root)}")
    struct = keccak(
        _PROMISE_TYPEHASH
        + _address_word(promise.account)
        + _address_word(promise.node)
        + promise.data_root
        + _word(promise.billed_bytes)
        + _word(promise.cumulative)
        + _word(promise.expiry)
    )
    return keccak(b"\x19\x01" + separator + struct)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def recover_signer(domain: PaymentDomain, signed: SignedPromise) -> str:
    """The checksummed address whose key made `signed.signature`; `BadPaymentSignature` if none does."""
    signature = signed.signature
    try:
        if len(signature) != 65 or signature[64] not in (0, 1, 27, 28):
            raise ValueError("a signature is 65 bytes r ‖ s ‖ v with v in 0, 1, 27, 28")
        v = signature[64] - 27 if signature[64] >= 27 else signature[64]
        vrs = (v, int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"))
        public_key = Signature(vrs=vrs).recover_public_key_from_msg_hash(
            compute_promise_digest(domain, signed.promise)
        )
        return str(public_key.to_checksum_address())
    except (ValueError, TypeError, BadSignature) as error:  # eth-keys' BadSignature is no ValueError
        raise BadPaymentSignature(f"the payment signature does not verify: {error}") from error


def check_promise(
    signed: SignedPromise,
    *,
    domain: PaymentDomain,
    node: str,
    terms: PriceTerms,
    byte_length: int,
    data_root: bytes | None,
    held: int,
    settled: int,
    covered: int,
    now: int,
) -> AcceptedPayment:
    """Accept `signed` for a blob of `byte_length` bytes posted to `node`, or raise the refusal.

    `held` is the highest cumulative this node already holds from the account (0 if none), `settled`
    what the contract has paid this node from the account, `covered` the account's escrow less any
    pending withdrawal, `now` the node's clock in unix seconds. `data_root` may be None while the node
    has not computed the root yet (a raw post); check it again with `check_root` once it has.
    Pure: no I/O, no clock.
    """
    promise = signed.promise
    if recover_signer(domain, signed) != promise.account:
        raise BadPaymentSignature("the payment promise is not signed by its account", account=promise.account)
    if promise.node != node:
        raise WrongPayee(f"the promise is owed to {promise.node}, not to this node ({node})", payee=node)
    if promise.expiry < now:
        raise PromiseExpired(f"the promise expired at {promise.expiry} (now {now})", expiry=promise.expiry)
    if data_root is not None:
        check_root(promise, data_root)
    billed = terms.billed_bytes(byte_length)
    if promise.billed_bytes != billed:
        raise BilledSizeMismatch(
            f"the promise bills {promise.billed_bytes} bytes; this blob is billed for {billed}",
            billed_bytes=billed,
        )
    if promise.cumulative <= held:
        raise PromiseReplayed(
            f"the promise's cumulative {promise.cumulative} is not above the {held} already held",
            held=str(held),
        )
    cost = terms.cost(byte_length)
    increment = promise.cumulative - held
    if increment < cost:
        raise InsufficientIncrement(
            f"the promise adds {increment} wei; the blob costs {cost} wei",
            cost=str(cost),
            held=str(held),
        )
    outstanding = promise.cumulative - settled
    if outstanding > covered:
        raise InsufficientEscrow(
            f"the account owes this node {outstanding} wei unsettled; its escrow covers {covered}",
            outstanding=str(outstanding),
            covered=str(covered),
        )
    return AcceptedPayment(promise.account, promise.cumulative, increment)


def check_root(promise: PaymentPromise, data_root: bytes) -> None:
    """Refuse a promise made for another blob than the one whose root is `data_root`."""
    if promise.data_root != data_root:
        raise PromiseRootMismatch(
            f"the promise pays for 0x{promise.data_root.hex()}, not 0x{data_root.hex()}",
            data_root="0x" + data_root.hex(),
        )


def encode_payment_header(signed: SignedPromise) -> str:
    """The `Tessera-Payment` header value: `account=0x..,node=0x..,data_root=0x..,billed_bytes=N,
    cumulative=N,expiry=N,signature=0x..` (decimal integers, hex with 0x)."""
    promise = signed.promise
    return ",".join(
        (
            f"account={promise.account}",
            f"node={promise.node}",
            f"data_root=0x{promise.data_root.hex()}",
            f"billed_bytes={promise.billed_bytes}",
            f"cumulative={promise.cumulative}",
            f"expiry={promise.expiry}",
            f"signature=0x{signed.signature.hex()}",
        )
    )


def decode_payment_header(value: str) -> SignedPromise:
    """Parse a `Tessera-Payment` header; `MalformedPayment` names the first bad field."""
    if len(value) > MAX_HEADER_CHARS:
        raise MalformedPayment(f"the payment header is longer than {MAX_HEADER_CHARS} characters")
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, separator, text = part.strip().partition("=")
        if not separator or name not in _FIELDS:
            raise MalformedPayment(f"unknown payment field {name!r}", field=name)
        if name in fields:
            raise MalformedPayment(f"payment field {name!r} is repeated", field=name)
        fields[name] = text.strip()
    missing = [name for name in _FIELDS if name not in fields]
    if missing:
        raise MalformedPayment(f"the payment header lacks {', '.join(missing)}", field=missing[0])
    promise = PaymentPromise(
        account=_address("account", fields["account"]),
        node=_address("node", fields["node"]),
        data_root=_hex_bytes("data_root", fields["data_root"], 32),
        billed_bytes=_integer("billed_bytes", fields["billed_bytes"], MAX_UINT64),
        cumulative=_integer("cumulative", fields["cumulative"], MAX_UINT256),
        expiry=_integer("expiry", fields["expiry"], MAX_UINT64),
    )
    return SignedPromise(promise, _hex_bytes("signature", fields["signature"], 65))


def _address(field: str, text: str) -> str:
    if not is_hex_address(text):
        raise MalformedPayment(f"payment field {field} is not an address: {text[:50]!r}", field=field)
    return str(to_checksum_address(text))


def _hex_bytes(field: str, text: str, length: int) -> bytes:
    if not text.startswith("0x") or len(text) != 2 + 2 * length:
        raise MalformedPayment(f"payment field {field} must be 0x and {length} bytes of hex", field=field)
    try:
        return bytes.fromhex(text[2:])
    except ValueError as error:
        raise MalformedPayment(f"payment field {field} is not hex", field=field) from error


def _integer(field: str, text: str, limit: int) -> int:
    if not text.isascii() or not text.isdigit() or (len(text) > 1 and text[0] == "0"):
        raise MalformedPayment(f"payment field {field} must be a decimal integer", field=field)
    value = int(text)
    if value > limit:
        raise MalformedPayment(f"payment field {field} is out of range", field=field)
    return value
