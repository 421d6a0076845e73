"""Admission control for posted blobs (pure): a node takes a blob only while its encode-and-disperse
queue is below a bound, and otherwise tells the sequencer when to come back (HTTP 429, Retry-After).

Past the bound every further blob would only wait longer, and a node that encodes without pause
answers its peers late; refusing early with a time to retry keeps the node out of overload and
loses nothing, since a refused post was never accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from validator.daemon.config import InvalidDaemonConfig

MIN_RETRY_AFTER_S = 1
MAX_RETRY_AFTER_S = 120


@dataclass(frozen=True, slots=True)
class AdmissionPolicy:
    """`max_queued`: raw blobs accepted but not yet encoded that a node holds at most;
    `max_verifying`: pre-encoded uploads it checks at once. The two bounds are apart, so raw posts
    (the node's encoding, ~15 x the work) are the ones refused first: a queue of them never holds
    back an upload that only needs verifying."""

    max_queued: int = 8
    max_verifying: int = 4

    def __post_init__(self) -> None:
        if self.max_queued < 1:
            raise InvalidDaemonConfig("max_queued_blobs", "must be >= 1")
        if self.max_verifying < 1:
            raise InvalidDaemonConfig("max_verifying_uploads", "must be >= 1")


def compute_retry_after(queued: int, policy: AdmissionPolicy, mean_encode_s: float) -> int | None:
    """None when a blob posted now is admitted (fewer than `max_queued` queued); otherwise the whole
    seconds after which one queue place is likely free: the blobs ahead of that place times the mean
    encoding time, between `MIN_RETRY_AFTER_S` and `MAX_RETRY_AFTER_S`."""
    if queued < policy.max_queued:
        return None
    ahead = queued - policy.max_queued + 1
    estimate = math.ceil(ahead * max(mean_encode_s, 0.0))
    return max(MIN_RETRY_AFTER_S, min(MAX_RETRY_AFTER_S, estimate))


def compute_upload_retry_after(verifying: int, policy: AdmissionPolicy, mean_verify_s: float) -> int | None:
    """`compute_retry_after` for pre-encoded uploads: None while fewer than `max_verifying` are being
    checked, else the whole seconds until one check is likely done."""
    return compute_retry_after(verifying, AdmissionPolicy(policy.max_verifying), mean_verify_s)
