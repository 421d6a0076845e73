"""The daemon's real handlers under forged input, each from a fresh libp2p identity: custody pushes,
attestations and certificates, with the result code the specs give and the sender's score as the node
reports it (`GET /v1/node/peers`); afterwards the node still serves samples to an honest peer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import trio

from da import encode_blob, verify_samples
from da.header import bytes_to_header
from da.kzg import PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.types import CellCoordinate, DataRoot, RowIndex
from network.config import NetworkConfig
from network.constants import SCORE_INVALID_DATA, ResultCode, compute_network_name
from network.errors import PublishFailed, RemoteError
from network.service import NetworkService, open_service
from network.types import PeerName, Verdict
from tests.devnet.helpers import api, http, post, quorum_of, signers_of
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.devnet import CHAIN_ID, Devnet
from validator.types import Attestation, Epoch, QuorumIndex, ValidatorIndex
from validator.wire import ATTESTATION_BYTES, attestation_to_bytes

pytestmark = pytest.mark.xdist_group("devnet")

GOSSIP_WAIT_S = 20.0
"""Bound on how long a gossip verdict may take to show in the node's scores."""


class AcceptEverything:
    """The attacker's own certificate validator: it forwards whatever it is told to."""

    def validate_certificate(self, data: bytes, now: float) -> Verdict:
        return Verdict.ACCEPT


def _score(devnet: Devnet, index: int, peer: str) -> float | None:
    status, body = http("GET", api(devnet, index) + "/v1/node/peers")
    assert status == 200, body
    scores = {p["peer_id"]: p["score"] for p in json.loads(body)["peers"]}
    return scores.get(peer)


async def _attacker(address: str, run: object) -> tuple[str, object]:
    """Run `run(service, peer)` from a fresh identity connected to the node at `address`."""
    config = NetworkConfig(network_name=compute_network_name(CHAIN_ID))
    async with open_service(config, certificate_validator=AcceptEverything()) as service:
        peer = await service.connect(address)
        outcome = await run(service, PeerName(peer))  # type: ignore[operator]
        return service.peer_id, outcome


def _answer_and_score(devnet: Devnet, node: int, send: object) -> object:
    """`send`'s answer (a verdict, or the result code of a refusal) and the sender's score at `node`,
    read while the sender is still connected (the node lists connected peers only)."""

    async def run(service: NetworkService, peer: PeerName) -> object:
        try:
            answer: object = await send(service, peer)  # type: ignore[operator]
        except RemoteError as error:
            answer = error.code
        score = await trio.to_thread.run_sync(_score, devnet, node, service.peer_id)
        return answer, score

    return run


