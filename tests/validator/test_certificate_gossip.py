"""Certificate gossip validation: every rule of specs/validator.md (Certificate gossip validation) has a
case here, with the verdict its tag names; the code's rule comments are the spec's rules one for one.

Nothing is mocked: a SQLite registry in tmp_path with seeded blspy keys and genesis ballots, and a
certificate aggregated from real attestations (the light-client test helpers build both). Every case
runs against the registry directly (what the daemon passes), through a `RegistryView` (what the light
client passes) and through `RegistryCertificateValidator`, and must get the same verdict from all three.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from da.types import DataRoot
from network.types import Judgement, Verdict
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from tests.da.test_spec_das_core import get_section
from tests.sampling.client.conftest import CHAIN_ID, certify, create_registry, make_key
from validator import certificate_gossip
from validator.certificate import (
    CERTIFICATE_FIXED_BYTES,
    MAX_CERTIFICATE_SSZ_BYTES,
    bytes_to_certificate,
    certificate_to_bytes,
)
from validator.certificate_gossip import compute_certificate_judgement
from validator.keys import BLSSignature, SecretKey, aggregate_signatures
from validator.quorums import compute_quorums
from validator.registry.sqlite import SqliteRegistry
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, Quorum, QuorumIndex, ValidatorIndex

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "validator.md"
SECTION = "Certificate gossip validation"
ROOT = DataRoot(b"\x5a" * 32)
OTHER_ROOT = DataRoot(b"\xa5" * 32)
OUTSIDER = SecretKey.from_seed(b"\x07" * 32)
NOT_A_POINT = BLSSignature(b"\x00" * 96)
SIZE = "size out of range"

RULES = {
    "size": "MAX_CERTIFICATE_SSZ_BYTES bytes",
    "decode": "decodes to a certificate",
    "epoch": "registry gives the context",
    "quorum": "quorum exists",
    "bitfield": "one bit per slot",
    "members": "all marked or all unmarked",
    "threshold": "certificate_threshold",
    "signature": "aggregate signature",
}
"""Each spec rule by a short key: the phrase that identifies it in the spec's rule list."""


@dataclass(frozen=True)
class Net:
    """A devnet registry of 4 validators x 2 slots (one quorum of 8, threshold 6) and a certificate."""

    path: Path
    registry: SqliteRegistry
    quorum: Quorum
    genuine: bytes

    @property
    def certificate(self) -> Certificate:
        return bytes_to_certificate(self.genuine)

    def signed_by(self, members: list[ValidatorIndex], *, root: DataRoot = ROOT) -> bytes:
        """A certificate of quorum 0 whose bitfield and signature are exactly `members`'."""
        message = compute_attestation_signing_root(CHAIN_ID, self.quorum.epoch, self.quorum.index, root)
        return certificate_to_bytes(
            replace(
                self.certificate,
                data_root=root,
                signers=tuple(slot.validator in members for slot in self.quorum.slots),
                signature=aggregate_signatures([make_key(m).sign(message) for m in members]),
            )
        )

    def changed(self, **fields: object) -> bytes:
        """The genuine certificate with some fields replaced, re-encoded."""
        return certificate_to_bytes(replace(self.certificate, **fields))  # type: ignore[arg-type]

    def signers(self) -> list[ValidatorIndex]:
        certificate = self.certificate
        return [m for m in self.quorum.members if certificate.signers[self.quorum.slots_of(m)[0]]]


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    path = tmp_path_factory.mktemp("certificate-gossip") / "registry.sqlite"
    with create_registry(path, "devnet", validators=4, slots=2) as registry:
        (quorum,) = compute_quorums(registry.get_epoch_context(Epoch(0)), registry.preset)
        yield Net(path, registry, quorum, certify(registry, quorum, ROOT))


