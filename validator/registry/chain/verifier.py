"""The on-chain certificate verifier (`TesseraVerifier`, specs/validator.md "On-chain certificate
checks"): deploy it next to a registry, commit an epoch's quorums and publish a quorum's keys so
contracts can check that quorum's certificates, and ask it for a verdict with an `eth_call`.

Committing and publishing are permissionless and checked by the contract against the registry's
verified ballots and stake, so whoever sends them (a rollup's relayer, an operator, a test) is not
trusted; this module only computes what to send (`compute_slots`, `cut_into_quorums`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from validator.certificate import CertificateStatus, bytes_to_certificate
from validator.errors import MalformedCertificate, RegistryError
from validator.presets import Preset, get_preset
from validator.quorums import compute_slots
from validator.registry.chain.points import G2_POINT_BYTES, InvalidPoint, g2_to_eip2537
from validator.registry.chain.rpc import (
    SentTransaction,
    call_with_retries,
    check_protocol,
    connect,
    deploy_contract,
    load_compiled,
    send_transaction,
)
from validator.types import Epoch, EpochContext, Quorum, QuorumIndex, ValidatorIndex

VERIFIER_CONTRACT: Final = "TesseraVerifier"
VERIFIER_PROTOCOL: Final = "tessera-verifier/1"
REGISTRY_CONTRACT: Final = "TesseraRegistry"


class NotATesseraVerifier(RegistryError):
    """The address holds no contract, or one that does not answer as a Tessera verifier."""


@dataclass(frozen=True, slots=True)
class EpochQuorums:
    """What the verifier holds for an epoch: committed or not, its slots and quorum count."""

    committed: bool
    slots: int
    quorums: int


@dataclass(frozen=True, slots=True)
class OnchainVerdict:
    """`checkCertificate`'s answer: the status code, and the signed slots and threshold once known."""

    status: CertificateStatus
    signed_slots: int
    threshold: int

    @property
    def valid(self) -> bool:
        """True iff the contract found the certificate valid."""
        return self.status is CertificateStatus.VALID


def deploy_verifier(rpc_url: str, account: LocalAccount, registry_address: str) -> str:
    """Deploy a `TesseraVerifier` for the registry at `registry_address`, with its preset's quorum
    size, stake per slot and slot cap; returns the verifier's address."""
    web3 = connect(rpc_url)
    registry = web3.eth.contract(
        address=Web3.to_checksum_address(registry_address), abi=load_compiled(REGISTRY_CONTRACT).abi
    )
    preset = get_preset(str(call_with_retries(rpc_url, "preset", lambda: registry.functions.preset().call())))
    return deploy_contract(
        rpc_url,
        account,
        load_compiled(VERIFIER_CONTRACT),
        registry.address,
        preset.QUORUM_SLOTS,
        preset.STAKE_PER_SLOT,
        preset.MAX_SLOTS_PER_VALIDATOR,
    )


def compute_quorum_hash(validators: Sequence[ValidatorIndex]) -> bytes:
    """keccak256 of a quorum's slot list, one 32-byte big-endian word per slot (its validator), as
    the contract's `keccak256(abi.encodePacked(uint32[]))` computes it."""
    return bytes(Web3.keccak(b"".join(int(v).to_bytes(32, "big") for v in validators)))


