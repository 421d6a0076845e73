"""specs/p2p-interface.md agrees with the code: transport upgrades, constants, protocol ids, limits,
result codes, topics, gossip rules, and the relations between the scoring constants (asserted here,
not only stated there)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.pubsub.rpc_queue import OutBoundQueueSize

from da import EncodedBlob
from da.constants import MAX_ROWS_PER_BLOB, MAX_SUPPORTED_BLOB_BYTES
from da.types import BlobHeader, CellCoordinate, ColumnIndex, GridSample, KZGCommitment, RowIndex
from network import constants as c
from network import gossip_rules, transport
from network.config import NetworkConfig
from network.constants import ResultCode
from network.messages import (
    CustodyPush,
    GridSamplesRequest,
    GridSamplesResponse,
    SamplesRequest,
    SamplesResponse,
    custody_push_to_bytes,
    grid_samples_response_to_bytes,
    samples_request_to_bytes,
    samples_response_to_bytes,
)
from network.scoring import Offence, ScoreBook
from network.server import RequestServer, ServerPorts
from tests.da.test_spec_das_core import evaluate_integer_expression, get_section, parse_constant_tables
from tests.network.conftest import FAST, DictSampleStore, PrefixAttestationSink

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "p2p-interface.md"


def _evaluate(text: str) -> int:
    """An integer expression of the spec, where a leading minus sign marks a penalty."""
    text = text.strip()
    return (
        -evaluate_integer_expression(text[1:]) if text.startswith("-") else evaluate_integer_expression(text)
    )


@pytest.fixture(scope="module")
def spec() -> str:
    if not SPEC_PATH.is_file():
        pytest.fail(f"{SPEC_PATH} is missing: it is the normative home of the p2p constants")
    return SPEC_PATH.read_text(encoding="utf-8")


def _table_rows(section: str, header: str) -> list[list[str]]:
    """The rows of the markdown table in `section` whose header line starts with `header`."""
    rows: list[list[str]] = []
    inside = False
    for line in section.splitlines():
        if line.startswith(header):
            inside = True
            continue
        if inside and not line.startswith("|"):
            break
        if inside and not set(line) <= set("|- :"):
            rows.append([cell.strip().strip("`") for cell in line.strip().strip("|").split("|")])
    if not rows:
        pytest.fail(f"no table starting {header!r} in {SPEC_PATH.name}")
    return rows


def _integer_constants() -> dict[str, int]:
    return {
        name: value
        for name, value in vars(c).items()
        if name.isupper() and isinstance(value, int) and not isinstance(value, bool | ResultCode)
    }


def test_constants_tables_equal_the_code_both_ways(spec: str) -> None:
    rows = parse_constant_tables(get_section(spec, "Constants"))
    values = {name: _evaluate(text) for name, text in rows.items()}
    code = _integer_constants()
    assert sorted(set(values) - set(code)) == [], "spec constants missing from network.constants"
    assert sorted(set(code) - set(values)) == [], "network.constants missing from the spec's tables"
    assert {name: (values[name], code[name]) for name in values if values[name] != code[name]} == {}


def test_protocol_ids_and_request_limits_equal_the_server(spec: str) -> None:
    rows = _table_rows(get_section(spec, "Protocol ids"), "| Protocol |")
    server = RequestServer(
        FAST,
        ServerPorts(
            samples=DictSampleStore(),
            grid_samples=object(),  # type: ignore[arg-type]
            headers=DictSampleStore(),
            custody=object(),  # type: ignore[arg-type]
            attestations=PrefixAttestationSink(max_attestation_bytes=c.MAX_ATTESTATION_BYTES),
        ),
        guard=None,  # type: ignore[arg-type]
    )
    documented = {row[0]: getattr(c, row[3]) for row in rows}
    assert set(documented) == set(c.REQUEST_PROTOCOLS) == set(server.protocols)
    assert documented == {protocol: limit for protocol, (limit, _) in server.protocols.items()}


def test_transport_table_equals_what_a_host_negotiates(spec: str) -> None:
    rows = {row[0]: row[1] for row in _table_rows(get_section(spec, "Transport"), "| Layer |")}
    assert [name.strip() for name in rows["Security"].split(",")] == list(transport.SECURITY_PROTOCOLS)
    assert [name.strip() for name in rows["Multiplexer"].split(",")] == list(transport.MUXER_PROTOCOLS)
    assert [str(key) for key in transport.security_options(create_new_key_pair())] == list(
        transport.SECURITY_PROTOCOLS
    )
    assert [str(key) for key in transport.muxer_options()] == list(transport.MUXER_PROTOCOLS)


def test_result_codes_equal_the_enum(spec: str) -> None:
    rows = _table_rows(get_section(spec, "Framing and result codes"), "| Code |")
    assert {int(row[0]): row[1] for row in rows} == {code.value: code.name for code in ResultCode}


def test_topics_equal_the_templates(spec: str) -> None:
    rows = _table_rows(get_section(spec, "Gossip topics"), "| Topic |")
    templates = {value for name, value in vars(c).items() if name.startswith("TOPIC_")}
    assert {row[0] for row in rows} == templates == {c.TOPIC_CERTIFICATE_TEMPLATE}
    topics = {template.format(network="devnet") for template in templates}
    assert topics == {NetworkConfig().certificate_topic}
    assert f'MESSAGE_ID_DOMAIN = b"{gossip_rules.MESSAGE_ID_DOMAIN.decode()}"' in spec
    assert f'NETWORK_NAME_TEMPLATE = "{c.NETWORK_NAME_TEMPLATE}"' in spec
    assert c.compute_network_name(31337) == "tessera-31337"


def _spec_rules(section: str, topic: str) -> list[str]:
    text = section.split(f"### `{topic}`", 1)[1].split("###", 1)[0]
    return [line[2:].strip() for line in text.splitlines() if line.startswith("- [")]


def _spec_rule_topics(section: str) -> set[str]:
    return set(re.findall(r"^### `(\w+)`$", section, flags=re.MULTILINE))


def _code_rules(function: object) -> list[str]:
    source = inspect.getsource(function)  # type: ignore[arg-type]
    return [m.group(1).strip() for m in re.finditer(r"# (\[(?:IGNORE|REJECT)\].*)", source)]


def test_gossip_rules_are_the_code_comments_one_for_one(spec: str) -> None:
    section = get_section(spec, "Gossip validation")
    validators = {
        name.removeprefix("compute_").removesuffix("_message_judgement"): function
        for name, function in inspect.getmembers(gossip_rules, inspect.isfunction)
        if name.startswith("compute_") and name.endswith("_message_judgement")
    }
    assert _spec_rule_topics(section) == set(validators) == {"certificate"}
    for topic, function in validators.items():
        rules = _spec_rules(section, topic)
        assert rules, f"no rules under {topic!r}"
        assert rules == _code_rules(function)
        assert all(rule.startswith(("[IGNORE]", "[REJECT]")) for rule in rules)


# --- Relations between constants ---------------------------------------------------------------


def test_max_byte_limits_are_the_encodings_at_their_ssz_limits(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    sample = blob.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(0)))
    widest = BlobHeader(
        MAX_SUPPORTED_BLOB_BYTES, MAX_ROWS_PER_BLOB, (KZGCommitment(b"\xc0" + bytes(47)),) * MAX_ROWS_PER_BLOB
    )
    coordinates = tuple(CellCoordinate(RowIndex(0), ColumnIndex(i)) for i in range(c.MAX_SAMPLES_PER_REQUEST))
    assert (
        len(samples_request_to_bytes(SamplesRequest(blob.data_root, coordinates)))
        == c.SAMPLES_REQUEST_MAX_BYTES
    )
    full = SamplesResponse((sample,) * c.MAX_SAMPLES_PER_REQUEST)
    assert len(samples_response_to_bytes(full)) == c.SAMPLES_RESPONSE_MAX_BYTES
    grid_sample = GridSample(sample.row, sample.column, sample.cell, sample.proof)
    grid_full = GridSamplesResponse((grid_sample,) * c.MAX_SAMPLES_PER_REQUEST)
    assert len(grid_samples_response_to_bytes(grid_full)) == c.GRID_SAMPLES_RESPONSE_MAX_BYTES
    grid_request = GridSamplesRequest(blob.data_root, coordinates)
    assert len(samples_request_to_bytes(grid_request)) == c.GRID_SAMPLES_REQUEST_MAX_BYTES
    push = CustodyPush(widest, (sample,) * c.MAX_CUSTODY_SAMPLES_PER_PUSH)
    assert len(custody_push_to_bytes(push)) == c.CUSTODY_PUSH_MAX_BYTES


@pytest.mark.parametrize(
    ("offence", "bans_after"),
    [
        (Offence.OVERSIZE_MESSAGE, 1),
        (Offence.INVALID_DATA, 1),
        (Offence.MALFORMED_MESSAGE, 2),
        (Offence.GOSSIP_REJECT, 3),
    ],
)
def test_how_many_offences_ban_a_fresh_peer(offence: Offence, bans_after: int) -> None:
    book = ScoreBook()
    banned_at = [book.penalize("p", offence, 0.0).newly_banned for _ in range(bans_after)]
    assert banned_at == [False] * (bans_after - 1) + [True]


def test_pacing_stays_under_the_libraries_drop_points() -> None:
    assert OutBoundQueueSize == 32, "py-libp2p's outbound queue changed size: revisit the high-water mark"
    assert OutBoundQueueSize > c.GOSSIP_PUBLISH_QUEUE_HIGH_WATER
    assert NetworkConfig().publish_rate_per_second < c.GOSSIP_MAX_MESSAGES_PER_TOPIC_PER_SECOND


def test_bounds_relations_hold() -> None:
    """The relations the spec states for the connection and gossip budget constants."""
    assert 10 * c.SCORE_GOSSIP_FLOOD <= c.SCORE_BAN_THRESHOLD
    assert c.GOSSIP_IGNORED_BURST > c.GOSSIP_IGNORED_PER_PEER_PER_SECOND
    assert c.MAX_UNPROTECTED_CONNECTIONS_PER_IP <= c.MAX_UNPROTECTED_CONNECTIONS < c.MAX_SOCKETS
    assert c.IDLE_CONNECTION_SECONDS > c.MAINTENANCE_SECONDS
    NetworkConfig().validate()  # the defaults satisfy their own checks
