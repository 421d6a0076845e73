"""An Alt-DA client that acts as OP Stack's does (op-alt-da's `DAClient`, written here from its
documented behaviour): what op-batcher and op-node would make of each answer of a DA server.

- `set_input`: an empty input is refused before any request; `POST {url}/put` with the raw bytes
  (`application/octet-stream`); 200 carries the raw commitment, whose first byte is its type;
  503 means "fail over to Ethereum DA"; any other status is retried by the batcher.
- `get_input`: `GET {url}/get/0x{hex}` (with `l1_inclusion_block_number` when known); 404 stalls
  derivation (`NotFound`); 418 with `{"StatusCode": n, "Msg": ...}` drops the commitment (`Dropped`);
  any other status is retried (`Retry`).
"""

from __future__ import annotations

import json

import httpx

GENERIC_COMMITMENT_TYPE = 0x01
TEAPOT = 418


class DAClientError(Exception):
    """Root of what the client raises."""


class InvalidInput(DAClientError):
    """An empty input: never sent."""


class FailOver(DAClientError):
    """503 on put: the DA layer is down; the batcher posts to Ethereum DA instead."""


class NotFound(DAClientError):
    """404 on get: the data is not found (derivation waits and asks again)."""


class Dropped(DAClientError):
    """418 on get: the commitment is dropped; `code` is the server's StatusCode."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"dropped ({code}): {message}")
        self.code = code
        self.message = message


class Retry(DAClientError):
    """Any other answer: the caller tries again; `status` is the HTTP status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status


class DAClient:
    """One DA server at `url`, with a `timeout` on every request (a request that passes it is a Retry)."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def set_input(self, data: bytes) -> bytes:
        """The commitment of `data` (type byte first)."""
        if not data:
            raise InvalidInput("empty input")
        try:
            response = httpx.post(
                f"{self.url}/put",
                content=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=self.timeout,
            )
        except httpx.TimeoutException as error:
            raise Retry(0, str(error).encode()) from error
        if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
            raise FailOver(response.text)
        if response.status_code != httpx.codes.OK:
            raise Retry(response.status_code, response.content)
        commitment = response.content
        if not commitment or commitment[0] != GENERIC_COMMITMENT_TYPE:
            raise Retry(response.status_code, b"not a generic commitment: " + commitment[:8])
        return commitment

    def get_input(self, commitment: bytes, l1_inclusion_block: int | None = None) -> bytes:
        """The data `commitment` names."""
        params = {} if l1_inclusion_block is None else {"l1_inclusion_block_number": str(l1_inclusion_block)}
        try:
            response = httpx.get(f"{self.url}/get/0x{commitment.hex()}", params=params, timeout=self.timeout)
        except httpx.TimeoutException as error:
            raise Retry(0, str(error).encode()) from error
        if response.status_code == httpx.codes.NOT_FOUND:
            raise NotFound(response.text)
        if response.status_code == TEAPOT:
            try:
                body = json.loads(response.content)
                raise Dropped(int(body["StatusCode"]), str(body["Msg"]))
            except (ValueError, KeyError, TypeError) as error:
                raise Retry(TEAPOT, response.content) from error
        if response.status_code != httpx.codes.OK:
            raise Retry(response.status_code, response.content)
        return response.content
