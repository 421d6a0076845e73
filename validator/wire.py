"""Wire codecs for attestations and ballots: fixed SSZ layouts, decoded by hand at the trust boundary."""

from da.types import DataRoot
from validator.errors import MalformedVote
from validator.keys import BLS_SIGNATURE_BYTES, BLSSignature
from validator.types import Attestation, Ballot, Epoch, QuorumIndex, ValidatorIndex

ATTESTATION_BYTES = 8 + 8 + 32 + 8 + BLS_SIGNATURE_BYTES
"""epoch, quorum, data_root, validator, signature (SSZ container of fixed-size fields)."""
BALLOT_BYTES = 8 + 8 + BLS_SIGNATURE_BYTES
"""validator, epoch, signature."""


def _u64(value: int) -> bytes:
    return int(value).to_bytes(8, "little")


def _checked(what: str, data: object, size: int) -> bytes:
    if not isinstance(data, bytes):
        raise MalformedVote(f"{what} must be bytes, got {type(data).__name__}")
    if len(data) != size:
        raise MalformedVote(f"{what} is {len(data)} bytes, {size} expected")
    return data


def attestation_to_bytes(attestation: Attestation) -> bytes:
    """SSZ encoding of an attestation."""
    return (
        _u64(attestation.epoch)
        + _u64(attestation.quorum)
        + _checked("data root", attestation.data_root, 32)
        + _u64(attestation.validator)
        + _checked("signature", attestation.signature, BLS_SIGNATURE_BYTES)
    )


def bytes_to_attestation(data: bytes) -> Attestation:
    """Decode an attestation from untrusted bytes; raises `MalformedVote`. Signatures are checked later."""
    data = _checked("attestation", data, ATTESTATION_BYTES)
    return Attestation(
        epoch=Epoch(int.from_bytes(data[0:8], "little")),
        quorum=QuorumIndex(int.from_bytes(data[8:16], "little")),
        data_root=DataRoot(data[16:48]),
        validator=ValidatorIndex(int.from_bytes(data[48:56], "little")),
        signature=BLSSignature(data[56:]),
    )


def ballot_to_bytes(ballot: Ballot) -> bytes:
    """SSZ encoding of a ballot."""
    signature = _checked("signature", ballot.signature, BLS_SIGNATURE_BYTES)
    return _u64(ballot.validator) + _u64(ballot.epoch) + signature


def bytes_to_ballot(data: bytes) -> Ballot:
    """Decode a ballot from untrusted bytes; raises `MalformedVote`."""
    data = _checked("ballot", data, BALLOT_BYTES)
    return Ballot(
        validator=ValidatorIndex(int.from_bytes(data[0:8], "little")),
        epoch=Epoch(int.from_bytes(data[8:16], "little")),
        signature=BLSSignature(data[16:]),
    )
