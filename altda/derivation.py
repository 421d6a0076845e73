"""How a derivation checks a Tessera commitment (specs/altda.md, "Checking a commitment"), for the DA
server and for a fault-proof program alike: parse it, apply the recency rule, verify the certificate
(offline against the registry, or on-chain with `checkCertificate`), and check the bytes against the
data root. Each failure that must make the derivation drop the commitment has its op-alt-da code
(`DropCode`); a certificate that cannot be judged yet is `CertificatePending`, never a drop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Protocol

from da.errors import DAError
from da.header import compute_data_root
from da.types import BlobHeader
from validator.certificate import CertificateStatus, bytes_to_certificate, verify_certificate
from validator.errors import MalformedCertificate, UnknownEpoch
from validator.registry import EpochSource, get_registry_preset

if TYPE_CHECKING:
    from validator.registry.chain.verifier import OnchainVerdict

from altda.commitment import TesseraCommitment, bytes_to_commitment
from altda.errors import AltDAError, MalformedCommitment
from altda.payload import MalformedPayload, unwrap_payload

DEFAULT_RECENCY_WINDOW_S = 14_400 * 12.0
"""How long after its certificate's epoch has ended a commitment may still land on L1: 48 hours,
EigenDA's 14,400 L1 blocks at 12 s."""


class DropCode(IntEnum):
    """op-alt-da's reasons to drop a commitment (the `StatusCode` of a 418 answer)."""

    PARSE = 1
    """The commitment does not decode."""
    RECENCY = 2
    """It landed on L1 too long after its certificate's epoch."""
    INVALID_CERTIFICATE = 3
    """Its certificate does not verify."""
    DECODE = 4
    """The blob (its bytes match the data root) is not a payload envelope (`unwrap_payload` refuses
    it). Bytes that do not match the data root are `BlobMismatch`: that source is wrong, never a drop."""


class CommitmentRejected(AltDAError):
    """Raised when a commitment must be dropped; `code` is the `DropCode`, `reason` says why."""

    def __init__(self, code: DropCode, reason: str) -> None:
        super().__init__(f"{code.name.lower()}: {reason}")
        self.code = code
        self.reason = reason


class CertificatePending(AltDAError):
    """Raised when a certificate cannot be judged yet (its epoch unknown to the registry, or not
    committed / its quorum not published on-chain): ask again later, do not drop."""


PENDING: frozenset[CertificateStatus] = frozenset(
    {
        CertificateStatus.UNKNOWN_EPOCH,
        CertificateStatus.EPOCH_NOT_COMMITTED,
        CertificateStatus.QUORUM_NOT_PUBLISHED,
    }
)
"""Verdicts that say "not checkable yet" rather than "invalid"."""


class CertificateChecker(Protocol):
    """Judges a certificate's SSZ bytes: offline against a registry, or the verifier contract."""

    def check_certificate(self, certificate: bytes) -> CertificateStatus:
        """The certificate's status (the `TesseraVerifier.checkCertificate` codes)."""


class OfflineChecker:
    """`verify_certificate` against the registry's epoch context (the check `das cert verify` does)."""

    def __init__(self, registry: EpochSource) -> None:
        self._registry = registry
        self._preset = get_registry_preset(registry)
        self._lock = threading.Lock()  # one registry connection, checks from worker threads

    def check_certificate(self, certificate: bytes) -> CertificateStatus:
        """The offline verdict; UNKNOWN_EPOCH while the registry has no context for its epoch."""
        try:
            decoded = bytes_to_certificate(certificate)
        except MalformedCertificate:
            return CertificateStatus.MALFORMED
        try:
            with self._lock:
                context = self._registry.get_epoch_context(decoded.epoch)
        except UnknownEpoch:
            return CertificateStatus.UNKNOWN_EPOCH
        return verify_certificate(decoded, context, self._preset).status


class ContractVerifier(Protocol):
    """The verifier contract's client (`validator.registry.chain.verifier.ChainVerifier`)."""

    def check_certificate(self, data: bytes) -> OnchainVerdict:
        """`checkCertificate`'s verdict (an eth_call)."""


class OnchainChecker:
    """The verdict of the `TesseraVerifier` contract (`checkCertificate`, the check a rollup's inbox
    or fault-proof contract makes)."""

    def __init__(self, verifier: ContractVerifier) -> None:
        self._verifier = verifier

    def check_certificate(self, certificate: bytes) -> CertificateStatus:
        """The contract's status code."""
        return self._verifier.check_certificate(certificate).status


