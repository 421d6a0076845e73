"""The sequencer's side of paid dispersal (specs/validator.md, "Payments"): read a node's payment
terms, advance the durable counter for that node, sign the promise, post the blob with it.

`Payer.post` is what `das blob post --eth-keystore` and the devnet's demo run. Per post:

1. `GET /v1/payments?account=A`: whether the node takes payments, its payee address, the EIP-712
   domain, the price, and the cumulative it already holds from A (a node without the route, or with
   payments off, is posted to with no promise);
2. the counter of (A, payee, chain, contract) is advanced by the blob's cost from the larger of what
   it stored and what the node holds, and committed to disk (`PromiseCounters.advance`);
3. only then is the promise signed and sent in the `Tessera-Payment` header (the same promise goes
   with the posts made again after a 429: the node took none of them); a refusal that says the
   node took nothing (402, 401, 400, a last 429) gives the value back (`PromiseCounters.release`);
4. after the node's 2xx, its held amount is read again: a node that already had the blob answers
   its status without taking the promise (`Payment.charged` False), and the value is given back;
5. a node that answers `promise_replayed` or `insufficient_increment` (another process or host paying
   from the same account got there first, or the counter file was lost) names what it holds: the
   counter is advanced again from there, at most `MAX_RESYNCS` times.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
from eth_account import Account
from eth_utils.address import is_hex_address, to_checksum_address

from da.config import DAConfig
from da.encoding import compute_blob_header
from da.header import compute_data_root
from da.kzg import PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.packing import validate_blob_size
from validator.api_client import OCTET_STREAM, BusyProgress, NodeApiClient
from validator.errors import ApiFailure
from validator.payments.counters import Advance, CounterKey, PromiseCounters
from validator.payments.promise import (
    MAX_UINT64,
    MAX_UINT256,
    PAYMENT_HEADER,
    PaymentDomain,
    PaymentPromise,
    PriceTerms,
    SignedPromise,
    encode_payment_header,
    sign_promise,
)

log = structlog.get_logger(__name__)


def compute_raw_data_root(data: bytes) -> bytes:
    """The data root a node computes for raw bytes posted to it (row commitments only, about a
    sixth of encoding): a promise names the blob it pays for, so a paid raw post computes it too."""
    config = DAConfig()
    validate_blob_size(len(data), config)
    return bytes(
        compute_data_root(compute_blob_header(data, load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING), config))
    )


DEFAULT_PAYMENT_TTL_S: Final = 600
"""A promise's default lifetime: long enough for the default 300 s of posting again after 429s."""
MAX_RESYNCS: Final = 3
"""How many times a post is paid again from the node's held amount before the refusal is raised."""
RESYNC_CODES: Final = frozenset({"promise_replayed", "insufficient_increment"})
"""Refusals that mean the node holds more from the account than this counter knew."""
UNKNOWN_FATE_CODES: Final = frozenset({"unreachable", "http_error", "invalid_answer", "service_unavailable"})
"""Failures after which the node may or may not hold the promise: its value is never released."""

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class NodePaymentTerms:
    """What `GET /v1/payments` says: payments on or off; when on, the node's payee address, the
    domain promises are signed under, the price; and `held`, the cumulative the node holds from
    the account asked about (0 when none)."""

    enabled: bool
    payee: str = ""
    domain: PaymentDomain | None = None
    terms: PriceTerms | None = None
    held: int = 0


@dataclass(frozen=True, slots=True)
class Payment:
    """A promise a node took: for which blob, how much it bills, and the counter's move."""

    account: str
    node: str
    chain_id: int
    contract: str
    data_root: bytes
    billed_bytes: int
    cost: int
    cumulative: int
    increment: int
    expiry: int
    resyncs: int
    charged: bool = True
    """False when the node already had the blob: it answered its status and held no new promise
    (the counter's value was given back, `cumulative` is what it was before)."""

    def to_json(self) -> dict[str, Any]:
        """JSON fields; wei amounts as decimal strings (they pass 2**53)."""
        return {
            "account": self.account,
            "node": self.node,
            "chain_id": self.chain_id,
            "verifying_contract": self.contract,
            "data_root": "0x" + self.data_root.hex(),
            "billed_bytes": self.billed_bytes,
            "cost": str(self.cost),
            "cumulative": str(self.cumulative),
            "increment": str(self.increment),
            "expiry": self.expiry,
            "resyncs": self.resyncs,
            "charged": self.charged,
        }


def node_terms_from_json(answer: dict[str, Any]) -> NodePaymentTerms:
    """Parse a `GET /v1/payments` answer (amounts as JSON integers or decimal strings); `ApiFailure`
    `invalid_answer` naming the first bad field."""
    enabled = answer.get("enabled")
    if not isinstance(enabled, bool):
        raise ApiFailure("invalid_answer", "/v1/payments: `enabled` is not true or false")
    held = _amount(answer, "held", MAX_UINT256) if answer.get("held") is not None else 0
    if not enabled:
        return NodePaymentTerms(enabled=False, held=held)
    payee = _address(answer, "payee")
    domain = PaymentDomain(_amount(answer, "chain_id", MAX_UINT256), _address(answer, "verifying_contract"))
    terms = PriceTerms(
        _amount(answer, "price_per_byte", MAX_UINT256), _amount(answer, "min_billed_bytes", MAX_UINT64)
    )
    return NodePaymentTerms(True, payee, domain, terms, held)


def _amount(answer: dict[str, Any], field: str, limit: int) -> int:
    value = answer.get(field)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ApiFailure("invalid_answer", f"/v1/payments: `{field}` is not an amount: {value!r:.60}")
    return value


