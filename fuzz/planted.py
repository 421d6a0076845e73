"""Three bugs planted in scratch copies of the aggregator, to show the fuzzer finds real mistakes.

Each class is the production `AttestationAggregator` with one rule broken. `fuzz/test_planted_bugs.py`
and `python -m fuzz planted` swap one in for the real class and expect the consensus fuzzer to fail.
"""

from __future__ import annotations

from validator.aggregation import Accepted, AttestationAggregator, Rejected, RejectReason
from validator.types import Attestation, ValidatorIndex


class CountsDuplicatesTwice(AttestationAggregator):
    """Bug 1: a member's repeated attestation is counted again."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._counted: list[ValidatorIndex] = []

    @property
    def signed_slots(self) -> int:
        return sum(self._weights[member] for member in self._counted)

    def _check(self, attestation: Attestation) -> Rejected | None:
        rejection = super()._check(attestation)
        if rejection is not None and rejection.reason is RejectReason.DUPLICATE:
            return None
        return rejection

    def add(self, attestation: Attestation) -> Accepted | Rejected:
        result = super().add(attestation)
        if isinstance(result, Accepted):
            self._counted.append(attestation.validator)
            certificate = result.certificate
            if certificate is None and self.certificate is None and self.signed_slots >= self.threshold:
                certificate = self.certificate = self._form_certificate()
            return Accepted(self.signed_slots, certificate)
        return result


class AcceptsNonMembers(AttestationAggregator):
    """Bug 2: a valid signature from a registered validator outside the quorum counts (weight 1)."""

    def _check(self, attestation: Attestation) -> Rejected | None:
        if attestation.validator not in self._weights and self.context.get_validator(attestation.validator):
            self._weights[attestation.validator] = 1
        return super()._check(attestation)


class CertifiesAtHalf(AttestationAggregator):
    """Bug 3: the certificate is formed at half of the quorum's slots instead of two thirds."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.threshold = -(-len(self.quorum.slots) // 2)


PLANTED_BUGS: dict[str, type[AttestationAggregator]] = {
    "duplicate-counted-twice": CountsDuplicatesTwice,
    "non-member-accepted": AcceptsNonMembers,
    "certify-at-half": CertifiesAtHalf,
}