def test_forged_input_gets_the_spec_verdicts_and_the_node_keeps_serving(
    devnet: Devnet, tmp_path: Path
) -> None:
    status, data, certificate_file = post(devnet, tmp_path, 128 * 1024, seed=2026)
    root = DataRoot(bytes.fromhex(status["data_root"][2:]))
    _, custody = quorum_of(devnet, status)
    # A member that signed: its own attestation is already counted at the aggregator (node 0).
    member = int(next(v for v in signers_of(devnet, status, certificate_file.read_bytes()) if v != 0))
    aggregator, member_info = devnet.node_info(0), devnet.node_info(member)
    assert aggregator is not None and member_info is not None
    _, header_bytes = http("GET", api(devnet, 0) + f"/v1/blobs/{status['data_root']}/header")
    header = bytes_to_header(header_bytes)
    kzg = load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING)
    encoded = encode_blob(data, kzg)
    cells = tuple(s for column in sorted(custody[ValidatorIndex(member)]) for s in encoded.get_column(column))
    epoch, quorum_index = Epoch(status["epoch"]), QuorumIndex(status["quorum"])

    async def custody_push(service: NetworkService, peer: PeerName) -> object:
        return await service.push_custody(peer, header, cells, epoch, quorum_index)

    async def garbage_attestation(service: NetworkService, peer: PeerName) -> object:
        return await service.send_attestation(peer, b"\xff" * (ATTESTATION_BYTES - 1))

    def forged_attestation(target_root: bytes, claimed: int) -> object:
        signature = bytes.fromhex("c0" + "00" * 95)  # the point at infinity: decodes, never verifies
        attestation = Attestation(
            epoch,
            quorum_index,
            DataRoot(target_root),
            ValidatorIndex(claimed),
            signature,  # type: ignore[arg-type]
        )

        async def send(service: NetworkService, peer: PeerName) -> object:
            return await service.send_attestation(peer, attestation_to_bytes(attestation))

        return send

    cases = [
        # (node, what, expected answer, expected score change)
        (member, custody_push, Verdict.IGNORE, 0.0),  # valid cells, but the sender is no validator
        (0, garbage_attestation, ResultCode.INVALID_REQUEST, SCORE_INVALID_DATA),  # does not decode
        # In the name of a validator outside the quorum: wrong whoever receives it.
        (0, forged_attestation(root, 99), ResultCode.INVALID_REQUEST, SCORE_INVALID_DATA),
        # In a member's name, which already signed: a duplicate is only redundant.
        (0, forged_attestation(root, member), Verdict.IGNORE, 0.0),
        (0, forged_attestation(hashlib.sha256(b"unknown").digest(), member), Verdict.IGNORE, 0.0),  # no blob
    ]
    for node, send, expected, penalty in cases:
        address = (aggregator if node == 0 else member_info)["addrs"][0]
        _, (answer, score) = trio.run(_attacker, address, _answer_and_score(devnet, node, send))  # type: ignore[misc]
        assert answer == expected, (send, answer)
        assert score is not None, "the node does not list the sender"
        if penalty:
            assert score <= penalty / 2, (send, score)  # about the penalty (less a good answer's reward)
        else:
            assert score >= 0, (send, score)  # IGNORE costs the sender nothing

    # A certificate of a root nobody certified (the genuine signature over another root), gossiped.
    genuine = bytes_to_certificate(certificate_file.read_bytes())
    fake_root = DataRoot(hashlib.sha256(b"forged root").digest())
    forged = certificate_to_bytes(dataclasses.replace(genuine, data_root=fake_root))

    async def gossip_forged(service: NetworkService, peer: PeerName) -> object:
        deadline = trio.current_time() + GOSSIP_WAIT_S
        last: object = "nothing published"
        while trio.current_time() < deadline:  # bounded: until the node has seen (and scored) it
            try:
                await service.publish_certificate(forged)
            except PublishFailed as error:  # no mesh peer yet: retry until the deadline
                last = error
            await trio.sleep(0.5)
            score = await trio.to_thread.run_sync(_score, devnet, member, service.peer_id)
            if score is not None and score < 0:
                return score
        return f"no verdict within {GOSSIP_WAIT_S} s (last: {last!r})"

    _, outcome = trio.run(_attacker, member_info["addrs"][0], gossip_forged)
    assert isinstance(outcome, float) and outcome < 0, outcome
    missing, _ = http("GET", api(devnet, member) + f"/v1/blobs/0x{fake_root.hex()}/certificate")
    assert missing == 404  # a REJECTed certificate is never stored

    # After all of it, an honest newcomer still gets verified samples from the member.
    columns = sorted(custody[ValidatorIndex(member)])[:4]
    coordinates = [CellCoordinate(RowIndex(0), column) for column in columns]

    async def honest(service: NetworkService, peer: PeerName) -> object:
        response = await service.request_samples(peer, root, coordinates)
        return [s for s in response.results if s is not None]

    _, samples = trio.run(_attacker, member_info["addrs"][0], honest)
    assert len(samples) == len(coordinates)  # type: ignore[arg-type]
    assert verify_samples(root, samples, kzg)  # type: ignore[arg-type]
