"""The sequencer's client of a validator's HTTP API (httpx, blocking): post a blob, follow its status
until it is certified, fetch its certificate and bytes. `das blob`, the devnet and the benches use it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from validator.errors import ApiFailure

DEFAULT_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.1
DEFAULT_BUSY_PAUSE_S = 1.0
"""The pause before posting again when a 429 carries no usable Retry-After."""
TERMINAL_STATUSES = frozenset({"certified", "failed"})

StatusProgress = Callable[[int, int], None]
"""Called with (signed slots, threshold) while a blob is followed."""


BusyProgress = Callable[[ApiFailure, float], None]
"""Called with the refusal and the seconds about to be waited when a node answers 429."""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date, or garbage: the caller falls back to its own pause


def _error_of(response: httpx.Response) -> ApiFailure:
    retry_after = _retry_after(response)
    try:
        detail = response.json()["error"]
        return ApiFailure(str(detail["code"]), str(detail["message"]), retry_after)
    except (ValueError, KeyError, TypeError):
        return ApiFailure("http_error", f"HTTP {response.status_code}", retry_after)


class NodeApiClient:
    """One validator's HTTP API at `base_url` (`http://127.0.0.1:PORT`)."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ApiFailure("invalid_argument", f"{base_url} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes | None = None, timeout: float | None = None
    ) -> bytes:
        """One request to `path`; JSON errors and connection failures become `ApiFailure`."""
        url = f"{self.base_url}{path}"
        headers = {"Content-Type": "application/octet-stream"} if body is not None else {}
        try:
            response = httpx.request(
                method, url, content=body, headers=headers, timeout=timeout or self.timeout
            )
        except httpx.HTTPError as error:
            raise ApiFailure("unreachable", f"cannot reach {url}: {type(error).__name__}: {error}") from error
        if response.is_error:
            raise _error_of(response)
        return response.content

    def _json(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        raw = self.request(method, path, body)
        try:
            decoded = json.loads(raw)
        except ValueError as error:
            raise ApiFailure("http_error", f"{path} did not answer JSON") from error
        if not isinstance(decoded, dict):
            raise ApiFailure("http_error", f"{path} did not answer a JSON object")
        return decoded

    def post_blob(
        self, data: bytes, busy_timeout: float = 0.0, on_busy: BusyProgress | None = None
    ) -> dict[str, Any]:
        """Post a blob's bytes; the JSON status (with its `data_root`, and `busy_retries`: how many
        times the node answered 429 first). A busy node is asked again after its Retry-After for up
        to `busy_timeout` seconds; past that its `too_many_requests` failure is raised."""
        deadline = time.monotonic() + busy_timeout
        retries = 0
        while True:
            try:
                status = self._json("POST", "/v1/blobs", data)
            except ApiFailure as error:
                if error.code != "too_many_requests":
                    raise
                pause = error.retry_after if error.retry_after is not None else DEFAULT_BUSY_PAUSE_S
                if time.monotonic() + pause > deadline:
                    raise
                if on_busy is not None:
                    on_busy(error, pause)
                time.sleep(pause)
                retries += 1
                continue
            status["busy_retries"] = retries
            return status

    def get_status(self, data_root: str) -> dict[str, Any]:
        """The JSON status of the blob `data_root` (0x-prefixed hex)."""
        return self._json("GET", f"/v1/blobs/{data_root}")

    def get_certificate(self, data_root: str) -> bytes:
        """The blob's certificate (SSZ)."""
        return self.request("GET", f"/v1/blobs/{data_root}/certificate")

    def get_data(self, data_root: str, timeout: float | None = None) -> bytes:
        """The blob's bytes (the node recovers them from custodians when it must)."""
        return self.request("GET", f"/v1/blobs/{data_root}/data", timeout=timeout)

    def get_peers(self, timeout: float | None = None) -> list[Any]:
        """The node's connected peers."""
        raw = self.request("GET", "/v1/node/peers", timeout=timeout)
        try:
            return list(json.loads(raw)["peers"])
        except (ValueError, KeyError, TypeError) as error:
            raise ApiFailure("http_error", "/v1/node/peers did not answer a peer list") from error

    def wait_for_certificate(
        self, data_root: str, timeout: float, progress: StatusProgress | None = None
    ) -> dict[str, Any]:
        """Poll the status until certified or failed, or until `timeout` seconds; the last status."""
        deadline = time.monotonic() + timeout
        status = self.get_status(data_root)
        while status["status"] not in TERMINAL_STATUSES and time.monotonic() < deadline:
            if progress is not None:
                progress(int(status.get("signed_slots", 0)), max(int(status.get("threshold", 1)), 1))
            time.sleep(POLL_INTERVAL_S)
            status = self.get_status(data_root)
        return status
