"""Certificate gossip validation: the rules of `specs/validator.md` (Certificate gossip validation).

One implementation for every node that judges `/tessera/{network}/certificate/1/ssz` payloads: the
validator daemon and the light client both call `compute_certificate_judgement`. Each rule is one comment
naming it as in the spec, in the order the spec lists them; `tests/validator/test_certificate_gossip.py`
checks the two lists are the same and that every rule has a case.

It takes no time and no seen-set: the registry's own clock decides which epochs it can give, and
duplicates never reach it (message ids are content hashes and the gossip layer drops a seen id before
validating). This module sits outside the pure validator core only because it speaks the network layer's
`Judgement`; it does no I/O of its own beyond the `EpochSource` it is given.
"""

from __future__ import annotations

from network.types import Judgement, Verdict
from validator.certificate import (
    CERTIFICATE_FIXED_BYTES,
    MAX_CERTIFICATE_SSZ_BYTES,
    bytes_to_certificate,
    verify_certificate,
)
from validator.errors import MalformedCertificate, ValidatorError
from validator.presets import Preset
from validator.registry.port import EpochSource


def compute_certificate_judgement(data: bytes, epochs: EpochSource, preset: Preset) -> Judgement:
    """Judge one certificate gossip payload against the registry; never raises for what a peer sends.

    REJECT means the sender forwarded something no honest node would; IGNORE means this node cannot
    judge it yet (its registry has not reached the certificate's epoch, or cannot be read).
    """
    # [REJECT] The message is CERTIFICATE_FIXED_BYTES + 1 .. MAX_CERTIFICATE_SSZ_BYTES bytes.
    if not CERTIFICATE_FIXED_BYTES + 1 <= len(data) <= MAX_CERTIFICATE_SSZ_BYTES:
        return Judgement(Verdict.REJECT, f"size out of range: {len(data)} bytes")
    # [REJECT] The message decodes to a certificate (signers offset, bitlist delimiter and limit).
    try:
        certificate = bytes_to_certificate(data)
    except MalformedCertificate as error:
        return Judgement(Verdict.REJECT, f"malformed: {error}")
    # [IGNORE] The registry gives the context of the certificate's epoch (not yet reached, or unreadable).
    try:
        context = epochs.get_epoch_context(certificate.epoch)
    except ValidatorError as error:
        return Judgement(Verdict.IGNORE, f"epoch {certificate.epoch} unknown here: {error}")
    # `verify_certificate` checks the rest against that context, in this order; the first that fails
    # is the reason it returns.
    # [REJECT] The certificate's quorum exists in its epoch.
    # [REJECT] The signer bitfield has one bit per slot of the quorum.
    # [REJECT] Each member's slots are all marked or all unmarked, and each signing member is registered.
    # [REJECT] The signed slots reach certificate_threshold(len(quorum.slots)).
    # [REJECT] The aggregate signature is the signing members' over (chain_id, epoch, quorum, data_root).
    verdict = verify_certificate(certificate, context, preset)
    if not verdict.valid:
        return Judgement(Verdict.REJECT, verdict.reason)
    return Judgement(Verdict.ACCEPT, verdict.reason)
