"""The envelope a rollup's bytes travel in inside a Tessera blob (specs/altda.md, "Payload envelope"):
one version byte, then the bytes. `/put` wraps, `/get` unwraps; a certified blob that is not an
envelope (posted to a validator directly, not through the DA server) cannot be a batch, and a
derivation drops its commitment (op-alt-da code 4, blob decode failed). Pure."""

from __future__ import annotations

from typing import Final

from altda.errors import AltDAError

PAYLOAD_ENVELOPE_VERSION: Final = 0x00
ENVELOPE_OVERHEAD_BYTES: Final = 1
DEFAULT_MAX_PAYLOAD_BYTES: Final = 2 * 1024 * 1024 - ENVELOPE_OVERHEAD_BYTES
"""Largest rollup payload `/put` takes by default: a 2 MiB blob with its envelope. The DA server posts
the bytes raw and the validator encodes them (about 0.25 s a row on a 2-core node), so a put of this
size certifies well inside `certify_timeout_s` (60 s). Validators take blobs up to
`DEFAULT_MAX_BLOB_BYTES` (32 MiB), but raw encoding of that alone takes about a minute there."""


class MalformedPayload(AltDAError):
    """Raised when a blob's bytes are not a payload envelope (empty, another version, no payload)."""


def wrap_payload(payload: bytes) -> bytes:
    """The blob that carries `payload`; `MalformedPayload` for an empty one."""
    if not payload:
        raise MalformedPayload("an empty payload is not a batch")
    return bytes((PAYLOAD_ENVELOPE_VERSION,)) + payload


def unwrap_payload(blob: bytes) -> bytes:
    """The payload a blob carries; `MalformedPayload` when it is not an envelope."""
    if len(blob) <= ENVELOPE_OVERHEAD_BYTES:
        raise MalformedPayload(f"a {len(blob)}-byte blob carries no payload")
    if blob[0] != PAYLOAD_ENVELOPE_VERSION:
        raise MalformedPayload(f"envelope version 0x{blob[0]:02x}, expected 0x{PAYLOAD_ENVELOPE_VERSION:02x}")
    return bytes(blob[ENVELOPE_OVERHEAD_BYTES:])
