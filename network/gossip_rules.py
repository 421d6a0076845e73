"""Gossip validation rules (pure): tri-state verdicts that take the time and seen-sets as parameters.

Each rule is one `Judgement` with a comment naming it as in `specs/p2p-interface.md`. py-libp2p topic
validators can only accept or reject; `network.gossip` maps ACCEPT to accept, IGNORE and REJECT to
reject, and penalizes the forwarding peer for REJECT only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container

from da.header import compute_data_root
from da.types import DataRoot
from network.constants import (
    BLOB_HEADER_GOSSIP_MAX_AGE_SECONDS,
    BLOB_HEADER_GOSSIP_MAX_BYTES,
    GOSSIP_MESSAGE_ID_BYTES,
    MAX_CERTIFICATE_BYTES,
    MAXIMUM_GOSSIP_CLOCK_DISPARITY_SECONDS,
)
from network.errors import MalformedMessage
from network.messages import BlobHeaderGossip, bytes_to_blob_header_gossip
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


def validate_blob_header_gossip(
    data: bytes, now: float, seen_data_roots: Container[DataRoot]
) -> tuple[Judgement, BlobHeaderGossip | None, DataRoot | None]:
    """Judge a blob-header gossip message; returns the judgement and, if it decodes, the message and root."""
    # [REJECT] The message is at most BLOB_HEADER_GOSSIP_MAX_BYTES.
    if len(data) > BLOB_HEADER_GOSSIP_MAX_BYTES:
        return Judgement(Verdict.REJECT, "oversize"), None, None
    # [REJECT] The message decodes to a posting time and a self-consistent header.
    try:
        message = bytes_to_blob_header_gossip(data)
    except MalformedMessage as error:
        return Judgement(Verdict.REJECT, f"malformed: {error.detail}"), None, None
    data_root = compute_data_root(message.header)
    # [IGNORE] The message is not from the future: posted_at <= now + MAXIMUM_GOSSIP_CLOCK_DISPARITY.
    if message.posted_at > now + MAXIMUM_GOSSIP_CLOCK_DISPARITY_SECONDS:
        return Judgement(Verdict.IGNORE, "posted in the future"), message, data_root
    # [IGNORE] The message is not stale: posted_at + BLOB_HEADER_GOSSIP_MAX_AGE >= now - disparity.
    if message.posted_at + BLOB_HEADER_GOSSIP_MAX_AGE_SECONDS < now - MAXIMUM_GOSSIP_CLOCK_DISPARITY_SECONDS:
        return Judgement(Verdict.IGNORE, "stale"), message, data_root
    # [IGNORE] This is the first header seen with this data root.
    if data_root in seen_data_roots:
        return Judgement(Verdict.IGNORE, "data root already seen"), message, data_root
    return Judgement(Verdict.ACCEPT, "valid"), message, data_root


def validate_certificate_gossip(data: bytes, now: float, validator: CertificateValidator | None) -> Judgement:
    """Judge a certificate gossip message: size here, content by the pluggable validator."""
    # [REJECT] The message is 1..MAX_CERTIFICATE_BYTES bytes.
    if not 1 <= len(data) <= MAX_CERTIFICATE_BYTES:
        return Judgement(Verdict.REJECT, "size out of range")
    # [IGNORE] This node has no certificate validator (it cannot judge, so it does not forward).
    if validator is None:
        return Judgement(Verdict.IGNORE, "no certificate validator")
    # [IGNORE]/[REJECT] As the certificate validator rules (validator specs).
    verdict = validator.validate_certificate(data, now)
    if not isinstance(verdict, Verdict):
        return Judgement(Verdict.IGNORE, "validator returned no verdict")
    return Judgement(verdict, "certificate validator")