class ChainVerifier:
    """One deployed `TesseraVerifier`: commits, publications (with an account) and verdicts."""

    def __init__(self, rpc_url: str, address: str, *, account: LocalAccount | None = None) -> None:
        self.rpc_url = rpc_url
        self._web3 = connect(rpc_url)
        self._account = account
        if not Web3.is_address(address):
            raise NotATesseraVerifier(f"{address!r} is not an Ethereum address")
        self.address = Web3.to_checksum_address(address)
        self._contract: Contract = self._web3.eth.contract(
            address=self.address, abi=load_compiled(VERIFIER_CONTRACT).abi
        )
        check_protocol(self._web3, rpc_url, self._contract, VERIFIER_PROTOCOL, NotATesseraVerifier)
        self.registry_address = str(self._call("registry", self._contract.functions.registry()))
        self.last_transaction: SentTransaction | None = None

    # --- reads --------------------------------------------------------------------------------

    def epoch_quorums(self, epoch: Epoch) -> EpochQuorums:
        """Whether `epoch`'s quorums are committed, with its slot and quorum counts."""
        committed, slots, quorums = self._call("epochQuorums", self._contract.functions.epochQuorums(epoch))
        return EpochQuorums(bool(committed), int(slots), int(quorums))

    def quorum_data(self, epoch: Epoch, quorum: QuorumIndex) -> str | None:
        """The data contract of a published quorum, or None if it is not published."""
        address = str(self._call("quorumData", self._contract.functions.quorumData(epoch, quorum)))
        return None if int(address, 16) == 0 else address

    def check_certificate(self, data: bytes) -> OnchainVerdict:
        """The contract's verdict on certificate bytes (an `eth_call`: free, no account needed)."""
        status, signed, threshold = self._call(
            "checkCertificate", self._contract.functions.checkCertificate(data, signature_point_of(data))
        )
        return OnchainVerdict(CertificateStatus(int(status)), int(signed), int(threshold))

    def check_certificate_gas(self, data: bytes) -> int:
        """Gas an on-chain caller pays for `checkCertificate(data)` (the estimate, 21,000 and calldata
        included)."""
        call = self._contract.functions.checkCertificate(data, signature_point_of(data))
        return int(call_with_retries(self.rpc_url, "estimate checkCertificate", call.estimate_gas))

    # --- writes -------------------------------------------------------------------------------

    def commit_quorums(self, context: EpochContext) -> SentTransaction:
        """Commit the quorums of `context`'s epoch: every slot in draw order, as `compute_slots`
        gives them for the registry's preset (the contract checks each against the chain)."""
        slots = compute_slots(context, self._preset, verify_ballots=False)
        validators = [int(slot.validator) for slot in slots]
        ordinals = [int(slot.ordinal) for slot in slots]
        return self._send(self._contract.functions.commitQuorums(context.epoch, validators, ordinals))

    def publish_quorum(self, quorum: Quorum) -> SentTransaction:
        """Publish a committed quorum's members and keys into a data contract."""
        validators = [int(slot.validator) for slot in quorum.slots]
        return self._send(self._contract.functions.publishQuorum(quorum.epoch, quorum.index, validators))

    def prepare(self, context: EpochContext, quorum: Quorum) -> list[tuple[str, SentTransaction]]:
        """Whatever `quorum` of `context`'s epoch still needs before its certificates can be checked
        on-chain: the epoch's commitment, then the quorum's publication (nothing if both are done).
        Returns each transaction sent, by function name."""
        sent = []
        if not self.epoch_quorums(context.epoch).committed:
            sent.append(("commitQuorums", self.commit_quorums(context)))
        if self.quorum_data(quorum.epoch, quorum.index) is None:
            sent.append(("publishQuorum", self.publish_quorum(quorum)))
        return sent

    # --- internals ----------------------------------------------------------------------------

    @functools.cached_property
    def _preset(self) -> Preset:
        """The registry's protocol preset, read once when first needed (fixed at its deployment;
        only a commitment needs it, not a certificate check)."""
        registry = self._web3.eth.contract(
            address=Web3.to_checksum_address(self.registry_address), abi=load_compiled(REGISTRY_CONTRACT).abi
        )
        return get_preset(str(self._call("preset", registry.functions.preset())))

    def _call(self, what: str, call: Any) -> Any:
        return call_with_retries(self.rpc_url, what, call.call)

    def _send(self, call: Any) -> SentTransaction:
        if self._account is None:
            raise RegistryError(f"{call.fn_name} needs an Ethereum account (--eth-keystore)")
        sent = send_transaction(self._web3, self.rpc_url, self._contract, self._account, call)
        self.last_transaction = sent
        return sent


def signature_point_of(data: bytes) -> bytes:
    """The EIP-2537 form of a certificate's signature, which `checkCertificate` takes beside the
    certificate; zero bytes (which the contract refuses) when the bytes are no certificate or the
    signature is no point, so the contract still gives its verdict on the rest."""
    try:
        return bytes(g2_to_eip2537(bytes_to_certificate(data).signature))
    except (MalformedCertificate, InvalidPoint):
        return bytes(G2_POINT_BYTES)
