"""The DA server's routes over a real aiohttp server in this process, with validators that cannot be
reached (a closed port): every answer a put or a get can give without a certificate being formed
(the devnet test, tests/devnet/test_altda_devnet.py, covers the rest)."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace

import aiohttp
import pytest

from altda.cache import PayloadCache
from altda.commitment import compute_commitment
from altda.config import AltDAConfig
from altda.derivation import CertificateChecker, EpochClock, OfflineChecker
from altda.l1 import L1Clock, RpcL1Clock
from altda.payload import wrap_payload
from altda.server import AltDAMetrics, AltDAService, start_server
from altda.upstream import Validators
from da import CkzgBackend
from da.constants import DEFAULT_MAX_BLOB_BYTES
from da.encoding import compute_blob_header
from da.header import compute_data_root
from da.types import BlobHeader, DataRoot
from tests.altda.da_client import DAClient, Dropped, Retry
from tests.altda.fixtures import EPOCH_SECONDS, GENESIS_TIME, OneEpochRegistry, certify
from tests.busy_node import serve_busy_node
from validator.certificate import certificate_to_bytes
from validator.errors import RegistryUnavailable, UnknownEpoch
from validator.types import Epoch, EpochContext

pytestmark = pytest.mark.anyio

CERTIFY_TIMEOUT_S = 1.5


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def serving_at(
    kzg: CkzgBackend,
    nodes: tuple[str, ...],
    l1: L1Clock | None = None,
    recency_window_s: float = 3600.0,
    checker: CertificateChecker | None = None,
    get_timeout_s: float = 5.0,
    body_timeout_s: float = 30.0,
) -> AsyncIterator[str]:
    """The DA server over `nodes` (and `l1`, for the recency rule), in this process; its URL."""

    def header_of(blob: bytes) -> BlobHeader:
        return compute_blob_header(blob, kzg)

    config = AltDAConfig(
        port=0,  # chosen by the OS: tests run side by side
        nodes=nodes,
        certify_timeout_s=CERTIFY_TIMEOUT_S,
        get_timeout_s=get_timeout_s,
        body_timeout_s=body_timeout_s,
        max_payload_bytes=1000,
        max_in_flight=1,
        recency_window_s=recency_window_s,
    ).validate()
    checker = checker or OfflineChecker(OneEpochRegistry())
    service = AltDAService(
        config=config,
        validators=Validators(config.nodes, checker, config.get_timeout_s, config.max_blob_bytes),
        checker=checker,
        clock=EpochClock(GENESIS_TIME, EPOCH_SECONDS),
        header_of=header_of,
        l1=l1,
        cache=PayloadCache(config.cache_bytes),
        metrics=AltDAMetrics(),
    )
    started = await start_server(service)
    try:
        yield started.url
    finally:
        await started.close()
        service.close()


@contextlib.asynccontextmanager
async def serving(
    kzg: CkzgBackend,
    nodes: tuple[str, ...],
    l1: L1Clock | None = None,
    recency_window_s: float = 3600.0,
    checker: CertificateChecker | None = None,
    get_timeout_s: float = 5.0,
) -> AsyncIterator[aiohttp.ClientSession]:
    """`serving_at`, with a client session to it."""
    async with (
        serving_at(kzg, nodes, l1, recency_window_s, checker, get_timeout_s) as url,
        aiohttp.ClientSession(url) as session,
    ):
        yield session


async def test_an_op_stack_client_gives_up_at_its_own_timeout_and_retries(kzg: CkzgBackend) -> None:
    """op-batcher's put timeout is shorter than the server's certify timeout: the client stops
    waiting (a retry for the batcher). The put's thread still works until the certify timeout, so
    its place (the one of `max_in_flight` 1) stays taken until then: a get meanwhile is a 429; then
    the server serves again."""
    async with serving_at(kzg, (f"http://127.0.0.1:{_closed_port()}",)) as url:
        client = DAClient(url, timeout=0.3)
        with pytest.raises(Retry) as caught:
            await asyncio.to_thread(client.set_input, b"batch")
        assert caught.value.status == 0  # no answer: the client's timeout
        with pytest.raises(Retry) as busy:
            await asyncio.to_thread(DAClient(url, timeout=5.0).get_input, b"\x01\x54")
        assert busy.value.status == 429
        await asyncio.sleep(CERTIFY_TIMEOUT_S)
        with pytest.raises(Dropped) as dropped:
            await asyncio.to_thread(DAClient(url, timeout=5.0).get_input, b"\x01\x54")
        assert dropped.value.code == 1


@pytest.fixture
async def server(kzg: CkzgBackend) -> AsyncIterator[aiohttp.ClientSession]:
    async with serving(kzg, (f"http://127.0.0.1:{_closed_port()}",)) as http:
        yield http


async def test_a_busy_validator_is_asked_again_after_its_retry_after(kzg: CkzgBackend) -> None:
    """A node that answers 429 (Retry-After 0) twice, then takes the blob (and serves no status):
    the same blob is posted again after each refusal, until the timeout (503)."""
    with serve_busy_node(busy=2, retry_after="0") as (url, handler):
        async with serving(kzg, (url,)) as http, http.post("/put", data=b"batch") as response:
            assert response.status == 503
    assert len(handler.posts) >= 3 and set(handler.posts) == {wrap_payload(b"batch")}


Answer = Callable[[http.server.BaseHTTPRequestHandler], None]
"""How a fake validator answers a GET (it writes the whole answer itself)."""


def answer(handler: http.server.BaseHTTPRequestHandler, body: bytes, code: int = 200) -> None:
    """Write one whole answer of `code` with `body`."""
    handler.send_response(code)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextlib.contextmanager
def fake_node(
    status: dict[str, object],
    certificate: bytes,
    data: Answer | None = None,
    posts: list[bytes] | None = None,
) -> Iterator[str]:
    """A validator over HTTP in this process: takes any blob with the JSON `status` (202), answers
    it for the blob's status, `certificate` for its certificate and `data` (if given) its bytes."""
    body = json.dumps(status).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted = self.rfile.read(int(self.headers["Content-Length"]))
            if posts is not None:
                posts.append(posted)
            answer(self, body, 202)

        def do_GET(self) -> None:
            if self.path.endswith("/certificate"):
                answer(self, certificate)
            elif self.path.endswith("/data") and data is not None:
                data(self)
            else:
                answer(self, body)

        def log_message(self, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def swapping_node(root: DataRoot, certificate: bytes) -> contextlib.AbstractContextManager[str]:
    """A Byzantine validator: takes any blob and names `root` for it (another blob, really
    certified: it serves `certificate` of it)."""
    return fake_node({"data_root": "0x" + root.hex(), "status": "certified"}, certificate)


def root_of(kzg: CkzgBackend, payload: bytes) -> DataRoot:
    """The data root of `payload`'s blob, as the server computes it."""
    return compute_data_root(compute_blob_header(wrap_payload(payload), kzg))


def honest_node(kzg: CkzgBackend, payload: bytes) -> contextlib.AbstractContextManager[str]:
    """A validator that certifies `payload`'s blob (a real certificate of epoch 0)."""
    root = root_of(kzg, payload)
    return fake_node(
        {"data_root": "0x" + root.hex(), "status": "certified"}, certificate_to_bytes(certify(root))
    )


async def test_a_validator_answering_a_status_without_status_is_skipped_for_the_next(
    kzg: CkzgBackend,
) -> None:
    """The first node answers JSON without `status` (it was a KeyError out of `certify`: a 500 on
    every put, the second node never asked); the second certifies: 200 and its commitment."""
    root = root_of(kzg, b"batch")
    with (
        fake_node({"data_root": "0x" + root.hex()}, b"") as broken,
        honest_node(kzg, b"batch") as good,
    ):
        async with serving(kzg, (broken, good)) as session, session.post("/put", data=b"batch") as response:
            assert response.status == 200, await response.read()
            assert await response.read() == compute_commitment(certify(root))


class FailingOnceRegistry(OneEpochRegistry):
    """`OneEpochRegistry` whose first read fails as an RPC that is down does (`RegistryUnavailable`)."""

    def __init__(self) -> None:
        self.reads = 0

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        self.reads += 1
        if self.reads == 1:
            raise RegistryUnavailable("registry RPC down: HTTP 503")
        return super().get_epoch_context(epoch)


async def test_a_registry_failure_checking_one_certificate_tries_the_next_validator(kzg: CkzgBackend) -> None:
    """The check of the first node's certificate fails (registry down): that node counts as failed
    and the next one is asked (the RegistryError escaped `certify` as a 500)."""
    registry = FailingOnceRegistry()
    with honest_node(kzg, b"batch") as first, honest_node(kzg, b"batch") as second:
        checker = OfflineChecker(registry)
        async with (
            serving(kzg, (first, second), checker=checker) as session,
            session.post("/put", data=b"batch") as response,
        ):
            assert response.status == 200, await response.read()
    assert registry.reads == 2


async def test_a_validator_naming_another_blobs_root_never_gets_its_commitment_answered(
    kzg: CkzgBackend,
) -> None:
    """The other blob's certificate is valid: only the server's own data root of the blob it posted
    tells the swap (without that check it answered 200 with a commitment to the other blob)."""
    other = DataRoot(b"\x44" * 32)
    with swapping_node(other, certificate_to_bytes(certify(other))) as url:
        async with serving(kzg, (url,)) as session, session.post("/put", data=b"batch") as response:
            assert response.status == 503, await response.read()


async def test_a_put_without_a_reachable_validator_is_a_503_within_the_timeout(
    server: aiohttp.ClientSession,
) -> None:
    started = time.monotonic()
    async with server.post("/put", data=b"batch") as response:
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "da_unavailable"
    assert CERTIFY_TIMEOUT_S <= time.monotonic() - started < CERTIFY_TIMEOUT_S + 3


async def test_past_the_in_flight_bound_a_request_is_told_to_come_back(server: aiohttp.ClientSession) -> None:
    put = asyncio.ensure_future(server.post("/put", data=b"batch"))
    await asyncio.sleep(0.5)  # the put holds the one place while it tries the validators
    async with server.get("/get/0x0154") as response:
        assert response.status == 429 and response.headers["Retry-After"] == "1"
    async with await put as response:
        assert response.status == 503
    async with server.get("/get/0x0154") as response:
        assert response.status == 418  # the place is free again


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/put", b"", 400), ("/put", b"x" * 1001, 413), ("/put/0x0011", b"batch", 400)],
)
async def test_bad_puts_are_refused_at_once(
    server: aiohttp.ClientSession, path: str, body: bytes, status: int
) -> None:
    async with server.post(path, data=body) as response:
        assert response.status == status


