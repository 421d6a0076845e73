"""Paid posts against a real node in this process (payments on, the embedded escrow in its registry
file), driven over HTTP as a sequencer and an attacker would: a paid post is taken and its promise
held durably; a post without a promise, with one replayed, reused for another blob, below the price,
beyond the escrow, signed by another key, expired, owed to another node or malformed is refused
with its code and nothing is stored; settlement pays the held promise once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from da import (
    CkzgBackend,
    EncodedBlob,
    compute_blob_header,
    compute_data_root,
    compute_upload,
    upload_to_bytes,
)
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.media import UPLOAD_MEDIA_TYPE
from da.types import DataRoot
from da.upload import compute_max_upload_bytes
from tests.validator.daemon.live_node import LiveNode, live_node
from tests.validator.payments.keys import Sequencer, sequencer
from validator.daemon.api import ApiConfig, ApiServer, build_app, start_api
from validator.daemon.payments import settle_held
from validator.daemon.store import NodeStore
from validator.payments.promise import (
    PAYMENT_HEADER,
    PaymentPromise,
    SignedPromise,
    encode_payment_header,
)

pytestmark = pytest.mark.anyio

PAYEE = sequencer(77).address
PRICE, MIN_BILLED = 2, 4096
EXPIRY = 2**40
DEPOSIT = 10**9


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, kzg: CkzgBackend) -> Iterator[LiveNode]:
    with live_node(tmp_path_factory.mktemp("paid"), kzg, payee=PAYEE) as running:
        yield running


@pytest.fixture
async def server(node: LiveNode) -> AsyncIterator[ApiServer]:
    limit = compute_max_upload_bytes(DEFAULT_MAX_BLOB_BYTES) + 64 * 1024
    api = await start_api(build_app(node.api, ApiConfig(max_request_bytes=limit)))
    try:
        yield api
    finally:
        await api.close()


@dataclass
class Payer:
    """A sequencer paying this node: its key, and the cumulative amount it promised so far."""

    who: Sequencer
    node: LiveNode
    cumulative: int = 0

    def promise(self, data_root: bytes, byte_length: int, **changes: Any) -> SignedPromise:
        """The next promise for a blob (the price's increment), with `changes` to its fields."""
        billed = max(byte_length, MIN_BILLED)
        fields: dict[str, Any] = {
            "account": self.who.address,
            "node": PAYEE,
            "data_root": data_root,
            "billed_bytes": billed,
            "cumulative": self.cumulative + billed * PRICE,
            "expiry": EXPIRY,
        }
        fields.update(changes)
        signer: Sequencer = fields.pop("signer", self.who)
        assert self.node.escrow is not None
        return signer.sign(self.node.escrow.payment_domain(), PaymentPromise(**fields))


def payer(node: LiveNode, number: int, deposit: int = DEPOSIT) -> Payer:
    assert node.escrow is not None
    if deposit:
        node.escrow.account(sequencer(number).address).deposit(deposit)
    return Payer(sequencer(number), node)


def blob(seed: int, size: int = 5000) -> bytes:
    return random.Random(seed).randbytes(size)


def root_of(data: bytes, kzg: CkzgBackend) -> DataRoot:
    return compute_data_root(compute_blob_header(data, kzg))


async def post(
    server: ApiServer,
    body: bytes,
    signed: SignedPromise | str | None,
    media: str = "application/octet-stream",
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": media}
    if signed is not None:
        headers[PAYMENT_HEADER] = signed if isinstance(signed, str) else encode_payment_header(signed)
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.post("/v1/blobs", data=body, headers=headers, expect100=True) as response,
    ):
        return response.status, await response.json()


def held(store: NodeStore, account: str) -> int:
    promise = store.held_promise(account)
    return 0 if promise is None else promise.signed.promise.cumulative


async def test_a_paid_post_is_taken_and_its_promise_held(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    alice = payer(node, 1)
    data = blob(1)
    signed = alice.promise(root_of(data, kzg), len(data))
    status, answer = await post(server, data, signed)
    assert status == 202, answer
    assert answer["data_root"] == "0x" + signed.promise.data_root.hex()
    assert held(node.store, alice.who.address) == signed.promise.cumulative == 5000 * PRICE
    async with (
        aiohttp.ClientSession(server.url) as http,
        http.get("/v1/payments", params={"account": alice.who.address.lower()}) as response,
    ):
        terms = await response.json()
    assert terms == {
        "enabled": True,
        "payee": PAYEE,
        "chain_id": 31337,
        "verifying_contract": node.escrow.payment_domain().verifying_contract if node.escrow else None,
        "price_per_byte": str(PRICE),
        "min_billed_bytes": MIN_BILLED,
        "account": alice.who.address,
        "held": str(5000 * PRICE),
        "settled": "0",
    }
    # The next blob raises the cumulative by at least its cost; a small blob is billed the minimum.
    alice.cumulative = signed.promise.cumulative
    small = blob(2, 100)
    status, answer = await post(server, small, alice.promise(root_of(small, kzg), len(small)))
    assert status == 202, answer
    assert held(node.store, alice.who.address) == (5000 + MIN_BILLED) * PRICE


async def test_a_paid_upload_is_taken(
    node: LiveNode, server: ApiServer, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    data, encoded = one_row_blob
    bob = payer(node, 2)
    signed = bob.promise(encoded.data_root, len(data))
    status, answer = await post(
        server, upload_to_bytes(compute_upload(data, encoded)), signed, UPLOAD_MEDIA_TYPE
    )
    assert status == 202, answer
    assert held(node.store, bob.who.address) == len(data) * PRICE


async def test_a_post_without_a_promise_needs_one_and_says_how(node: LiveNode, server: ApiServer) -> None:
    data = blob(3)
    status, answer = await post(server, data, None)
    assert status == 402
    error = answer["error"]
    assert error["code"] == "payment_required"
    assert (error["payee"], error["price_per_byte"], error["min_billed_bytes"]) == (PAYEE, "2", MIN_BILLED)
    assert node.store.find_blob_by_content(data) is None
    refused = node.metrics.payments_refused.labels(code="payment_required")._value.get()
    await post(server, data, None)
    assert node.metrics.payments_refused.labels(code="payment_required")._value.get() == refused + 1


async def refused(
    node: LiveNode, server: ApiServer, data: bytes, signed: SignedPromise | str, status: int, code: str
) -> dict[str, Any]:
    """Post `data` with `signed`; assert the refusal and that nothing was stored or held anew."""
    account = signed.promise.account if isinstance(signed, SignedPromise) else None
    before = None if account is None else held(node.store, account)
    answered, answer = await post(server, data, signed)
    assert (answered, answer["error"]["code"]) == (status, code), answer
    assert node.store.find_blob_by_content(data) is None
    if account is not None:
        assert held(node.store, account) == before
    return dict(answer["error"])


async def test_a_replayed_promise_is_refused(node: LiveNode, server: ApiServer, kzg: CkzgBackend) -> None:
    carol = payer(node, 3)
    first = blob(30)
    signed = carol.promise(root_of(first, kzg), len(first))
    assert (await post(server, first, signed))[0] == 202
    # The same header again, for the same bytes or for others: the node holds it already.
    for data in (first, blob(31)):
        answered, answer = await post(server, data, signed)
        assert (answered, answer["error"]["code"]) == (402, "promise_replayed")
    assert node.store.find_blob_by_content(blob(31)) is None
    # A counter gone backwards is a replay too.
    carol.cumulative = 0
    other = blob(32)
    await refused(
        node, server, other, carol.promise(root_of(other, kzg), len(other)), 402, "promise_replayed"
    )


async def test_a_promise_for_another_blob_is_refused(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    dave = payer(node, 4)
    paid_for, posted = blob(40), blob(41)
    error = await refused(
        node, server, posted, dave.promise(root_of(paid_for, kzg), len(posted)), 402, "promise_root_mismatch"
    )
    assert error["data_root"] == "0x" + root_of(posted, kzg).hex()
    # An upload: refused on its claimed root, before its cells are verified.
    data, encoded = one_row_blob
    signed = dave.promise(root_of(paid_for, kzg), len(data))
    status, answer = await post(
        server, upload_to_bytes(compute_upload(data, encoded)), signed, UPLOAD_MEDIA_TYPE
    )
    assert (status, answer["error"]["code"]) == (402, "promise_root_mismatch")
    assert held(node.store, dave.who.address) == 0


async def test_a_promise_below_the_price_is_refused(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    erin = payer(node, 5)
    data = blob(50)
    cheap = erin.promise(root_of(data, kzg), len(data), cumulative=len(data) * PRICE - 1)
    error = await refused(node, server, data, cheap, 402, "insufficient_increment")
    assert error["cost"] == str(len(data) * PRICE)
    lying = erin.promise(root_of(data, kzg), len(data), billed_bytes=MIN_BILLED)  # 5000 bytes billed as 4096
    await refused(node, server, data, lying, 402, "billed_size_mismatch")


async def test_a_promise_beyond_the_escrow_is_refused(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    frank = payer(node, 6, deposit=5000 * PRICE - 1)
    data = blob(60)
    error = await refused(
        node, server, data, frank.promise(root_of(data, kzg), len(data)), 402, "insufficient_escrow"
    )
    assert (error["outstanding"], error["covered"]) == (str(5000 * PRICE), str(5000 * PRICE - 1))
    # A pending withdrawal stops backing promises at once.
    assert node.escrow is not None
    account = node.escrow.account(frank.who.address)
    account.deposit(10**6)
    account.request_withdrawal(10**6)
    await refused(
        node, server, data, frank.promise(root_of(data, kzg), len(data)), 402, "insufficient_escrow"
    )


async def test_a_promise_signed_by_another_key_is_refused(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    grace, mallory = payer(node, 7), sequencer(8)
    data = blob(70)
    forged = grace.promise(root_of(data, kzg), len(data), signer=mallory)
    await refused(node, server, data, forged, 401, "bad_payment_signature")


async def test_an_expired_promise_or_one_owed_elsewhere_is_refused(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    heidi = payer(node, 9)
    data = blob(90)
    root = root_of(data, kzg)
    await refused(
        node, server, data, heidi.promise(root, len(data), expiry=1_000_000), 402, "promise_expired"
    )
    await refused(
        node, server, data, heidi.promise(root, len(data), node=sequencer(99).address), 402, "wrong_payee"
    )


async def test_a_malformed_promise_is_refused(node: LiveNode, server: ApiServer, kzg: CkzgBackend) -> None:
    ivan = payer(node, 10)
    data = blob(100)
    header = encode_payment_header(ivan.promise(root_of(data, kzg), len(data)))
    error = await refused(node, server, data, header.replace("expiry=", "expires="), 400, "malformed_payment")
    assert error["field"] == "expires"


async def test_settlement_pays_the_held_promise_once(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    judy = payer(node, 11)
    for seed in (110, 111):
        data = blob(seed)
        signed = judy.promise(root_of(data, kzg), len(data))
        assert (await post(server, data, signed))[0] == 202
        judy.cumulative = signed.promise.cumulative
    assert node.escrow is not None
    owed = judy.cumulative
    before = node.escrow.escrow_of(judy.who.address).balance
    # A crash after the escrow paid and before the node marked it: the next round pays nothing more.
    receipt = node.escrow.settle(
        [s.signed for s in node.store.promises_to_settle(100) if s.signed.promise.account == judy.who.address]
    )
    assert receipt.paid == owed
    result = settle_held(node.store, node.escrow, node.escrow, PAYEE, 100)
    assert judy.who.address in result.accounts
    assert node.escrow.settled(judy.who.address, PAYEE) == owed
    assert node.escrow.escrow_of(judy.who.address).balance == before - owed
    assert all(h.signed.promise.account != judy.who.address for h in node.store.promises_to_settle(100))
    again = settle_held(node.store, node.escrow, node.escrow, PAYEE, 100)
    assert judy.who.address not in again.accounts
    assert node.escrow.escrow_of(judy.who.address).balance == before - owed
    # Settled money no longer counts as outstanding: the account may promise past its first deposit.
    data = blob(112)
    assert (await post(server, data, judy.promise(root_of(data, kzg), len(data))))[0] == 202


async def test_concurrent_posts_of_one_account_never_count_an_increment_twice(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    """A sequencer pipelining two posts signs both against the same held promise: whichever is
    recorded first, the node ends holding the higher one, and a post refused stores nothing."""
    kim = payer(node, 12)
    first, second = blob(120), blob(121)
    one = kim.promise(root_of(first, kzg), len(first))
    kim.cumulative = one.promise.cumulative
    two = kim.promise(root_of(second, kzg), len(second))
    answers = await asyncio.gather(post(server, first, one), post(server, second, two))
    assert held(node.store, kim.who.address) == two.promise.cumulative
    assert answers[1][0] == 202, answers[1]  # the higher promise always fits: above either held
    if answers[0][0] != 202:  # recorded after the higher one: a counter gone backwards
        assert (answers[0][0], answers[0][1]["error"]["code"]) == (402, "promise_replayed")
        assert node.store.find_blob_by_content(first) is None


async def test_a_bad_promise_is_refused_before_the_body_is_sent(
    node: LiveNode, server: ApiServer, kzg: CkzgBackend
) -> None:
    """A client that asks `Expect: 100-continue` is refused for its promise without sending a byte
    of its body (a 2 MB body declared, none sent)."""
    forged = payer(node, 13).promise(b"\x00" * 32, 2_000_000, signer=sequencer(14))
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            (
                "POST /v1/blobs HTTP/1.1\r\nHost: node\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: 2000000\r\nExpect: 100-continue\r\n{PAYMENT_HEADER}: "
                f"{encode_payment_header(forged)}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()
    assert status_line.split()[1] == b"401", status_line
