"""Pure rules: gossip validation (tri-state, time as a parameter), scoring, pacing, config."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from network import constants as c
from network.backoff import BackoffBook, BackoffParams
from network.config import NetworkConfig
from network.errors import InvalidNetworkConfig
from network.gossip_rules import compute_certificate_message_judgement, compute_message_id
from network.pacing import TokenBucket
from network.scoring import Offence, PeerScore, ScoreBook, ScoreParams, compute_decayed_value
from network.types import Verdict

NOW = 1_800_000_000.0


class FixedValidator:
    """A certificate validator that answers a fixed verdict and records what it saw."""

    def __init__(self, verdict: object) -> None:
        self.verdict = verdict
        self.seen: list[tuple[bytes, float]] = []

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        self.seen.append((data, now))
        return self.verdict  # type: ignore[return-value]


# --- Certificate gossip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("verdict", list(Verdict))
def test_certificate_verdict_comes_from_the_pluggable_validator(verdict: Verdict) -> None:
    validator = FixedValidator(verdict)
    assert compute_certificate_message_judgement(b"cert", NOW, validator).verdict is verdict
    assert validator.seen == [(b"cert", NOW)]


def test_certificate_size_and_missing_validator_rules() -> None:
    validator = FixedValidator(Verdict.ACCEPT)
    assert compute_certificate_message_judgement(b"", NOW, validator).verdict is Verdict.REJECT
    assert (
        compute_certificate_message_judgement(
            b"x" * (c.MAX_CERTIFICATE_MESSAGE_BYTES + 1), NOW, validator
        ).verdict
        is Verdict.REJECT
    )
    assert validator.seen == []
    assert compute_certificate_message_judgement(b"x", NOW, None).verdict is Verdict.IGNORE
    assert compute_certificate_message_judgement(b"x", NOW, FixedValidator(True)).verdict is Verdict.IGNORE


@given(
    data=st.binary(max_size=c.MAX_CERTIFICATE_MESSAGE_BYTES + 8),
    now=st.floats(0, 2**40),
    answer=st.sampled_from(list(Verdict)),
)
def test_certificate_rule_is_size_then_the_validators_verdict(
    data: bytes, now: float, answer: Verdict
) -> None:
    validator = FixedValidator(answer)
    judgement = compute_certificate_message_judgement(data, now, validator)
    if 1 <= len(data) <= c.MAX_CERTIFICATE_MESSAGE_BYTES:
        assert judgement.verdict is answer and validator.seen == [(data, now)]
    else:
        assert judgement.verdict is Verdict.REJECT and validator.seen == []


def test_message_id_is_a_content_hash_bound_to_its_topic() -> None:
    first = compute_message_id("/tessera/devnet/certificate/1/ssz", b"abc")
    assert len(first) == c.GOSSIP_MESSAGE_ID_BYTES
    assert first == compute_message_id("/tessera/devnet/certificate/1/ssz", b"abc")
    assert first != compute_message_id("/tessera/devnet/certificate/1/ssz", b"abd")
    assert first != compute_message_id("/tessera/tessera-1/certificate/1/ssz", b"abc")


# --- Scoring --------------------------------------------------------------------------------------------


def test_two_malformed_messages_ban_a_peer_one_does_not() -> None:
    book = ScoreBook()
    first = book.penalize("p", Offence.MALFORMED_MESSAGE, NOW)
    assert not first.newly_banned and not book.is_banned("p", NOW)
    second = book.penalize("p", Offence.MALFORMED_MESSAGE, NOW + 1)
    assert second.newly_banned and book.is_banned("p", NOW + 1)
    assert not book.is_banned("p", NOW + 1 + c.BAN_SECONDS)
    assert book.value("other", NOW) == 0


def test_oversize_bans_at_once_and_a_timeout_is_not_an_offence() -> None:
    book = ScoreBook()
    assert book.penalize("big", Offence.OVERSIZE_MESSAGE, NOW).newly_banned
    assert "TIMEOUT" not in Offence.__members__  # slow peers are backed off from (network.backoff)


def test_backoff_doubles_per_timeout_up_to_the_cap_and_an_answer_ends_it() -> None:
    book = BackoffBook(BackoffParams(base_seconds=0.5, max_seconds=4.0))
    pauses = [book.timed_out("slow", NOW).until - NOW for _ in range(6)]
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert book.remaining("slow", NOW + 1.0) == 3.0
    assert book.remaining("slow", NOW + 10.0) == 0.0
    book.answered("slow")
    assert book.remaining("slow", NOW) == 0.0
    assert book.timed_out("slow", NOW).until - NOW == 0.5  # counting starts again
    assert book.remaining("never-slow", NOW) == 0.0


def test_backoff_params_validation_names_the_field() -> None:
    with pytest.raises(InvalidNetworkConfig, match="backoff_base_seconds"):
        BackoffParams(base_seconds=0).validate()
    with pytest.raises(InvalidNetworkConfig, match="backoff_max_seconds"):
        BackoffParams(base_seconds=2, max_seconds=1).validate()


def test_scores_decay_by_half_life_and_good_answers_are_capped() -> None:
    score = PeerScore(value=-40.0, updated_at=NOW)
    assert compute_decayed_value(score, NOW + c.SCORE_HALF_LIFE_SECONDS, c.SCORE_HALF_LIFE_SECONDS) == -20.0
    assert compute_decayed_value(score, NOW - 10, c.SCORE_HALF_LIFE_SECONDS) == -40.0
    book = ScoreBook()
    for step in range(100):
        book.reward("good", NOW + step)
    assert book.value("good", NOW + 99) == pytest.approx(c.SCORE_MAX, rel=0.01)
    # A peer with a good history needs more offences before it is banned.
    assert not book.penalize("good", Offence.MALFORMED_MESSAGE, NOW + 100).newly_banned
    assert not book.penalize("good", Offence.MALFORMED_MESSAGE, NOW + 100).newly_banned
    assert book.penalize("good", Offence.MALFORMED_MESSAGE, NOW + 100).newly_banned


def test_score_params_validation_names_the_field() -> None:
    with pytest.raises(InvalidNetworkConfig, match="ban_threshold"):
        ScoreParams(ban_threshold=1).validate()
    with pytest.raises(InvalidNetworkConfig, match="penalties"):
        ScoreParams(penalties={Offence.INVALID_DATA: -1}).validate()
    with pytest.raises(InvalidNetworkConfig, match=r"penalties\[invalid_data\]"):
        ScoreParams(penalties={**ScoreParams().penalties, Offence.INVALID_DATA: 1}).validate()


# --- Pacing ---------------------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    bucket = TokenBucket(rate=100.0, burst=3)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve(0.0) == pytest.approx(0.01)
    assert bucket.reserve(0.0) == pytest.approx(0.02)
    assert bucket.reserve(1.0) == 0.0  # a second later the debt is paid and the bucket refilled


@given(rate=st.floats(1, 1e4), times=st.lists(st.floats(0, 100), min_size=1, max_size=50))
def test_token_bucket_never_exceeds_its_rate(rate: float, times: list[float]) -> None:
    bucket = TokenBucket(rate=rate, burst=1)
    starts = []
    for now in sorted(times):
        starts.append(now + bucket.reserve(now))
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier >= 1 / rate - 1e-6


# --- Configuration ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"listen_addrs": ("not a multiaddr",)}, "listen_addrs"),
        ({"listen_addrs": ()}, "listen_addrs"),
        ({"bootstrap_peers": ("/ip4/127.0.0.1/tcp/1",)}, "bootstrap_peers"),
        ({"network_name": "dev net"}, "network_name"),
        ({"response_timeout": 0}, "response_timeout"),
        ({"max_concurrent_requests_per_peer": 0}, "max_concurrent_requests_per_peer"),
        ({"gossip_degree_low": 7}, "gossip_degree"),
        ({"publish_rate_per_second": 5000.0}, "publish_rate_per_second"),
    ],
)
def test_config_validation_names_the_bad_field(change: dict[str, object], field: str) -> None:
    config = dataclasses.replace(NetworkConfig(), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidNetworkConfig) as info:
        config.validate()
    assert info.value.field == field


def test_default_config_is_loopback_with_os_chosen_port_and_named_topics() -> None:
    config = NetworkConfig().validate()
    assert config.listen_addrs == ("/ip4/127.0.0.1/tcp/0",)
    assert config.certificate_topic == "/tessera/devnet/certificate/1/ssz"