async def test_gets_answer_418_with_the_code_or_404_when_no_validator_has_the_bytes(
    server: aiohttp.ClientSession,
) -> None:
    good = compute_commitment(certify(DataRoot(b"\x31" * 32)))
    tampered = compute_commitment(replace(certify(DataRoot(b"\x31" * 32)), data_root=DataRoot(b"\x32" * 32)))
    for path, code in [
        ("/get/0x0154", 1),
        ("/get/nothex", 1),
        ("/get/0x" + (good[:1] + b"\x0c" + good[2:]).hex(), 1),
        ("/get/0x" + tampered.hex(), 3),
    ]:
        async with server.get(path) as response:
            assert response.status == 418, path
            body = await response.json()
            assert body["StatusCode"] == code and body["Msg"], path
    async with server.get("/get/0x" + good.hex()) as response:
        assert response.status == 404  # a valid certificate, nobody to give the bytes: wait, not drop
    async with server.get("/get/0x" + good.hex(), params={"l1_inclusion_block_number": "x"}) as response:
        assert response.status == 400


async def test_health_and_metrics(server: aiohttp.ClientSession) -> None:
    async with server.get("/health") as response:
        assert response.status == 200 and (await response.json())["status"] == "ok"
    async with server.post("/put", data=b"") as response:
        assert response.status == 400
    async with server.get("/metrics") as response:
        text = await response.text()
    assert 'tessera_altda_puts_total{outcome="MalformedPayload"} 1.0' in text