@dataclass(frozen=True, slots=True)
class EpochClock:
    """The registry's epoch clock (`RegistryInfo.genesis_time`, `epoch_seconds`)."""

    genesis_time: float
    epoch_seconds: float

    def epoch_end(self, epoch: int) -> float:
        """When `epoch` ends (Unix seconds)."""
        return self.genesis_time + (epoch + 1) * self.epoch_seconds


def is_recent(epoch: int, l1_block_time: float, clock: EpochClock, window_s: float) -> bool:
    """The recency rule: the L1 block that includes the commitment is at most `window_s` seconds
    younger than the end of the certificate's epoch."""
    return l1_block_time <= clock.epoch_end(epoch) + window_s


def parse_commitment(data: bytes) -> TesseraCommitment:
    """`bytes_to_commitment`, failing with `CommitmentRejected(PARSE)`."""
    try:
        return bytes_to_commitment(data)
    except MalformedCommitment as error:
        raise CommitmentRejected(DropCode.PARSE, error.reason) from error


def check_recency(
    commitment: TesseraCommitment, l1_block_time: float | None, clock: EpochClock, window_s: float
) -> None:
    """Raise `CommitmentRejected(RECENCY)` when the rule fails; nothing to check without the L1 time."""
    if l1_block_time is None:
        return
    if not is_recent(commitment.certificate.epoch, l1_block_time, clock, window_s):
        late = l1_block_time - clock.epoch_end(commitment.certificate.epoch)
        raise CommitmentRejected(
            DropCode.RECENCY,
            f"included {late:.0f} s after epoch {commitment.certificate.epoch} ended "
            f"(window {window_s:.0f} s)",
        )


def check_certificate(commitment: TesseraCommitment, checker: CertificateChecker) -> None:
    """Raise `CommitmentRejected(INVALID_CERTIFICATE)` for a certificate that does not verify,
    `CertificatePending` for one that cannot be judged yet."""
    status = checker.check_certificate(commitment.certificate_bytes)
    if status is CertificateStatus.VALID:
        return
    if status in PENDING:
        raise CertificatePending(f"certificate of 0x{commitment.data_root.hex()}: {status.name.lower()}")
    raise CommitmentRejected(DropCode.INVALID_CERTIFICATE, f"the certificate is {status.name.lower()}")


class BlobMismatch(AltDAError):
    """Raised when bytes a source served do not hash to the commitment's data root: the source is
    wrong, not the commitment (ask another source; never a drop)."""


HeaderOf = Callable[[bytes], BlobHeader]
"""Computes a blob's header from its bytes (`da.compute_blob_header` with a prover, or an
`EncoderPool`'s, which runs it in worker processes)."""


def check_blob(commitment: TesseraCommitment, blob: bytes, header_of: HeaderOf) -> bytes:
    """The rollup payload `blob` carries: `BlobMismatch` unless `blob` hashes to the commitment's
    data root, then `CommitmentRejected(DECODE)` unless it is a payload envelope."""
    try:
        root = compute_data_root(header_of(blob))
    except DAError as error:
        raise BlobMismatch(f"the bytes are not a blob: {error}") from error
    if root != commitment.data_root:
        raise BlobMismatch(f"the bytes have data root 0x{root.hex()}, not 0x{commitment.data_root.hex()}")
    try:
        return unwrap_payload(blob)
    except MalformedPayload as error:
        raise CommitmentRejected(DropCode.DECODE, str(error)) from error


def check_commitment(
    data: bytes,
    checker: CertificateChecker,
    clock: EpochClock,
    *,
    l1_block_time: float | None = None,
    window_s: float = DEFAULT_RECENCY_WINDOW_S,
) -> TesseraCommitment:
    """The derivation rule up to fetching the bytes, in its order: parse, recency, certificate. The
    decoded commitment when every step passes; raises `CommitmentRejected` (drop) or
    `CertificatePending` (ask again). Then fetch the blob by `data_root` and `check_blob` it."""
    commitment = parse_commitment(data)
    check_recency(commitment, l1_block_time, clock, window_s)
    check_certificate(commitment, checker)
    return commitment
