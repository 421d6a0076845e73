"""Bugs planted in scratch copies of the aggregator and of the validator core, to show the fuzzer
finds real mistakes.

Each class is the production `AttestationAggregator` or `ValidatorCore` with one rule broken.
`fuzz/test_planted_bugs.py` and `python -m fuzz planted` swap one in for the real class and expect the
consensus fuzzer to fail, naming the invariant: S2-S5 for the aggregator, S6, S1 and S9 for custody.
"""

from __future__ import annotations

from da.header import compute_data_root
from da.types import DataRoot
from validator.aggregation import Accepted, AttestationAggregator, Rejected, RejectReason
from validator.core import (
    BlobDispersing,
    CustodyReceived,
    CustodyRejection,
    CustodyStored,
    Input,
    Output,
    PushCustody,
    StoreCustody,
    ValidatorCore,
)
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


class AttestsWithoutStoringCustody(ValidatorCore):
    """Bug 4: custody is reported stored at once, and never actually stored (S6 must fire)."""

    def step(self, event: Input) -> list[Output]:
        outputs = super().step(event)
        stores = [o for o in outputs if isinstance(o, StoreCustody)]
        if isinstance(event, CustodyReceived) and stores:
            kept = [o for o in outputs if not isinstance(o, StoreCustody)]
            rows = tuple(row for store in stores for row in store.rows)
            return kept + super().step(CustodyStored(compute_data_root(event.header), rows))
        return outputs


class CountsCellsOutsideCustody(ValidatorCore):
    """Bug 5: members take any pushed cells as their custody (the cell-set check is gone), and the
    aggregator pushes its last member the first member's columns: that member attests holding
    cells from outside its custody and none of its own (S6, which checks the exact set, must fire)."""

    def _check_custody(
        self, event: CustodyReceived, data_root: DataRoot
    ) -> tuple[CustodyRejection, str] | None:
        found = super()._check_custody(event, data_root)
        if found is not None and found[0] is CustodyRejection.WRONG_CELLS:
            return None  # the broken rule: cells outside this member's custody count as custody
        return found

    def step(self, event: Input) -> list[Output]:
        outputs = super().step(event)
        if not isinstance(event, BlobDispersing):
            return outputs
        pushes = [o for o in outputs if isinstance(o, PushCustody)]
        if not pushes:
            return outputs
        first, last = pushes[0], pushes[-1]
        wrong = PushCustody(last.to, last.header, last.epoch, last.quorum, first.columns)
        return [wrong if o is last else o for o in outputs]


class RefusesChunks(ValidatorCore):
    """Bug 6: the rule before chunked custody: a push must hold the member's whole custody (every
    row), so an honest aggregator's chunk of some rows is refused as `WRONG_CELLS` (S9 must fire)."""

    def _check_custody(
        self, event: CustodyReceived, data_root: DataRoot
    ) -> tuple[CustodyRejection, str] | None:
        found = super()._check_custody(event, data_root)
        rows = {sample.row for sample in event.samples}
        if found is None and len(rows) != event.header.row_count:
            return CustodyRejection.WRONG_CELLS, f"a push of {len(rows)} of {event.header.row_count} rows"
        return found


PLANTED_BUGS: dict[str, type[AttestationAggregator] | type[ValidatorCore]] = {
    "duplicate-counted-twice": CountsDuplicatesTwice,
    "non-member-accepted": AcceptsNonMembers,
    "certify-at-half": CertifiesAtHalf,
    "attest-without-custody": AttestsWithoutStoringCustody,
    "cells-outside-custody": CountsCellsOutsideCustody,
    "chunks-refused": RefusesChunks,
}