def test_setup_is_one_quorum_of_multi_slot_members(net: Net) -> None:
    assert len(net.quorum.slots) == 8 and len(net.quorum.members) == 4
    assert all(len(net.quorum.slots_of(m)) == 2 for m in net.quorum.members)
    assert net.registry.preset.certificate_threshold(8) == 6
    assert net.certificate.signed_slots == 6 and len(net.signers()) == 3
    assert net.registry.current_epoch() == 0
    assert CERTIFICATE_FIXED_BYTES + 1 <= len(net.genuine) <= MAX_CERTIFICATE_SSZ_BYTES


# --- The cases: one or more per rule ---------------------------------------------------------------


def _partly_marked(net: Net) -> bytes:
    signers = list(net.certificate.signers)
    signers[net.quorum.slots_of(net.signers()[0])[1]] = False
    return net.changed(signers=tuple(signers))


def _foreign_signature(net: Net) -> bytes:
    message = compute_attestation_signing_root(CHAIN_ID, Epoch(0), QuorumIndex(0), ROOT)
    return net.changed(signature=OUTSIDER.sign(message))


def _other_signers_signature(net: Net) -> bytes:
    signers = net.signers()
    others = [m for m in net.quorum.members if m not in signers] + signers[1:]
    return net.changed(signature=bytes_to_certificate(net.signed_by(others)).signature)


CASES: list[tuple[str, str, Callable[[Net], bytes], str]] = [
    # (rule, case, payload, a fragment of the judgement's reason)
    ("size", "empty", lambda net: b"", SIZE),
    ("size", "garbage-short", lambda net: b"not a certificate", SIZE),
    ("size", "truncated-to-fixed-part", lambda net: net.genuine[:CERTIFICATE_FIXED_BYTES], SIZE),
    ("size", "truncated-to-100", lambda net: net.genuine[:100], SIZE),
    ("size", "padded-past-limit", lambda net: net.genuine + bytes(40), SIZE),
    ("size", "oversize-garbage", lambda net: b"\xff" * (MAX_CERTIFICATE_SSZ_BYTES + 1), SIZE),
    ("decode", "garbage-in-range", lambda net: b"\xab" * 160, "malformed: signers offset"),
    ("decode", "padded-with-zero", lambda net: net.genuine + b"\x00", "delimiter"),
    ("decode", "bitlist-over-limit", lambda net: net.genuine[:148] + bytes(32) + b"\x02", "at most"),
    ("epoch", "epoch-not-reached", lambda net: net.changed(epoch=Epoch(2)), "unknown here"),
    ("epoch", "epoch-far-future", lambda net: net.changed(epoch=Epoch(2**64 - 1)), "unknown here"),
    ("quorum", "unknown-quorum", lambda net: net.changed(quorum=QuorumIndex(1)), "does not exist"),
    ("quorum", "huge-quorum", lambda net: net.changed(quorum=QuorumIndex(2**64 - 1)), "does not exist"),
    ("bitfield", "truncated-by-one", lambda net: net.genuine[:-1], "signer bitfield has"),
    ("bitfield", "padded-with-one", lambda net: net.genuine + b"\x01", "signer bitfield has"),
    ("bitfield", "bit-short", lambda net: net.changed(signers=net.certificate.signers[:-1]), "bitfield"),
    ("members", "partly-marked", _partly_marked, "partly marked"),
    ("threshold", "one-signer-short", lambda net: net.signed_by(net.signers()[:-1]), "needed"),
    ("threshold", "no-signer", lambda net: net.changed(signers=(False,) * 8), "needed"),
    ("signature", "foreign-signature", _foreign_signature, "does not verify"),
    ("signature", "another-data-root", lambda net: net.changed(data_root=OTHER_ROOT), "does not verify"),
    ("signature", "signature-of-other-signers", _other_signers_signature, "does not verify"),
    ("signature", "not-a-g2-point", lambda net: net.changed(signature=NOT_A_POINT), "does not verify"),
]


