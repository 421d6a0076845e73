"""Gossip validation rules (pure): tri-state verdicts that take the time as a parameter (no clock).

Each rule is one `Judgement` with a comment naming it as in `specs/p2p-interface.md`. py-libp2p topic
validators can only accept or reject; `network.gossip` maps ACCEPT to accept, IGNORE and REJECT to
reject, and penalizes the forwarding peer for REJECT only.
"""

from __future__ import annotations

import hashlib

from network.constants import GOSSIP_MESSAGE_ID_BYTES, MAX_CERTIFICATE_MESSAGE_BYTES
from network.ports import CertificateValidator
from network.types import Judgement, MessageId, Verdict

MESSAGE_ID_DOMAIN = b"tessera-gossip-v1"
"""Domain separator of gossip message ids."""


def compute_message_id(topic: str, data: bytes) -> MessageId:
    """The content-hash message id: SHA-256(domain || len(topic) || topic || data), first 20 bytes."""
    encoded_topic = topic.encode("utf-8")
    digest = hashlib.sha256(
        MESSAGE_ID_DOMAIN + len(encoded_topic).to_bytes(8, "little") + encoded_topic + data
    ).digest()
    return MessageId(digest[:GOSSIP_MESSAGE_ID_BYTES])


def compute_certificate_message_judgement(
    data: bytes, now: float, validator: CertificateValidator | None
) -> Judgement:
    """The gossip layer's judgement of a certificate-topic message: its size here, its content by the
    plugged-in `CertificateValidator` (the validator's `compute_certificate_judgement`). Never raises."""
    # [REJECT] The message is 1..MAX_CERTIFICATE_MESSAGE_BYTES bytes.
    if not 1 <= len(data) <= MAX_CERTIFICATE_MESSAGE_BYTES:
        return Judgement(Verdict.REJECT, "size out of range")
    # [IGNORE] This node has no certificate validator (it cannot judge, so it does not forward).
    if validator is None:
        return Judgement(Verdict.IGNORE, "no certificate validator")
    # [IGNORE]/[REJECT] As the certificate validator rules (validator specs).
    verdict = validator.validate_certificate(data, now)
    if not isinstance(verdict, Verdict):
        return Judgement(Verdict.IGNORE, "validator returned no verdict")
    return Judgement(verdict, "certificate validator")
