"""A real HTTP server on 127.0.0.1 that plays a busy validator: `POST /v1/blobs` answers 429 with a
Retry-After a set number of times, then 200 with a status. The client and the CLI are tested against
it where a real node's timing could not make the refusal certain."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar


class BusyNode(http.server.BaseHTTPRequestHandler):
    """Answers POST /v1/blobs with 429 + Retry-After `retry_after` `busy` times, then 200."""

    busy = 0
    retry_after = "0"
    posts: ClassVar[list[bytes]] = []
    content_types: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts.append(body)
        type(self).content_types.append(self.headers["Content-Type"])
        if len(type(self).posts) <= type(self).busy:
            payload = json.dumps({"error": {"code": "too_many_requests", "message": "queue full"}}).encode()
            self.send_response(429)
            self.send_header("Retry-After", type(self).retry_after)
        else:
            status = {"data_root": "0x" + "11" * 32, "status": "received", "epoch": 0, "quorum": 0}
            payload = json.dumps(status).encode()
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextmanager
def serve_busy_node(busy: int, retry_after: str) -> Iterator[tuple[str, type[BusyNode]]]:
    """(URL, handler class with its `posts`) of a busy node serving until the block ends."""
    handler = type(
        "Handler", (BusyNode,), {"posts": [], "content_types": [], "busy": busy, "retry_after": retry_after}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