def _judge_all_ways(net: Net, data: bytes) -> Judgement:
    """The daemon's call, the light client's call through its view, and its validator: one verdict."""
    direct = compute_certificate_judgement(data, net.registry, net.registry.preset)
    view = RegistryView(net.registry)
    through_view = compute_certificate_judgement(data, view, view.preset)
    assert through_view == direct
    assert RegistryCertificateValidator(view).validate_certificate(data, now=0.0) is direct.verdict
    return direct


def test_a_genuine_certificate_is_accepted(net: Net) -> None:
    judgement = _judge_all_ways(net, net.genuine)
    assert judgement.verdict is Verdict.ACCEPT
    assert "6 of 8 slots signed" in judgement.reason


@pytest.mark.parametrize(("rule", "case", "payload", "reason"), CASES, ids=[c[1] for c in CASES])
def test_each_case_is_judged_by_its_rule(
    net: Net, rule: str, case: str, payload: Callable[[Net], bytes], reason: str
) -> None:
    data = payload(net)
    assert data != net.genuine
    judgement = _judge_all_ways(net, data)
    expected = Verdict.IGNORE if _spec_rule(rule).startswith("[IGNORE]") else Verdict.REJECT
    assert judgement.verdict is expected, judgement.reason
    assert reason in judgement.reason


def test_an_ignored_epoch_is_judged_once_the_registry_reaches_it(net: Net) -> None:
    """IGNORE means "not yet": a registry whose clock is two epochs on gives epoch 2 and REJECTs."""
    data = net.changed(epoch=Epoch(2))
    assert compute_certificate_judgement(data, net.registry, net.registry.preset).verdict is Verdict.IGNORE
    info = net.registry.get_info()
    later = info.genesis_time + 2 * info.epoch_seconds + 1.0
    with SqliteRegistry(net.path, clock=lambda: later) as ahead:
        judgement = compute_certificate_judgement(data, ahead, ahead.preset)
    assert judgement.verdict is Verdict.REJECT  # epoch 2 has no ballots, hence no quorum 0
    assert "does not exist" in judgement.reason
    still = compute_certificate_judgement(net.genuine, net.registry, net.registry.preset)
    assert still.verdict is Verdict.ACCEPT


# --- The spec's rule list ---------------------------------------------------------------------------


def _spec_rules() -> list[str]:
    if not SPEC_PATH.is_file():
        pytest.fail(f"{SPEC_PATH} is missing")
    section = get_section(SPEC_PATH.read_text(encoding="utf-8"), SECTION)
    rules = [line[2:].strip() for line in section.splitlines() if line.startswith("- [")]
    if not rules:
        pytest.fail(f"'## {SECTION}' of {SPEC_PATH.name} lists no rules")
    return rules


def _spec_rule(key: str) -> str:
    (rule,) = [rule for rule in _spec_rules() if RULES[key] in rule]
    return rule


def _code_rules() -> list[str]:
    source = inspect.getsource(certificate_gossip.compute_certificate_judgement)
    return [m.group(1).strip() for m in re.finditer(r"# (\[(?:IGNORE|REJECT)\].*)", source)]


def test_spec_rules_are_the_code_comments_one_for_one() -> None:
    rules = _spec_rules()
    assert rules == _code_rules()
    assert all(rule.startswith(("[IGNORE] ", "[REJECT] ")) for rule in rules)
    assert [rule for rule in rules if rule.startswith("[IGNORE]")] == [_spec_rule("epoch")]


def test_every_spec_rule_has_a_key_and_a_case() -> None:
    rules = _spec_rules()
    for rule in rules:
        keys = [key for key, phrase in RULES.items() if phrase in rule]
        assert len(keys) == 1, f"rule {rule!r} matches keys {keys} (want exactly one)"
    assert sorted(_spec_rule(key) for key in RULES) == sorted(rules)
    covered = {rule for rule, *_ in CASES}
    assert covered == set(RULES), f"rules without a case: {set(RULES) - covered}"
    assert len({case for _, case, *_ in CASES}) == len(CASES)