HOLD_S = 30.0
"""How long a misbehaving validator keeps a get's connection open (far past every bound tested)."""


def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Announce a whole blob and send one byte every 0.1 s (each read well within httpx's timeout)."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(DEFAULT_MAX_BLOB_BYTES))
    handler.end_headers()
    stop = time.monotonic() + HOLD_S
    with contextlib.suppress(OSError):  # the server hung up on us: what it should do
        while time.monotonic() < stop:
            handler.wfile.write(b"\x00")
            handler.wfile.flush()
            time.sleep(0.1)


def oversize(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Announce twice the largest blob, send more than the largest blob, then hold the connection."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(2 * DEFAULT_MAX_BLOB_BYTES))
    handler.end_headers()
    with contextlib.suppress(OSError):
        handler.wfile.write(b"\x00" * (DEFAULT_MAX_BLOB_BYTES + 1))
        handler.wfile.flush()
        time.sleep(HOLD_S)


def serve_bytes(blob: bytes) -> Answer:
    """A validator's honest answer: the blob's bytes."""
    return lambda handler: answer(handler, blob)


@pytest.mark.parametrize(("misbehaving", "get_timeout_s"), [(trickle, 1.5), (oversize, 20.0)])
async def test_a_validator_trickling_or_sending_too_much_is_left_for_the_next(
    kzg: CkzgBackend, misbehaving: Answer, get_timeout_s: float
) -> None:
    """A get reads at most the largest blob from a node and for at most the get timeout in all; past
    either, the next node is asked. Without the bounds the server kept reading the trickle for its
    whole 30 s and the oversize answer until httpx's 20 s read timeout."""
    root = root_of(kzg, b"batch")
    commitment = compute_commitment(certify(root))
    certified = {"data_root": "0x" + root.hex(), "status": "certified"}
    with (
        fake_node(certified, b"", misbehaving) as bad,
        fake_node(certified, b"", serve_bytes(wrap_payload(b"batch"))) as good,
    ):
        async with serving(kzg, (bad, good), get_timeout_s=get_timeout_s) as session:
            started = time.monotonic()
            timeout = aiohttp.ClientTimeout(total=min(get_timeout_s, 1.5) + 5)
            async with session.get("/get/0x" + commitment.hex(), timeout=timeout) as response:
                assert response.status == 200 and await response.read() == b"batch"
            assert time.monotonic() - started < min(get_timeout_s, 1.5) + 3


@pytest.mark.parametrize("number", ["x", "\u00b2", "\u0663", "1" * 21, "-1", "1.5"])
async def test_an_inclusion_block_that_is_not_ascii_digits_is_a_400(
    server: aiohttp.ClientSession, number: str
) -> None:
    """`"\u00b2".isdigit()` is True and int() refused it: that was a 500."""
    good = compute_commitment(certify(DataRoot(b"\x31" * 32)))
    params = {"l1_inclusion_block_number": number}
    async with server.get("/get/0x" + good.hex(), params=params) as response:
        assert response.status == 400, await response.read()
        assert (await response.json())["error"]["code"] == "invalid_argument"


API_KEY = "k3y-0f-the-rpc"


class DownRegistry(OneEpochRegistry):
    """A registry whose RPC (its URL carries an API key) is down."""

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        raise RegistryUnavailable(f"https://rpc.example/v3/{API_KEY}: HTTP 503")


async def test_no_answer_names_the_rpc_urls_api_key(kzg: CkzgBackend) -> None:
    """The L1 RPC unreachable or without the block (503) and the registry's RPC down (500): the
    answers say what failed, never the URL (it was in both bodies)."""
    commitment = "/get/0x" + compute_commitment(certify(DataRoot(b"\x31" * 32))).hex()
    included = {"l1_inclusion_block_number": "1"}
    with fake_node({"jsonrpc": "2.0", "id": 1, "result": None}, b"") as empty_rpc:
        for l1_url in (f"http://127.0.0.1:{_closed_port()}/v3/{API_KEY}", f"{empty_rpc}/v3/{API_KEY}"):
            async with (
                serving(kzg, (empty_rpc,), RpcL1Clock(l1_url)) as session,
                session.get(commitment, params=included) as response,
            ):
                body = await response.text()
                assert response.status == 503 and "L1 RPC" in body and API_KEY not in body, body
        async with (
            serving(kzg, (empty_rpc,), checker=OfflineChecker(DownRegistry())) as session,
            session.get(commitment) as response,
        ):
            body = await response.text()
            assert response.status == 500 and "RegistryUnavailable" in body and API_KEY not in body, body


async def test_slow_put_bodies_hold_no_in_flight_place_and_time_out(kzg: CkzgBackend) -> None:
    """Two clients send a put's headers and 10 of its 100 bytes, then nothing (`max_in_flight` 1):
    a get meanwhile is served (it was a 429: the body was read holding the place, without a time
    bound), and each slow put is answered 408 once the body timeout passes."""
    body_timeout_s = 1.0
    async with serving_at(kzg, (f"http://127.0.0.1:{_closed_port()}",), body_timeout_s=body_timeout_s) as url:
        host, port = url.removeprefix("http://").split(":")
        slow = []
        for _ in range(2):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"POST /put HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"\x00" * 10)
            await writer.drain()
            slow.append((reader, writer))
        started = time.monotonic()
        await asyncio.sleep(0.2)  # both are being read
        async with aiohttp.ClientSession(url) as session, session.get("/get/0x0154") as response:
            assert response.status == 418, await response.read()
        for reader, writer in slow:
            status_line = await asyncio.wait_for(reader.readline(), body_timeout_s + 5)
            assert status_line.split()[1] == b"408", status_line
            writer.close()
        assert time.monotonic() - started < body_timeout_s + 3


class EpochKnownLater(OneEpochRegistry):
    """A registry that learns epoch 0 at `known_at` (monotonic time), as one following the chain
    does once the epoch's seed is committed; `UnknownEpoch` before."""

    def __init__(self, known_at: float) -> None:
        self.known_at = known_at

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        if time.monotonic() < self.known_at:
            raise UnknownEpoch(epoch)
        return super().get_epoch_context(epoch)


@pytest.mark.parametrize("known_after_s", [0.8, None])
async def test_a_pending_verdict_is_asked_again_not_posted_elsewhere(
    kzg: CkzgBackend, known_after_s: float | None
) -> None:
    """The first node's certificate is of epoch 0, which the registry does not know yet (a pending
    verdict): the server checks that certificate again until the epoch is known (200), or until the
    certify timeout (503). The second node is never posted to (it was: a pending verdict counted as
    that node failing, and the blob went to the next one)."""
    root = root_of(kzg, b"batch")
    certified = {"data_root": "0x" + root.hex(), "status": "certified"}
    certificate = certificate_to_bytes(certify(root))
    first: list[bytes] = []
    second: list[bytes] = []
    known_at = time.monotonic() + (known_after_s if known_after_s is not None else 3600.0)
    checker = OfflineChecker(EpochKnownLater(known_at))
    with (
        fake_node(certified, certificate, posts=first) as a,
        fake_node(certified, certificate, posts=second) as b,
    ):
        async with (
            serving(kzg, (a, b), checker=checker) as session,
            session.post("/put", data=b"batch") as response,
        ):
            body = await response.read()
            if known_after_s is None:
                assert response.status == 503, body
            else:
                assert response.status == 200 and body == compute_commitment(certify(root))
    assert len(first) == 1 and second == []
