"""A small HTTP proxy in front of a JSON-RPC endpoint, for fault and lying-RPC tests: it forwards each
POST to the upstream, answers a fault instead when its seeded draw says so, and lets a `rewrite`
alter the upstream's answers (a lying RPC)."""

from __future__ import annotations

import json
import random
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

TRANSIENT_FAULTS: Final = ("429", "503", "limit", "internal", "drop")
"""HTTP 429, HTTP 503, JSON-RPC -32005 "limit exceeded", -32603 "rate limited", a dropped connection."""
PERMANENT_FAULTS: Final = ("403", "no-method")
"""HTTP 403, JSON-RPC -32601 "method not found"."""

Rewrite = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class RpcProxy:
    """Listens on 127.0.0.1 (an OS-chosen port) until `close`; `counts` tallies what it answered."""

    def __init__(
        self,
        upstream: str,
        *,
        faults: Sequence[str] = TRANSIENT_FAULTS,
        fault_rate: float = 0.0,
        seed: int = 0,
        always: str | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        self.upstream, self.faults, self.fault_rate, self.always = upstream, tuple(faults), fault_rate, always
        self.rewrite = rewrite
        self.counts: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fault = proxy._draw()
                if fault == "drop":
                    self.close_connection = True
                    return
                if fault in ("429", "503", "403"):
                    self._answer(int(fault), b"{}")
                    return
                request = json.loads(body)
                if fault in ("limit", "internal", "no-method"):
                    code, message = {
                        "limit": (-32005, "limit exceeded"),
                        "internal": (-32603, "internal error: rate limited, try again later"),
                        "no-method": (-32601, "the method does not exist/is not available"),
                    }[fault]
                    error = {
                        "jsonrpc": "2.0",
                        "id": request.get("id"),
                        "error": {"code": code, "message": message},
                    }
                    self._answer(200, json.dumps(error).encode())
                    return
                forwarded = urllib.request.Request(
                    proxy.upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(forwarded, timeout=30) as answer:
                    raw = answer.read()
                if proxy.rewrite is not None:
                    raw = json.dumps(proxy.rewrite(request, json.loads(raw))).encode()
                self._answer(200, raw)

            def _answer(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="rpc-proxy", daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def _draw(self) -> str:
        with self._lock:
            if self.always is not None:
                fault = self.always
            elif self._rng.random() < self.fault_rate:
                fault = self._rng.choice(self.faults)
            else:
                fault = "forwarded"
            self.counts[fault] += 1
            return fault

    def close(self) -> None:
        """Stop listening and end the server thread (bounded)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> RpcProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
