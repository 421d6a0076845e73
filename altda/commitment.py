"""The Tessera Alt-DA commitment (specs/altda.md): what an OP Stack batcher writes to L1 and a
derivation hands back to the DA server. Pure: bytes in, typed values out.

    calldata   = DERIVATION_VERSION_1 || commitment
    commitment = GENERIC_COMMITMENT_TYPE || TESSERA_DA_LAYER || TESSERA_PAYLOAD_VERSION || certificate

`certificate` is the SSZ availability certificate (`validator.certificate`); its first 32 bytes are
the blob's data root, so the commitment carries both what a derivation fetches (the data root) and
what it checks availability with (the certificate), without trusting the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from altda.errors import MalformedCommitment
from da.types import DataRoot
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.errors import MalformedCertificate
from validator.types import Certificate

DERIVATION_VERSION_1: Final = 0x01
"""op-node's batch-inbox calldata version for an Alt-DA commitment (not part of `commitment`)."""
GENERIC_COMMITMENT_TYPE: Final = 0x01
"""op-alt-da's commitment type for a DA layer's own opaque commitment."""
TESSERA_DA_LAYER: Final = 0x54
"""Tessera's DA-layer byte ("T"): unused by EigenDA (0x00), Celestia (0x0c) and the reference mock
(0xff), and below 127 as op-alt-da asks of a generic commitment's layer byte."""
TESSERA_PAYLOAD_VERSION: Final = 0x01
"""The layout of what follows the layer byte: version 1 is one SSZ certificate."""
PREFIX_BYTES: Final = 3


@dataclass(frozen=True, slots=True)
class TesseraCommitment:
    """A decoded commitment: the certificate (its data root names the blob) and the raw SSZ bytes it
    came from (what is checked and published, byte for byte)."""

    certificate: Certificate
    certificate_bytes: bytes

    @property
    def data_root(self) -> DataRoot:
        """The blob's data root (the certificate's)."""
        return self.certificate.data_root


def compute_commitment(certificate: Certificate) -> bytes:
    """The commitment bytes of a certified blob (what `/put` answers, raw)."""
    prefix = bytes((GENERIC_COMMITMENT_TYPE, TESSERA_DA_LAYER, TESSERA_PAYLOAD_VERSION))
    return prefix + certificate_to_bytes(certificate)


def bytes_to_commitment(data: bytes) -> TesseraCommitment:
    """Decode untrusted commitment bytes; raises `MalformedCommitment` saying which byte is wrong."""
    if len(data) <= PREFIX_BYTES:
        raise MalformedCommitment(f"{len(data)} bytes, a commitment has more than {PREFIX_BYTES}")
    kind, layer, version = data[0], data[1], data[2]
    if kind != GENERIC_COMMITMENT_TYPE:
        raise MalformedCommitment(f"commitment type 0x{kind:02x}, expected 0x{GENERIC_COMMITMENT_TYPE:02x}")
    if layer != TESSERA_DA_LAYER:
        raise MalformedCommitment(f"DA layer byte 0x{layer:02x}, Tessera's is 0x{TESSERA_DA_LAYER:02x}")
    if version != TESSERA_PAYLOAD_VERSION:
        raise MalformedCommitment(
            f"payload version 0x{version:02x}, expected 0x{TESSERA_PAYLOAD_VERSION:02x}"
        )
    raw = bytes(data[PREFIX_BYTES:])
    try:
        certificate = bytes_to_certificate(raw)
    except MalformedCertificate as error:
        raise MalformedCommitment(f"the certificate does not decode: {error}") from error
    return TesseraCommitment(certificate, raw)


def commitment_to_calldata(commitment: bytes) -> bytes:
    """The batch-inbox calldata of a commitment (derivation version 1 first)."""
    return bytes((DERIVATION_VERSION_1,)) + commitment
