"""SSZ building blocks of the hand-written message codecs (pure): integers, offsets, bitlists, samples.

`network.messages` assembles the request messages from these. Decoders raise `MalformedMessage`
(never anything else) with `what`, the message being decoded, so the error names the message.
"""

from __future__ import annotations

from da.errors import MalformedSample
from da.samples import SAMPLE_BYTES, bytes_to_sample, validate_sample
from da.types import Sample
from network.constants import SSZ_OFFSET_BYTES, UINT64_BYTES
from network.errors import MalformedMessage


def uint64_to_bytes(value: int) -> bytes:
    """SSZ uint64 (little-endian)."""
    return value.to_bytes(UINT64_BYTES, "little")


def offset_to_bytes(value: int) -> bytes:
    """SSZ offset (uint32, little-endian)."""
    return value.to_bytes(SSZ_OFFSET_BYTES, "little")


def read_offset(data: bytes, at: int) -> int:
    """The SSZ offset at byte `at` of `data` (the caller has checked that it fits)."""
    return int.from_bytes(data[at : at + SSZ_OFFSET_BYTES], "little")


def require_bytes(what: str, data: object) -> bytes:
    """`data` if it is `bytes`; `MalformedMessage` otherwise (decoders are called with untrusted values)."""
    if not isinstance(data, bytes):
        raise MalformedMessage(what, f"expected bytes, got {type(data).__name__}")
    return data


def split_two_variable_fields(what: str, data: bytes) -> tuple[bytes, bytes]:
    """The two parts of a container whose fields are both variable-size (two offsets, then the data)."""
    fixed = 2 * SSZ_OFFSET_BYTES
    if len(data) < fixed:
        raise MalformedMessage(what, f"{len(data)} bytes is shorter than the {fixed}-byte fixed part")
    first, second = read_offset(data, 0), read_offset(data, SSZ_OFFSET_BYTES)
    if first != fixed:
        raise MalformedMessage(what, f"first offset is {first}, expected {fixed}")
    if not first <= second <= len(data):
        raise MalformedMessage(what, f"second offset {second} is outside {first}..{len(data)}")
    return data[first:second], data[second:]


def bitlist_to_bytes(bits: list[bool]) -> bytes:
    """SSZ `Bitlist`: the bits, little-endian, then the delimiter bit."""
    value = 1 << len(bits)  # the delimiter bit
    for index, bit in enumerate(bits):
        if bit:
            value |= 1 << index
    return value.to_bytes(len(bits) // 8 + 1, "little")


def bytes_to_bitlist(what: str, data: bytes, limit: int) -> list[bool]:
    """Decode an SSZ `Bitlist[limit]` from untrusted bytes; raises `MalformedMessage`."""
    if not data or data[-1] == 0:
        raise MalformedMessage(what, "bitlist has no delimiter bit")
    if len(data) > limit // 8 + 1:
        raise MalformedMessage(what, f"bitlist of {len(data)} bytes exceeds {limit} bits")
    value = int.from_bytes(data, "little")
    length = value.bit_length() - 1
    if length > limit:
        raise MalformedMessage(what, f"bitlist of {length} bits exceeds {limit}")
    return [bool((value >> index) & 1) for index in range(length)]


def sample_to_wire(sample: Sample) -> bytes:
    """SSZ encoding of one sample (byte-identical to `da.sample_to_bytes`, ~100x faster)."""
    try:
        validate_sample(sample)
    except MalformedSample as error:
        raise MalformedMessage("sample", str(error)) from error
    return b"".join(
        (
            uint64_to_bytes(sample.row),
            uint64_to_bytes(sample.column),
            sample.cell,
            sample.proof,
            sample.commitment,
            *sample.commitment_branch,
        )
    )


def bytes_to_samples(what: str, data: bytes, limit: int) -> tuple[Sample, ...]:
    """Decode an SSZ `List[Sample, limit]` from untrusted bytes; raises `MalformedMessage`."""
    if len(data) % SAMPLE_BYTES:
        raise MalformedMessage(what, f"{len(data)} sample bytes is not a multiple of {SAMPLE_BYTES}")
    count = len(data) // SAMPLE_BYTES
    if count > limit:
        raise MalformedMessage(what, f"{count} samples, at most {limit} allowed")
    try:
        return tuple(bytes_to_sample(data[i : i + SAMPLE_BYTES]) for i in range(0, len(data), SAMPLE_BYTES))
    except MalformedSample as error:
        raise MalformedMessage(what, str(error)) from error