def _address(answer: dict[str, Any], field: str) -> str:
    value = answer.get(field)
    if not isinstance(value, str) or not is_hex_address(value):
        raise ApiFailure("invalid_answer", f"/v1/payments: `{field}` is not an address: {value!r:.60}")
    return str(to_checksum_address(value))


def read_node_terms(client: NodeApiClient, account: str) -> NodePaymentTerms:
    """The node's payment terms and what it holds from `account`; a node without the route (404)
    takes no payments."""
    try:
        return node_terms_from_json(client.get_payments(account))
    except ApiFailure as error:
        if error.code == "not_found" or (error.code == "http_error" and error.message == "HTTP 404"):
            return NodePaymentTerms(enabled=False)
        raise


class Payer:
    """Pays for posts from the account of `private_key` (32 bytes), its counters in `counters`;
    promises live `ttl_s` seconds from `clock()` (unix seconds)."""

    def __init__(
        self,
        private_key: bytes,
        counters: PromiseCounters,
        ttl_s: int = DEFAULT_PAYMENT_TTL_S,
        clock: Clock = time.time,
    ) -> None:
        self._key = private_key
        self.account = str(Account.from_key(private_key).address)
        self.counters = counters
        self.ttl_s = ttl_s
        self._clock = clock

    def promise(
        self, node: NodePaymentTerms, data_root: bytes, byte_length: int, floor: int
    ) -> tuple[CounterKey, SignedPromise, Advance]:
        """Advance the node's counter by the blob's cost (durably), then sign the promise that
        carries the new value: the counter is on disk before the promise exists."""
        if not node.enabled or node.domain is None or node.terms is None:
            raise ApiFailure("invalid_argument", "this node takes no payments: post without a promise")
        key = CounterKey(self.account, node.payee, node.domain.chain_id, node.domain.verifying_contract)
        cost = node.terms.cost(byte_length)
        advance = self.counters.advance(key, max(cost, 1), floor=floor, data_root=data_root)
        promise = PaymentPromise(
            account=self.account,
            node=node.payee,
            data_root=data_root,
            billed_bytes=node.terms.billed_bytes(byte_length),
            cumulative=advance.cumulative,
            expiry=int(self._clock()) + self.ttl_s,
        )
        return key, sign_promise(node.domain, promise, self._key), advance

    def post(
        self,
        client: NodeApiClient,
        body: bytes,
        *,
        data_root: bytes,
        byte_length: int,
        content_type: str = OCTET_STREAM,
        busy_timeout: float = 0.0,
        on_busy: BusyProgress | None = None,
        node: NodePaymentTerms | None = None,
    ) -> tuple[dict[str, Any], Payment | None]:
        """Post `body` (a blob of `byte_length` bytes whose data root is `data_root`) to `client`'s
        node, paying for it when the node takes payments; the node's status and the payment (None when
        payments are off). `node`: its terms if just read (`read_node_terms`), else they are read
        here. A refusal other than a resynchronisable one is raised as `ApiFailure` with the node's
        code and fields."""
        if node is None:
            node = read_node_terms(client, self.account)
        if not node.enabled or node.domain is None or node.terms is None:
            return client.post_blob(body, busy_timeout, on_busy, content_type), None
        domain, terms = node.domain, node.terms
        floor = node.held
        for resyncs in range(MAX_RESYNCS + 1):
            key, signed, advance = self.promise(node, data_root, byte_length, floor)
            header = {PAYMENT_HEADER: encode_payment_header(signed)}
            try:
                status = client.post_blob(body, busy_timeout, on_busy, content_type, headers=header)
            except ApiFailure as error:
                if error.code not in UNKNOWN_FATE_CODES:
                    self.counters.release(key, advance)  # refused outright: the node holds none of it
                if error.code not in RESYNC_CODES or resyncs == MAX_RESYNCS:
                    raise
                floor = self._held_after(client, error)
                log.info(
                    "payment_resync", node=node.payee, refused=error.code, held=str(floor),
                    sent=str(advance.cumulative),
                )  # fmt: skip
                continue
            charged = self._charged(client, advance.cumulative)
            if not charged:  # a blob the node had already: it answered its status and took no promise
                self.counters.release(key, advance)
            return status, Payment(
                account=self.account,
                node=node.payee,
                chain_id=domain.chain_id,
                contract=domain.verifying_contract,
                data_root=data_root,
                billed_bytes=signed.promise.billed_bytes,
                cost=terms.cost(byte_length),
                cumulative=advance.cumulative if charged else advance.previous,
                increment=advance.cumulative - floor if charged else 0,
                expiry=signed.promise.expiry,
                resyncs=resyncs,
                charged=charged,
            )
        raise AssertionError("unreachable: the last resync raises")  # pragma: no cover

    def _charged(self, client: NodeApiClient, cumulative: int) -> bool:
        """Whether the node now holds `cumulative` (or more) from this account; True when it cannot
        be asked (the blob is taken: an unknown answer keeps the value, which is safe)."""
        try:
            return read_node_terms(client, self.account).held >= cumulative
        except ApiFailure as error:
            log.warning("payment_unconfirmed", error=str(error), cumulative=str(cumulative))
            return True

    def _held_after(self, client: NodeApiClient, refusal: ApiFailure) -> int:
        """What the node holds from this account: the refusal's `held`, else asked again."""
        held = refusal.details.get("held")
        if isinstance(held, str) and held.isascii() and held.isdigit():
            return int(held)
        if isinstance(held, int) and not isinstance(held, bool) and held >= 0:
            return held
        return read_node_terms(client, self.account).held
