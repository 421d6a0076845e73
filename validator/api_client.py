"""The one client of a Tessera node's HTTP API (httpx), with a blocking face and an async face.

`NodeApiClient` blocks: the sequencer's client (post a blob, follow its status until it is certified,
fetch its certificate and bytes), used by `das blob`, the devnet and the benches. `AsyncNodeApiClient`
is the light client's `--node URL` source of a blob's header and certificate (anyio runs it under
trio). Both build their URLs, read bounded answers, decode JSON errors and parse Retry-After here, and
both raise `ApiFailure`: `code` is the API's JSON error code, or `unreachable`, `http_error`, or
`invalid_answer` (an answer that is not what was asked for).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import anyio
import httpx

from da.errors import MalformedHeader
from da.header import bytes_to_header, compute_data_root
from da.media import UPLOAD_MEDIA_TYPE
from da.types import BlobHeader, DataRoot
from validator.errors import ApiFailure

DEFAULT_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.1
DEFAULT_BUSY_PAUSE_S = 1.0
"""The pause before posting again when a 429 carries no usable Retry-After."""
TERMINAL_STATUSES = frozenset({"certified", "failed"})
MAX_SMALL_ANSWER_BYTES = 64 * 1024
"""Largest answer read for a header or a certificate (a header is at most `MAX_HEADER_BYTES`, 24,596
bytes; a certificate 181)."""

StatusProgress = Callable[[int, int], None]
"""Called with (signed slots, threshold) while a blob is followed."""


BusyProgress = Callable[[ApiFailure, float], None]
"""Called with the refusal and the seconds about to be waited when a node answers 429."""


# --- Shared by both faces ------------------------------------------------------------------------


def _base_url(base_url: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ApiFailure("invalid_argument", f"{base_url} is not an http(s) URL")
    return base_url.rstrip("/")


def _blob_path(data_root: str | DataRoot, part: str = "") -> str:
    """`/v1/blobs/0x{root}[/part]`; `data_root` as 0x-prefixed hex (a user's text) or as bytes."""
    root = data_root if isinstance(data_root, str) else f"0x{data_root.hex()}"
    return f"/v1/blobs/{root}/{part}" if part else f"/v1/blobs/{root}"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date, or garbage: the caller falls back to its own pause


def _error_of(response: httpx.Response, body: bytes) -> ApiFailure:
    retry_after = _retry_after(response)
    try:
        detail = json.loads(body)["error"]
        details = {key: value for key, value in detail.items() if key not in {"code", "message"}}
        return ApiFailure(str(detail["code"]), str(detail["message"]), retry_after, details)
    except (ValueError, KeyError, TypeError, AttributeError):
        return ApiFailure("http_error", f"HTTP {response.status_code}", retry_after)


def _unreachable(url: str, error: httpx.HTTPError) -> ApiFailure:
    return ApiFailure("unreachable", f"cannot reach {url}: {type(error).__name__}: {error}")


class _Answer:
    """An answer's body as it arrives, refused once it passes `limit` bytes."""

    def __init__(self, url: str, limit: int | None) -> None:
        self._url = url
        self._limit = limit
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._limit is not None and self._size > self._limit:
            raise ApiFailure("invalid_answer", f"{self._url} answered more than {self._limit} bytes")
        self._chunks.append(chunk)

    def finish(self, response: httpx.Response) -> bytes:
        """The body of a success; raises the decoded error of an error answer."""
        body = b"".join(self._chunks)
        if response.is_error:
            raise _error_of(response, body)
        return body


OCTET_STREAM = "application/octet-stream"


def _request_headers(body: bytes | None, content_type: str = OCTET_STREAM) -> dict[str, str]:
    return {"Content-Type": content_type} if body is not None else {}


def _json_object(path: str, raw: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(raw)
    except ValueError as error:
        raise ApiFailure("http_error", f"{path} did not answer JSON") from error
    if not isinstance(decoded, dict):
        raise ApiFailure("http_error", f"{path} did not answer a JSON object")
    return decoded


def _checked_header(url: str, data_root: DataRoot, body: bytes) -> BlobHeader:
    try:
        header = bytes_to_header(body)
    except MalformedHeader as error:
        raise ApiFailure("invalid_answer", f"{url}: the header does not decode: {error}") from error
    if compute_data_root(header) != data_root:
        raise ApiFailure("invalid_answer", f"{url}: the header does not hash to the data root")
    return header


# --- The blocking face ---------------------------------------------------------------------------


class NodeApiClient:
    """One node's HTTP API at `base_url` (`http://127.0.0.1:PORT`), blocking."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = _base_url(base_url)
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float | None = None,
        limit: int | None = None,
        content_type: str = OCTET_STREAM,
        headers: dict[str, str] | None = None,
    ) -> bytes:
        """One request to `path` (a body is sent as `content_type`, with `headers` besides; an answer
        over `limit` bytes is refused); JSON errors and connection failures become `ApiFailure`."""
        url = f"{self.base_url}{path}"
        answer = _Answer(url, limit)
        headers = {**_request_headers(body, content_type), **(headers or {})}
        try:
            with httpx.stream(
                method, url, content=body, headers=headers, timeout=timeout or self.timeout
            ) as response:
                for chunk in response.iter_bytes():
                    answer.add(chunk)
        except httpx.HTTPError as error:
            raise _unreachable(url, error) from error
        return answer.finish(response)

    def _json(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = OCTET_STREAM,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        raw = self.request(method, path, body, content_type=content_type, headers=headers)
        return _json_object(path, raw)

    def post_upload(
        self,
        upload: bytes,
        busy_timeout: float = 0.0,
        on_busy: BusyProgress | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Post a pre-encoded upload (`da.upload`, made by `da.sequencer.encode_upload`): the node
        verifies it instead of encoding; otherwise as `post_blob`. An inconsistent upload fails with
        its code (`invalid_cell_proof`, ...; `ApiFailure.message` names the first bad row or cell)."""
        return self.post_blob(upload, busy_timeout, on_busy, content_type=UPLOAD_MEDIA_TYPE, headers=headers)

    def get_payments(self, account: str | None = None) -> dict[str, Any]:
        """The node's payment terms (`GET /v1/payments`: `enabled`, and when on `payee`, `chain_id`,
        `verifying_contract`, `price_per_byte`, `min_billed_bytes`), with `held`, the highest
        cumulative it holds from `account`, when one is named."""
        path = "/v1/payments" if account is None else f"/v1/payments?account={account}"
        return _json_object(path, self.request("GET", path, limit=MAX_SMALL_ANSWER_BYTES))

    def post_blob(
        self,
        data: bytes,
        busy_timeout: float = 0.0,
        on_busy: BusyProgress | None = None,
        content_type: str = OCTET_STREAM,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Post a blob's bytes (`content_type`: the raw bytes, or `post_upload`'s pre-encoded body;
        the node answers 202 Accepted: durably taken, its certificate to follow); the JSON status
        (with its `data_root`, and `busy_retries`: how many times the node answered 429 first). A
        busy node is asked again after its Retry-After for up to `busy_timeout` seconds; past that
        its `too_many_requests` failure is raised. `headers` go with every attempt (a payment
        promise: the node took none of the refused ones)."""
        deadline = time.monotonic() + busy_timeout
        retries = 0
        while True:
            try:
                status = self._json("POST", "/v1/blobs", data, content_type, headers)
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
        return self._json("GET", _blob_path(data_root))

    def get_certificate(self, data_root: str) -> bytes:
        """The blob's certificate (SSZ); `ApiFailure` `not_certified` while the node knows the blob
        but has no certificate of it yet, `not_found` when it does not know the blob."""
        return self.request("GET", _blob_path(data_root, "certificate"), limit=MAX_SMALL_ANSWER_BYTES)

    def get_data(
        self,
        data_root: str,
        timeout: float | None = None,
        limit: int | None = None,
        total_s: float | None = None,
    ) -> bytes:
        """The blob's bytes (the node recovers them from custodians when it must). `invalid_answer`
        when the answer passes `limit` bytes; `unreachable` when it is not whole within `total_s`
        seconds (httpx's `timeout` bounds each read only: a node trickling bytes passes it)."""
        if total_s is None:
            return self.request("GET", _blob_path(data_root, "data"), timeout=timeout, limit=limit)
        deadline = time.monotonic() + total_s
        url = f"{self.base_url}{_blob_path(data_root, 'data')}"
        answer = _Answer(url, limit)
        try:
            with httpx.stream("GET", url, timeout=min(timeout or self.timeout, total_s)) as response:
                for chunk in response.iter_bytes():
                    answer.add(chunk)
                    if time.monotonic() > deadline:
                        raise ApiFailure("unreachable", f"{url} did not answer whole within {total_s:g} s")
        except httpx.HTTPError as error:
            raise _unreachable(url, error) from error
        return answer.finish(response)

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
        """Poll the status until certified or failed, or until `timeout` seconds; the last status
        (`ApiFailure` `invalid_answer` when an answer names no status)."""
        deadline = time.monotonic() + timeout
        status = self._blob_status(data_root)
        while status["status"] not in TERMINAL_STATUSES and time.monotonic() < deadline:
            if progress is not None:
                progress(int(status.get("signed_slots", 0)), max(int(status.get("threshold", 1)), 1))
            time.sleep(POLL_INTERVAL_S)
            status = self._blob_status(data_root)
        return status

    def _blob_status(self, data_root: str) -> dict[str, Any]:
        """`get_status`, refused (`invalid_answer`) unless it names a status as text."""
        status = self.get_status(data_root)
        if not isinstance(status.get("status"), str):
            raise ApiFailure("invalid_answer", f"{self.base_url}: the status of {data_root} names no status")
        return status


# --- The async face ------------------------------------------------------------------------------


class AsyncNodeApiClient:
    """One node's HTTP API at `base_url`, async (one connection pool; use it as a context manager)."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = _base_url(base_url)
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> AsyncNodeApiClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
            await self._client.aclose()

    async def _get_small(self, path: str) -> bytes | None:
        """GET a small answer (`MAX_SMALL_ANSWER_BYTES`); None when the node has nothing there: 404,
        or 409 (a certificate not formed yet)."""
        url = f"{self.base_url}{path}"
        answer = _Answer(url, MAX_SMALL_ANSWER_BYTES)
        try:
            async with self._client.stream("GET", url) as response:
                async for chunk in response.aiter_bytes():
                    answer.add(chunk)
        except httpx.HTTPError as error:
            raise _unreachable(url, error) from error
        if response.status_code in {httpx.codes.NOT_FOUND, httpx.codes.CONFLICT}:
            return None
        return answer.finish(response)

    async def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        """The node's header of `data_root`, checked against it; None when the node has none."""
        path = _blob_path(data_root, "header")
        body = await self._get_small(path)
        return None if body is None else _checked_header(f"{self.base_url}{path}", data_root, body)

    async def get_certificate(self, data_root: DataRoot) -> bytes | None:
        """The node's certificate bytes for `data_root` (unverified), or None when it has none."""
        return await self._get_small(_blob_path(data_root, "certificate"))
