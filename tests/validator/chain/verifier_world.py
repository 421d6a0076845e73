"""The chain the verifier tests share: six validators with ballots for three epochs, a deployed
`TesseraVerifier` with epochs 0 and 1 committed and published, and certificates of its quorums."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from web3 import Web3

from da.types import DataRoot
from validator.certificate import CertificateStatus, bytes_to_certificate, verify_certificate
from validator.errors import MalformedCertificate
from validator.keys import BLSSignature, aggregate_signatures
from validator.presets import DEVNET
from validator.quorums import compute_quorums
from validator.registry.chain.anvil import Anvil
from validator.registry.chain.verifier import ChainVerifier, deploy_verifier
from validator.signing import compute_attestation_signing_root
from validator.types import Certificate, Epoch, EpochContext, Quorum, QuorumIndex

from .registry_network import KEYS, Network, cast_ballots, deployer, register

SLOTS = [4, 3, 3, 2, 2, 3]
"""Slots per validator: 17 in epoch 0 (two quorums of 8 and one slot left over), 14 in epoch 1
(validator 5 does not vote: one quorum and six left over)."""
S = CertificateStatus


@dataclass
class World:
    net: Network
    verifier: ChainVerifier
    contexts: dict[int, EpochContext]

    def quorum(self, epoch: int, index: int) -> Quorum:
        return compute_quorums(self.contexts[epoch], DEVNET)[index]


def build_world(anvil: Anvil, web3: Web3) -> World:
    """Six validators; ballots for epochs 0 (all), 1 (all but validator 5) and 2 (all); the chain in
    epoch 2; epochs 0 and 1 committed and every quorum of them published."""
    net = deployer(anvil, web3)(genesis_in=60, accounts=6)
    for i, slots in enumerate(SLOTS):
        register(net.registry(i), KEYS[i], slots=slots)
    cast_ballots(net, dict(enumerate(KEYS[:6])), Epoch(0))
    net.to_epoch(0)
    cast_ballots(net, dict(enumerate(KEYS[:5])), Epoch(1))
    net.to_epoch(1)
    cast_ballots(net, dict(enumerate(KEYS[:6])), Epoch(2))
    net.to_epoch(2)
    address = deploy_verifier(net.rpc_url, net.deployer, net.address)
    verifier = ChainVerifier(net.rpc_url, address, account=net.accounts[0])
    reader = net.registry()
    contexts = {e: reader.get_epoch_context(Epoch(e)) for e in range(3)}
    for epoch in (0, 1):
        for quorum in compute_quorums(contexts[epoch], DEVNET):
            verifier.prepare(contexts[epoch], quorum)
    return World(net, verifier, contexts)


def sign(members: list[int], epoch: int, quorum: int, root: DataRoot, chain_id: int) -> BLSSignature:
    message = compute_attestation_signing_root(chain_id, Epoch(epoch), QuorumIndex(quorum), root)
    return aggregate_signatures([KEYS[m].sign(message) for m in members])


def certificate_of(world: World, epoch: int, index: int, signing: list[int]) -> Certificate:
    """A certificate of quorum `index` of `epoch` signed by those of `signing` that are members."""
    quorum = world.quorum(epoch, index)
    signing = [m for m in signing if m in quorum.members]
    root = DataRoot(hashlib.sha256(b"blob %d %d" % (epoch, index)).digest())
    chain_id = world.net.web3.eth.chain_id
    return Certificate(
        data_root=root,
        epoch=Epoch(epoch),
        quorum=QuorumIndex(index),
        signers=tuple(slot.validator in signing for slot in quorum.slots),
        signature=sign(signing, epoch, index, root, chain_id),
    )


def offline(world: World, data: bytes) -> CertificateStatus:
    """What `das cert verify` concludes: decode, then verify_certificate against the epoch's context."""
    try:
        certificate = bytes_to_certificate(data)
    except MalformedCertificate:
        return S.MALFORMED
    context = world.net.registry().get_epoch_context(certificate.epoch)
    return verify_certificate(certificate, context, DEVNET).status
