"""Frames on a stream (pure): a 4-byte little-endian length prefix, then the body; answers lead with a code.

A request is one frame. An answer is one result-code byte, then one frame: the SSZ body on success, or
UTF-8 error text (at most `MAX_ERROR_MESSAGE_BYTES`) otherwise. `check_frame_length` is what lets a
reader refuse an oversize body before reading a byte of it.
"""

from __future__ import annotations

from network.constants import FRAME_PREFIX_BYTES, MAX_ERROR_MESSAGE_BYTES, ResultCode
from network.errors import MalformedMessage, MessageTooLarge
from network.messages import error_message_to_bytes

MAX_FRAME_BYTES = 2**32 - 1
"""The largest length a 4-byte prefix can announce."""


def encode_frame(body: bytes) -> bytes:
    """The length prefix followed by `body`."""
    if len(body) > MAX_FRAME_BYTES:
        raise MessageTooLarge("frame", len(body), MAX_FRAME_BYTES)
    return len(body).to_bytes(FRAME_PREFIX_BYTES, "little") + body


def check_frame_length(prefix: bytes, limit: int, what: str) -> int:
    """The body length announced by `prefix`; raises `MessageTooLarge` above `limit`."""
    if len(prefix) != FRAME_PREFIX_BYTES:
        raise MalformedMessage(what, f"frame prefix is {len(prefix)} bytes, {FRAME_PREFIX_BYTES} expected")
    length = int.from_bytes(prefix, "little")
    if length > limit:
        raise MessageTooLarge(what, length, limit)
    return length


def encode_success(body: bytes) -> bytes:
    """A success answer carrying `body`."""
    return bytes([ResultCode.SUCCESS]) + encode_frame(body)


def encode_error(code: ResultCode, message: str) -> bytes:
    """An error answer: the code and its (truncated) explanation."""
    if code == ResultCode.SUCCESS:
        raise ValueError("an error answer needs a non-success code")
    return bytes([code]) + encode_frame(error_message_to_bytes(message))


def bytes_to_result_code(data: bytes) -> ResultCode:
    """The result code of an answer from its first byte; raises `MalformedMessage` for unknown codes."""
    if len(data) != 1:
        raise MalformedMessage("result code", f"{len(data)} bytes, 1 expected")
    try:
        return ResultCode(data[0])
    except ValueError as error:
        raise MalformedMessage("result code", f"unknown code {data[0]}") from error


def answer_body_limit(code: ResultCode, success_limit: int) -> int:
    """How many body bytes an answer with `code` may carry."""
    return success_limit if code == ResultCode.SUCCESS else MAX_ERROR_MESSAGE_BYTES
