"""A real HTTP server on 127.0.0.1 that plays a node's HTTP API for GET routes given as bytes; the
light client's `--node` source and the async API client are tested against it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def node_api(routes: dict[str, bytes]) -> Iterator[str]:
    """An HTTP server answering GET `path` with routes[path] (octet-stream), else a 404 JSON error."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = routes.get(self.path)
            if body is None:
                error = {"error": {"code": "not_found", "message": f"nothing at {self.path}"}}
                payload, status, kind = json.dumps(error).encode(), 404, "application/json"
            else:
                payload, status, kind = body, 200, "application/octet-stream"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
