"""The validators behind the DA server (blocking; the server runs these calls in worker threads).

`certify` posts a blob to the validators in order: a busy node (429) is left for the next one and
its Retry-After remembered, a node that fails or cannot be reached too; when a round ends without a
certificate, the next starts after the shortest Retry-After heard (or a short pause), until the
deadline. A certificate counts only once the server has verified it itself; one whose verdict is
pending (its epoch not yet known or committed, its quorum not published) is checked again until the
deadline, never re-posted elsewhere. A validator that takes payments is paid by the server's
`Payer` (the rollup's account; specs/validator.md, "Payments"); without one, such a validator
refuses the post (402) and the next is tried. `fetch` asks each
validator for the blob's bytes (a validator rebuilds them from custodians, as `das blob get` does)
and keeps the first answer that hashes to the data root."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import structlog

from altda.derivation import PENDING, BlobMismatch, CertificateChecker
from altda.errors import BlobNotFound, DAUnavailable, PayloadRefused
from da.types import DataRoot
from validator.api_client import NodeApiClient
from validator.certificate import CertificateStatus, bytes_to_certificate
from validator.errors import ApiFailure, MalformedCertificate, RegistryError

if TYPE_CHECKING:  # eth-account takes about a second to import: only a paying server loads it
    from validator.payments.payer import Payer

log = structlog.get_logger(__name__)

T = TypeVar("T")

ROUND_PAUSE_S = 0.5
"""Pause between rounds over the validators when none said how long to wait."""
PENDING_PAUSE_S = 0.5
"""Pause before asking again about a certificate whose verdict is pending."""
REQUEST_TIMEOUT_S = 30.0
"""Bound of one status, certificate or post request (the certificate wait has the deadline's)."""
REFUSED_FOR_GOOD = frozenset({"request_too_large", "invalid_argument", "unsupported_media_type"})
"""Answers that another validator would give too: the blob itself is refused."""


@dataclass(frozen=True, slots=True)
class Certified:
    """A blob certified and its certificate verified: the certificate's bytes and who gave it."""

    certificate: bytes
    node: str
    attempts: int


class Validators:
    """The validators' APIs (`urls`, in order of preference) and the server's certificate check; a
    blob's bytes are read from one validator for at most `get_timeout_s` in all and `max_blob_bytes`."""

    def __init__(
        self,
        urls: tuple[str, ...],
        checker: CertificateChecker,
        get_timeout_s: float,
        max_blob_bytes: int,
        payer: Payer | None = None,
    ) -> None:
        """`payer`: pays the validators that take payments (None: posts carry no promise)."""
        self.urls = urls
        self._payer = payer
        self._checker = checker
        self._get_timeout_s = get_timeout_s
        self._max_blob_bytes = max_blob_bytes

    def certify(self, blob: bytes, data_root: DataRoot, timeout_s: float) -> Certified:
        """A verified certificate of `blob` (whose data root, computed here, is `data_root`) within
        `timeout_s`; `DAUnavailable` when none came, `PayloadRefused` when a validator refuses the
        blob itself."""
        deadline = time.monotonic() + timeout_s
        root = "0x" + data_root.hex()
        attempts = 0
        last_failure = "none"
        while True:
            waits: list[float] = []
            for url in self.urls:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                attempts += 1
                try:
                    certificate = self._certify_on(url, blob, root, deadline)
                except ApiFailure as failure:
                    if failure.code in REFUSED_FOR_GOOD:
                        raise PayloadRefused(failure.code, failure.message) from failure
                    if failure.code == "too_many_requests" and failure.retry_after is not None:
                        waits.append(failure.retry_after)
                    last_failure = f"{url}: {failure}"
                    log.info("altda node failed", node=url, code=failure.code, error=failure.message)
                    continue
                except RegistryError as error:  # the check of its certificate could not be made
                    last_failure = f"{url}: certificate check failed: {type(error).__name__}"
                    log.warning("altda certificate check failed", node=url, error=str(error))
                    continue
                if certificate is not None:
                    return Certified(certificate, url, attempts)
                last_failure = f"{url}: no valid certificate"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DAUnavailable(
                    f"no verified certificate within {timeout_s:g} s "
                    f"({attempts} attempts; last: {last_failure})"
                )
            time.sleep(min(min(waits, default=ROUND_PAUSE_S), remaining))

    def _certify_on(self, url: str, blob: bytes, root: str, deadline: float) -> bytes | None:
        """Post to one validator and follow the blob there; the certificate once certified and
        verified here, None when it failed there, names another data root than `root` (0x-hex), or
        does not verify (`ApiFailure` from the node)."""
        node = NodeApiClient(url, timeout=min(REQUEST_TIMEOUT_S, max(deadline - time.monotonic(), 0.1)))
        if self._payer is None:
            posted = node.post_blob(blob, busy_timeout=0.0)
        else:
            posted, payment = self._payer.post(
                node, blob, data_root=bytes.fromhex(root.removeprefix("0x")), byte_length=len(blob)
            )
            if payment is not None:
                log.info(
                    "altda post paid", node=url, data_root=root, cumulative=str(payment.cumulative),
                    charged=payment.charged,
                )  # fmt: skip
        if posted.get("data_root") != root:
            log.warning(
                "altda node named another data root", node=url, data_root=root, named=posted.get("data_root")
            )
            return None
        status = node.wait_for_certificate(root, max(deadline - time.monotonic(), 0.0))
        if status["status"] != "certified":
            log.info("altda blob not certified", node=url, data_root=root, status=status["status"])
            return None
        certificate = node.get_certificate(root)
        return certificate if self._verified(url, root, certificate, deadline) else None

    def _verified(self, url: str, root: str, certificate: bytes, deadline: float) -> bool:
        """Whether `certificate` is of `root` and valid. A pending verdict (its epoch not known or
        committed yet, its quorum not published) is asked again until `deadline`: the certificate
        will do once the chain catches up, and posting the blob elsewhere would not help; still
        pending at the deadline, `DAUnavailable`."""
        try:
            certified_root = bytes_to_certificate(certificate).data_root
        except MalformedCertificate as error:
            log.warning("altda node served a malformed certificate", node=url, error=str(error))
            return False
        if "0x" + certified_root.hex() != root:
            log.warning("altda node served another blob's certificate", node=url, data_root=root)
            return False
        status = self._checker.check_certificate(certificate)
        while status in PENDING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DAUnavailable(f"the certificate of {root} from {url} is still {status.name}")
            log.info("altda certificate pending", node=url, data_root=root, status=status.name)
            time.sleep(min(PENDING_PAUSE_S, remaining))
            status = self._checker.check_certificate(certificate)
        if status is not CertificateStatus.VALID:
            log.warning("altda certificate not accepted", node=url, data_root=root, status=status.name)
            return False
        return True

    def fetch(self, data_root: DataRoot, accept: Callable[[bytes], T]) -> T:
        """`accept(bytes)` of the first validator's answer it does not refuse with `BlobMismatch`;
        `BlobNotFound` when no validator gives bytes of the blob. A node that answers more than the
        largest blob, or not all within the get timeout, has failed: the next is asked."""
        root = "0x" + data_root.hex()
        failures: list[str] = []
        for url in self.urls:
            try:
                blob = NodeApiClient(url, timeout=self._get_timeout_s).get_data(
                    root, limit=self._max_blob_bytes, total_s=self._get_timeout_s
                )
            except ApiFailure as failure:
                failures.append(f"{url}: {failure.code}")
                continue
            try:
                return accept(blob)
            except BlobMismatch as error:
                log.warning(
                    "altda node served bytes of another blob", node=url, data_root=root, error=str(error)
                )
                failures.append(f"{url}: wrong bytes")
        raise BlobNotFound(f"no validator gave the bytes of {root} ({'; '.join(failures)})")
