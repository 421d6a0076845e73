"""Availability certificates: SSZ codec and offline verification against the registry's epoch context."""

from dataclasses import dataclass
from enum import IntEnum

from remerkleable.basic import uint64
from remerkleable.bitfields import Bitlist
from remerkleable.byte_arrays import Bytes32, Bytes96
from remerkleable.complex import Container

from da.types import DataRoot
from validator.errors import MalformedCertificate
from validator.keys import BLSPubkey, BLSSignature, fast_aggregate_verify
from validator.presets import Preset
from validator.quorums import compute_quorums
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, EpochContext, QuorumIndex

MAX_QUORUM_SLOTS = 256
"""SSZ limit of the signer bitfield (fixed, so the certificate's tree shape never depends on a preset)."""
CERTIFICATE_FIXED_BYTES = 32 + 8 + 8 + 4 + 96
MAX_CERTIFICATE_SSZ_BYTES = CERTIFICATE_FIXED_BYTES + MAX_QUORUM_SLOTS // 8 + 1
"""Largest SSZ encoding of a certificate (a full signer bitlist); gossip caps its message separately."""


class CertificateSSZ(Container):  # type: ignore[misc]
    """SSZ form of `Certificate`."""

    data_root: Bytes32
    epoch: uint64
    quorum: uint64
    signers: Bitlist[MAX_QUORUM_SLOTS]
    signature: Bytes96


def certificate_to_bytes(certificate: Certificate) -> bytes:
    """SSZ encoding of a certificate."""
    if len(certificate.signers) > MAX_QUORUM_SLOTS:
        raise MalformedCertificate(f"{len(certificate.signers)} signer bits, at most {MAX_QUORUM_SLOTS}")
    return bytes(
        CertificateSSZ(
            data_root=certificate.data_root,
            epoch=certificate.epoch,
            quorum=certificate.quorum,
            signers=Bitlist[MAX_QUORUM_SLOTS](*certificate.signers),
            signature=certificate.signature,
        ).encode_bytes()
    )


def bytes_to_certificate(data: bytes) -> Certificate:
    """Decode a certificate from untrusted bytes (layout checked by hand); raises `MalformedCertificate`."""
    if not isinstance(data, bytes):
        raise MalformedCertificate(f"certificate must be bytes, got {type(data).__name__}")
    low, high = CERTIFICATE_FIXED_BYTES + 1, MAX_CERTIFICATE_SSZ_BYTES
    if not low <= len(data) <= high:
        raise MalformedCertificate(f"certificate is {len(data)} bytes, expected {low}..{high}")
    offset = int.from_bytes(data[48:52], "little")
    if offset != CERTIFICATE_FIXED_BYTES:
        raise MalformedCertificate(f"signers offset is {offset}, expected {CERTIFICATE_FIXED_BYTES}")
    bits = data[CERTIFICATE_FIXED_BYTES:]
    if bits[-1] == 0:
        raise MalformedCertificate("signer bitlist has no length delimiter")
    length = 8 * (len(bits) - 1) + bits[-1].bit_length() - 1
    if length > MAX_QUORUM_SLOTS:
        raise MalformedCertificate(f"{length} signer bits, at most {MAX_QUORUM_SLOTS}")
    signers = tuple(bool(bits[i // 8] >> (i % 8) & 1) for i in range(length))
    return Certificate(
        data_root=DataRoot(data[0:32]),
        epoch=Epoch(int.from_bytes(data[32:40], "little")),
        quorum=QuorumIndex(int.from_bytes(data[40:48], "little")),
        signers=signers,
        signature=BLSSignature(data[52:148]),
    )


class CertificateStatus(IntEnum):
    """Why a certificate is valid or not: the codes of `TesseraVerifier.checkCertificate` (the
    contract's `Status`, same numbers), so an offline and an on-chain check compare one for one."""

    VALID = 0
    MALFORMED = 1
    """The bytes are not a certificate (`bytes_to_certificate` raises)."""
    EPOCH_NOT_COMMITTED = 2
    """On-chain only: nobody has committed the epoch's quorums to the verifier yet."""
    NO_SUCH_QUORUM = 3
    QUORUM_NOT_PUBLISHED = 4
    """On-chain only: the quorum is committed but its keys are not published yet."""
    WRONG_SIGNER_COUNT = 5
    PARTIAL_SIGNER = 6
    BELOW_THRESHOLD = 7
    INVALID_SIGNATURE = 8
    WRONG_EPOCH = 9
    """Offline only: the context passed is of another epoch than the certificate's."""
    UNKNOWN_EPOCH = 10
    """Offline only (`das cert verify`): the registry has no context for the epoch yet (`UnknownEpoch`)."""


@dataclass(frozen=True, slots=True)
class CertificateVerdict:
    """The outcome of verifying a certificate, with the reason a user is shown."""

    status: CertificateStatus
    reason: str
    signed_slots: int = 0
    threshold: int = 0

    @property
    def valid(self) -> bool:
        """True iff the certificate verified."""
        return self.status is CertificateStatus.VALID


def verify_certificate(
    certificate: Certificate, context: EpochContext, preset: Preset, *, verify_ballots: bool = False
) -> CertificateVerdict:
    """Check a certificate offline against the epoch's registry data; never raises for a wrong one.

    Ballots in a registry were verified on entry, so quorum formation skips their pairings unless
    `verify_ballots` is set.
    """
    if certificate.epoch != context.epoch:
        return CertificateVerdict(
            CertificateStatus.WRONG_EPOCH,
            f"certificate is for epoch {certificate.epoch}, context is {context.epoch}",
        )
    quorums = compute_quorums(context, preset, verify_ballots=verify_ballots)
    if not 0 <= certificate.quorum < len(quorums):
        return CertificateVerdict(
            CertificateStatus.NO_SUCH_QUORUM,
            f"quorum {certificate.quorum} does not exist ({len(quorums)} quorums)",
        )
    quorum = quorums[certificate.quorum]
    if len(certificate.signers) != len(quorum.slots):
        return CertificateVerdict(
            CertificateStatus.WRONG_SIGNER_COUNT,
            f"signer bitfield has {len(certificate.signers)} bits, quorum has {len(quorum.slots)} slots",
        )
    threshold = preset.certificate_threshold(len(quorum.slots))
    records = {record.index: record for record in context.validators}
    pubkeys: list[BLSPubkey] = []
    for member in quorum.members:
        bits = {certificate.signers[slot] for slot in quorum.slots_of(member)}
        if len(bits) != 1:
            return CertificateVerdict(
                CertificateStatus.PARTIAL_SIGNER,
                f"validator {member}'s slots are only partly marked as signed",
            )
        if bits == {True}:  # quorums are drawn from the context's own validators
            pubkeys.append(records[member].pubkey)
    signed = certificate.signed_slots
    if signed < threshold:
        return CertificateVerdict(
            CertificateStatus.BELOW_THRESHOLD,
            f"{signed} of {len(quorum.slots)} slots signed, {threshold} needed",
            signed,
            threshold,
        )
    message = compute_attestation_signing_root(
        context.chain_id, certificate.epoch, certificate.quorum, certificate.data_root
    )
    if not fast_aggregate_verify(pubkeys, message, certificate.signature):
        return CertificateVerdict(
            CertificateStatus.INVALID_SIGNATURE, "aggregate signature does not verify", signed, threshold
        )
    return CertificateVerdict(
        CertificateStatus.VALID,
        f"{signed} of {len(quorum.slots)} slots signed (threshold {threshold})",
        signed,
        threshold,
    )
