"""What the registry says about a blob: its epoch context and quorum, from a verified certificate or
from an epoch and quorum the user names. Also the registry-backed certificate validator for gossip.

The registry is the `EpochSource` port; contexts are cached per epoch and re-read after
`refresh_seconds` (validators' endpoints change when their daemons restart).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from da.types import DataRoot
from network.types import Verdict
from sampling.client.errors import AssignmentUnknown, CertificateRejected
from validator.certificate import bytes_to_certificate, verify_certificate
from validator.certificate_gossip import compute_certificate_judgement
from validator.errors import MalformedCertificate, ValidatorError
from validator.presets import Preset
from validator.quorums import compute_quorums
from validator.registry import EpochSource, RegistryInfo, get_registry_preset
from validator.types import Certificate, Epoch, EpochContext, Quorum, QuorumIndex

log = structlog.get_logger(__name__)

CONTEXT_REFRESH_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Assignment:
    """A data root with the epoch context and the quorum whose members hold its custody."""

    data_root: DataRoot
    context: EpochContext
    quorum: Quorum
    certificate: Certificate | None = None
    certificate_reason: str = ""
    """Why the certificate was accepted (signed slots and threshold), for reports."""


class RegistryView:
    """Reads epoch contexts and quorums from a registry, verifies certificates against them.

    It is itself an `EpochSource` (the registry's, with contexts cached), so gossip validation reads
    through the same cache."""

    def __init__(
        self,
        registry: EpochSource,
        preset: Preset | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_seconds: float = CONTEXT_REFRESH_SECONDS,
    ) -> None:
        self._registry = registry
        self.preset = preset if preset is not None else get_registry_preset(registry)
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._cache: dict[Epoch, tuple[float, EpochContext, tuple[Quorum, ...]]] = {}

    def _read(self, epoch: Epoch) -> tuple[EpochContext, tuple[Quorum, ...]]:
        """The cached context and quorums of `epoch`; raises the registry's `ValidatorError`."""
        now = self._clock()
        cached = self._cache.get(epoch)
        if cached is not None and now - cached[0] < self._refresh_seconds:
            return cached[1], cached[2]
        context = self._registry.get_epoch_context(epoch)
        if cached is not None and cached[1] == context:
            quorums = cached[2]
        else:
            quorums = compute_quorums(context, self.preset, verify_ballots=False)
        self._cache[epoch] = (now, context, quorums)
        return context, quorums

    def _load(self, epoch: Epoch) -> tuple[EpochContext, tuple[Quorum, ...]]:
        try:
            return self._read(epoch)
        except ValidatorError as error:
            raise AssignmentUnknown(f"the registry has no epoch {epoch}: {error}") from error

    def get_info(self) -> RegistryInfo:
        """`EpochSource`: the registry's genesis facts."""
        return self._registry.get_info()

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """`EpochSource`: the cached context of `epoch`; raises the registry's own `ValidatorError`."""
        return self._read(epoch)[0]

    def get_context(self, epoch: Epoch) -> EpochContext:
        """The registry's context of `epoch`; raises `AssignmentUnknown` for an epoch it cannot give."""
        return self._load(epoch)[0]

    def assign(self, data_root: DataRoot, epoch: Epoch, quorum: QuorumIndex) -> Assignment:
        """The assignment of `data_root` to (epoch, quorum) as the user names it (no certificate)."""
        context, quorums = self._load(epoch)
        if not 0 <= quorum < len(quorums):
            raise AssignmentUnknown(
                f"epoch {epoch} has {len(quorums)} quorum(s); there is no quorum {quorum}"
            )
        return Assignment(data_root, context, quorums[quorum])

    def certify(self, certificate: Certificate) -> Assignment:
        """The assignment a certificate proves; raises `CertificateRejected` if it does not verify."""
        try:
            context, quorums = self._load(certificate.epoch)
        except AssignmentUnknown as error:
            raise CertificateRejected(error.reason) from error
        verdict = verify_certificate(certificate, context, self.preset)
        if not verdict.valid:
            raise CertificateRejected(verdict.reason)
        return Assignment(
            certificate.data_root, context, quorums[certificate.quorum], certificate, verdict.reason
        )

    def certify_bytes(self, data: bytes) -> Assignment:
        """`certify` for untrusted bytes; raises `CertificateRejected` for bytes that do not decode."""
        try:
            certificate = bytes_to_certificate(data)
        except MalformedCertificate as error:
            raise CertificateRejected(str(error)) from error
        return self.certify(certificate)


class RegistryCertificateValidator:
    """`CertificateValidator` for gossip: the rules of `specs/validator.md` (Certificate gossip
    validation), as `validator.certificate_gossip` implements them, over this view's cached contexts."""

    def __init__(self, view: RegistryView) -> None:
        self._view = view

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        """Judge one gossip payload (`now` is unused: the registry's own clock bounds the epoch)."""
        judgement = compute_certificate_judgement(data, self._view, self._view.preset)
        if judgement.verdict is Verdict.REJECT:
            log.info("certificate rejected", reason=judgement.reason)
        return judgement.verdict
