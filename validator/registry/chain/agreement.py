"""A registry read through several RPCs that must agree (specs/validator.md "Several RPCs").

One RPC can lie (altered logs or call results) or lag. A reader given more than one URL opens a
`ChainRegistry` per URL and accepts a read that decides a verdict (an epoch's context, which validator
holds a key, the genesis facts) only when at least `quorum` of them return the same answer; when they
do not, it raises `RpcDisagreement` naming what differs and who said what, never picking one. An
epoch some RPCs do not know yet while the rest agree is `UnknownEpoch` (a lag, not a lie). Endpoints
(where a validator listens) are not part of the comparison: they decide no verdict and move freely.
Writes and the clock (`current_epoch`) go through the first RPC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import structlog

from validator.errors import RegistryError, UnknownEpoch
from validator.keys import BLSPubkey, BLSSignature, SecretKey
from validator.registry.chain.backend import ChainRegistry
from validator.registry.chain.logcheck import MissingLogs
from validator.registry.chain.retry import validate_rpc_quorum
from validator.registry.chain.rpc import SentTransaction
from validator.registry.chain.view import InconsistentEvents
from validator.registry.port import RegistryInfo, StakeReceipt
from validator.types import Ballot, Epoch, EpochContext, ValidatorIndex

T = TypeVar("T")
log = structlog.get_logger(__name__)


class RpcDisagreement(RegistryError):
    """Raised when fewer than the quorum of a reader's RPCs give the same answer to a read that decides
    a verdict; `what` names the read and `difference` the first thing the answers differ on."""

    def __init__(self, what: str, difference: str, quorum: int, rpcs: int) -> None:
        super().__init__(f"RPCs disagree on {what}: {difference} (need {quorum} of {rpcs} to agree)")
        self._reduce_args = (what, difference, quorum, rpcs)
        self.what, self.difference, self.quorum, self.rpcs = what, difference, quorum, rpcs


class AgreeingRegistry:
    """The registry port over several `ChainRegistry` readers of the same contract."""

    def __init__(self, readers: Sequence[ChainRegistry], quorum: int | None = None) -> None:
        if len(readers) < 2:
            raise RegistryError("an agreeing registry needs at least two RPCs")
        self._readers = tuple(readers)
        self.quorum = validate_rpc_quorum(quorum, len(readers))
        self.rpc_url = readers[0].rpc_url
        self.address = readers[0].address
        self._info = self._agree("the registry's genesis facts", lambda r: r.get_info(), _same)

    # --- verdict reads: agreed --------------------------------------------------------------------

    def get_info(self) -> RegistryInfo:
        """The genesis facts every RPC agreed on when the reader opened."""
        return self._info

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """`epoch`'s context as the quorum of RPCs says it (endpoints from the first agreeing one)."""
        return self._agree(
            f"epoch {epoch}'s context", lambda r: r.get_epoch_context(epoch), _context_difference
        )

    def find_validator(self, pubkey: BLSPubkey) -> ValidatorIndex | None:
        """The index registered for `pubkey`, as the quorum of RPCs says it."""
        return self._agree(
            f"the validator of key 0x{bytes(pubkey).hex()[:16]}..", lambda r: r.find_validator(pubkey), _same
        )

    # --- the clock and writes: the first RPC ------------------------------------------------------

    def current_epoch(self) -> Epoch:
        """The first RPC's clock (a clock decides no verdict: every context read is agreed)."""
        return self._readers[0].current_epoch()

    def sync(self, *, force: bool = False) -> None:
        """Sync every reader."""
        for reader in self._readers:
            reader.sync(force=force)

    @property
    def last_change(self) -> StakeReceipt | None:
        """The last change sent through the first RPC."""
        return self._readers[0].last_change

    def sign_registration(self, secret_key: SecretKey) -> BLSSignature:
        """As `ChainRegistry.sign_registration` (the first RPC's account)."""
        return self._readers[0].sign_registration(secret_key)

    def register_validator(
        self,
        pubkey: BLSPubkey,
        proof_of_possession: BLSSignature,
        stake: int,
        peer_id: str = "",
        multiaddrs: tuple[str, ...] = (),
    ) -> ValidatorIndex:
        """Sent through the first RPC."""
        return self._readers[0].register_validator(pubkey, proof_of_possession, stake, peer_id, multiaddrs)

    def change_stake(self, validator: ValidatorIndex, amount: int) -> Epoch:
        """Sent through the first RPC."""
        return self._readers[0].change_stake(validator, amount)

    def update_endpoint(self, validator: ValidatorIndex, peer_id: str, multiaddrs: tuple[str, ...]) -> None:
        """Sent through the first RPC."""
        self._readers[0].update_endpoint(validator, peer_id, multiaddrs)

    def put_ballot(self, ballot: Ballot) -> None:
        """Sent through the first RPC."""
        self._readers[0].put_ballot(ballot)

    def claim_withdrawals(self) -> SentTransaction:
        """Sent through the first RPC."""
        return self._readers[0].claim_withdrawals()

    def close(self) -> None:
        """Close every reader."""
        for reader in self._readers:
            reader.close()

    def __enter__(self) -> AgreeingRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- agreement --------------------------------------------------------------------------------

    def _agree(
        self, what: str, read: Callable[[ChainRegistry], T], difference: Callable[[T, T], str | None]
    ) -> T:
        """Ask every reader; return the answer at least `quorum` of them gave (logging dissent); else
        `RpcDisagreement` naming the first difference (or the RPC whose logs its own contract state
        contradicts: `MissingLogs`), `UnknownEpoch` when the rest only lag, or the first error when
        too few answered (an unreachable RPC is not a disagreement)."""
        answers: list[tuple[str, T]] = []
        errors: list[tuple[str, RegistryError]] = []
        for reader in self._readers:
            try:
                answers.append((reader.rpc_url, read(reader)))
            except RegistryError as error:
                errors.append((reader.rpc_url, error))
        groups: list[list[tuple[str, T]]] = []
        for url, answer in answers:
            group = next((g for g in groups if difference(g[0][1], answer) is None), None)
            if group is None:
                groups.append([(url, answer)])
            else:
                group.append((url, answer))
        groups.sort(key=len, reverse=True)
        if groups and len(groups[0]) >= self.quorum:
            dissent = [url for g in groups[1:] for url, _ in g] + [url for url, _ in errors]
            if dissent:
                log.warning("rpc dissent", what=what, dissent=dissent, agreed=len(groups[0]))
            return groups[0][0][1]
        if len(groups) > 1:
            (first_url, first), (other_url, other) = groups[0][0], groups[1][0]
            why = difference(first, other) or "the answers differ"
            raise RpcDisagreement(
                what, f"{why} ({first_url} vs {other_url})", self.quorum, len(self._readers)
            )
        caught = [
            (url, error) for url, error in errors if isinstance(error, MissingLogs | InconsistentEvents)
        ]
        if groups and caught:
            (answered, _), (liar, evidence) = groups[0][0], caught[0]
            why = f"{answered} answered, {liar} gave logs its own contract contradicts: {evidence}"
            raise RpcDisagreement(what, why, self.quorum, len(self._readers))
        unknown = [error for _, error in errors if isinstance(error, UnknownEpoch)]
        if unknown and len(unknown) == len(errors):
            raise unknown[0]
        raise errors[0][1]


