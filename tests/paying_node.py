"""A real HTTP server on 127.0.0.1 that plays a validator taking payments, for the sequencer's side:
`GET /v1/payments[?account=]` answers its terms and what it holds, and `POST /v1/blobs` checks the
`Tessera-Payment` header with the real pure check (`validator.payments.promise.check_promise`) against
the blob's real data root (the upload's, or the row commitments of raw bytes), holds the highest
promise per account, and answers 202 or the refusal's code, status and fields as the API does.

It stands in for the daemon (whose payment intake is another branch's work) where the client's
behaviour must be certain: the escrow it checks against is a number the test sets, and a post can be
held back (`stall`) so the test can kill the client mid-post."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from eth_account import Account

from da import DAConfig, bytes_to_upload, compute_blob_header
from da.header import compute_data_root
from da.kzg import load_ckzg_backend
from da.media import UPLOAD_MEDIA_TYPE
from validator.payments.errors import PaymentError, PaymentRequired
from validator.payments.promise import (
    PAYMENT_HEADER,
    PaymentDomain,
    PriceTerms,
    SignedPromise,
    check_promise,
    decode_payment_header,
)

NODE_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"  # anvil dev account 2
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = PaymentDomain(31337, CONTRACT)


@dataclass
class PayingNodeState:
    """What the node holds and how it is set; the test reads and changes it between posts."""

    enabled: bool = True
    domain: PaymentDomain = DOMAIN
    terms: PriceTerms = field(default_factory=lambda: PriceTerms(price_per_byte=3, min_billed_bytes=1024))
    covered: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    accepted: list[SignedPromise] = field(default_factory=list)
    headers: list[str | None] = field(default_factory=list)
    busy: int = 0
    stale_held: int = 0
    """Answer `held` 0 to this many GETs whatever is held (a race with another poster, made certain)."""
    stall: threading.Event = field(default_factory=threading.Event)
    """While set, a post is held without an answer, then dropped untaken once cleared."""
    stalled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def payee(self) -> str:
        return str(Account.from_key(NODE_KEY).address)


class _Handler(http.server.BaseHTTPRequestHandler):
    state: PayingNodeState

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != "/v1/payments":
            self._answer(404, {"error": {"code": "not_found", "message": "no such route"}})
            return
        state = self.state
        if not state.enabled:
            self._answer(200, {"enabled": False})
            return
        answer: dict[str, Any] = {
            "enabled": True,
            "payee": state.payee,
            "chain_id": state.domain.chain_id,
            "verifying_contract": state.domain.verifying_contract,
            "price_per_byte": str(state.terms.price_per_byte),
            "min_billed_bytes": state.terms.min_billed_bytes,
        }
        account = parse_qs(url.query).get("account")
        if account:
            held = state.held.get(account[0], 0)
            if state.stale_held > 0:
                state.stale_held, held = state.stale_held - 1, 0
            answer.update(account=account[0], held=str(held))
        self._answer(200, answer)

    def do_POST(self) -> None:
        state = self.state
        body = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get(PAYMENT_HEADER)
        if state.stall.is_set():
            state.stalled.set()
            while state.stall.is_set():
                time.sleep(0.01)
            self.close_connection = True  # the poster is gone: nothing was taken
            return
        with state.lock:
            state.headers.append(header)
            if state.busy > 0:
                state.busy -= 1
                self._answer(
                    429, {"error": {"code": "too_many_requests", "message": "queue full"}}, retry=True
                )
                return
            try:
                data_root = self._check(state, body, header)
            except PaymentError as refusal:
                error = {"code": refusal.code, "message": str(refusal), **refusal.details}
                self._answer(refusal.status, {"error": error})
                return
        self._answer(
            202, {"data_root": "0x" + data_root.hex(), "status": "received", "epoch": 0, "quorum": 0}
        )

    def _check(self, state: PayingNodeState, body: bytes, header: str | None) -> bytes:
        if self.headers["Content-Type"] == UPLOAD_MEDIA_TYPE:
            upload = bytes_to_upload(body, DAConfig())
            data_root, byte_length = bytes(upload.data_root), len(upload.data)
        else:
            data_root = bytes(compute_data_root(compute_blob_header(body, load_ckzg_backend())))
            byte_length = len(body)
        if not state.enabled:
            return data_root
        if header is None:
            raise PaymentRequired("this node takes payments: send a Tessera-Payment header")
        signed = decode_payment_header(header)
        account = signed.promise.account
        accepted = check_promise(
            signed,
            domain=state.domain,
            node=state.payee,
            terms=state.terms,
            byte_length=byte_length,
            data_root=data_root,
            held=state.held.get(account, 0),
            settled=0,
            covered=state.covered.get(account, 0),
            now=int(time.time()),
        )
        state.held[account] = accepted.cumulative
        state.accepted.append(signed)
        return data_root

    def _answer(self, status: int, payload: dict[str, Any], retry: bool = False) -> None:
        raw = json.dumps(payload).encode()
        self.send_response(status)
        if retry:
            self.send_header("Retry-After", "0")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextmanager
def serve_paying_node(state: PayingNodeState) -> Iterator[str]:
    """The URL of a node taking payments as `state` says, serving until the block ends."""
    handler = type("Handler", (_Handler,), {"state": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        state.stall.clear()
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
