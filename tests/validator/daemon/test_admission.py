"""Admission control's arithmetic (validator.daemon.admission): below the bound every blob is taken;
at or past it the answer is a Retry-After in whole seconds, bounded both ways."""

from __future__ import annotations

import pytest

from validator.daemon.admission import (
    MAX_RETRY_AFTER_S,
    MIN_RETRY_AFTER_S,
    AdmissionPolicy,
    compute_retry_after,
    compute_upload_retry_after,
)
from validator.daemon.config import InvalidDaemonConfig


def test_below_the_bound_every_blob_is_admitted() -> None:
    policy = AdmissionPolicy(max_queued=3)
    assert [compute_retry_after(q, policy, 2.5) for q in range(3)] == [None, None, None]


def test_at_the_bound_the_wait_grows_with_the_blobs_ahead() -> None:
    policy = AdmissionPolicy(max_queued=3)
    assert compute_retry_after(3, policy, 2.5) == 3  # one blob ahead of the free place: ceil(2.5)
    assert compute_retry_after(5, policy, 2.5) == 8  # three ahead: ceil(7.5)


def test_the_wait_is_bounded_both_ways() -> None:
    policy = AdmissionPolicy(max_queued=1)
    assert compute_retry_after(1, policy, 0.0) == MIN_RETRY_AFTER_S  # no estimate yet: still >= 1 s
    assert compute_retry_after(1000, policy, 30.0) == MAX_RETRY_AFTER_S


def test_a_bound_below_one_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidDaemonConfig, match="max_queued_blobs"):
        AdmissionPolicy(max_queued=0)


def test_uploads_have_their_own_bound_so_raw_posts_are_refused_first() -> None:
    policy = AdmissionPolicy(max_queued=2, max_verifying=3)
    assert compute_retry_after(2, policy, 2.0) == 2  # the raw queue is full...
    assert compute_upload_retry_after(2, policy, 0.2) is None  # ...an upload is still checked
    assert compute_upload_retry_after(3, policy, 0.2) == MIN_RETRY_AFTER_S
    with pytest.raises(InvalidDaemonConfig, match="max_verifying_uploads"):
        AdmissionPolicy(max_verifying=0)