def _same(first: object, second: object) -> str | None:
    return None if first == second else f"{first!r} vs {second!r}"


def _context_difference(first: EpochContext, second: EpochContext) -> str | None:
    """The first thing two contexts of one epoch differ on, endpoints aside; None when they agree."""
    if (first.chain_id, first.epoch) != (second.chain_id, second.epoch):
        return f"chain {first.chain_id} epoch {first.epoch} vs chain {second.chain_id} epoch {second.epoch}"
    if first.seed != second.seed:
        return f"the seed: 0x{first.seed.hex()} vs 0x{second.seed.hex()}"
    ours = {v.index: v for v in first.validators}
    theirs = {v.index: v for v in second.validators}
    if ours.keys() != theirs.keys():
        return f"the active validators: {sorted(ours)} vs {sorted(theirs)}"
    for index in sorted(ours):
        a, b = ours[index], theirs[index]
        if a.stake != b.stake:
            return f"validator {index}'s stake: {a.stake} vs {b.stake}"
        if (a.pubkey, a.proof_of_possession) != (b.pubkey, b.proof_of_possession):
            return f"validator {index}'s key"
    if first.ballots != second.ballots:
        return (
            f"the ballots: {[b.validator for b in first.ballots]} vs {[b.validator for b in second.ballots]}"
        )
    return None
