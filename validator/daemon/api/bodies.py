"""Request bodies, read bounded: by size while they stream (a `Content-Length` over the limit is
refused before a byte is read; a chunked body as soon as it passes the limit) and by time (the whole
body within `ApiConfig.body_timeout_s` of its head), so a client holds no more memory and no longer
than the API allows."""

from __future__ import annotations

import asyncio

from aiohttp import web

from validator.daemon.api.errors import ApiError


def check_declared_length(request: web.Request, limit: int) -> None:
    """Refuse (`request_too_large`) a request whose `Content-Length` is over `limit`."""
    length = request.content_length
    if length is not None and length > limit:
        raise ApiError("request_too_large", f"the body is {length} bytes; this node takes at most {limit}")


async def read_body(request: web.Request, limit: int, timeout_s: float) -> bytes:
    """The whole body, read in chunks: `request_too_large` (413) once more than `limit` bytes have
    arrived, `request_timeout` (408) when it is not whole within `timeout_s`."""
    check_declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > limit:
                    raise ApiError(
                        "request_too_large", f"the body passed {limit} bytes, the most this node takes"
                    )
                chunks.append(chunk)
    except TimeoutError as error:
        raise ApiError(
            "request_timeout", f"the body did not arrive within {timeout_s:g} s ({size} bytes came)"
        ) from error
    return b"".join(chunks)
