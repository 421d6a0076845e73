"""`ChainRegistry`: the registry port over the Tessera registry contract on an EVM chain (web3.py).

Reads sync the contract's events into a `RegistryView` (incrementally, at most once per
`sync_interval` seconds, in chunks of `LOG_CHUNK_BLOCKS`) and derive epoch contexts there; the
context of an epoch that has started on chain is cached (its stake, ballots and seed never change
again; endpoints are always the latest). The chain is the clock: `current_epoch()` is computed from
the latest synced block's timestamp. Writes are transactions signed by the operator's account; the
contract decides the epoch a change takes effect, and the arguments the port passes for it are
ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import structlog
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound, ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import RPCEndpoint

from validator.errors import RegistryError, UnknownEpoch, UnknownValidator
from validator.keys import BLSPubkey, BLSSignature, SecretKey
from validator.presets import get_preset
from validator.registry.chain.logcheck import (
    REORG_WINDOW_BLOCKS,
    MissingLogs,
    check_log_entries,
    default_confirmations,
)
from validator.registry.chain.points import g1_to_eip2537, g2_to_eip2537
from validator.registry.chain.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from validator.registry.chain.rpc import (
    ChainUnreachable,
    NotATesseraRegistry,
    RpcRequestFailed,
    SentTransaction,
    call_with_retries,
    check_protocol,
    connect,
    decode_revert,
    deploy_contract,
    load_compiled,
    send_transaction,
)
from validator.registry.chain.view import InconsistentEvents, RegistryView
from validator.registry.port import RegistryInfo, StakeReceipt, compute_epoch, compute_latest_fixed_epoch
from validator.signing import compute_registration_signing_root
from validator.types import Ballot, Epoch, EpochContext, Seed, ValidatorIndex

log = structlog.get_logger(__name__)

CONTRACT_NAME: Final = "TesseraRegistry"
PROTOCOL: Final = "tessera-registry/2"
LOG_CHUNK_BLOCKS: Final = 5_000
SYNC_INTERVAL_SECONDS: Final = 0.5
WEI_PER_STAKE_UNIT: Final = 10**9


class NoAccount(RegistryError):
    """A write was asked of a registry opened without an Ethereum account."""


class ChainRegistry:
    """Every registry port over one deployed `TesseraRegistry`."""

    def __init__(
        self,
        rpc_url: str,
        address: str,
        *,
        account: LocalAccount | None = None,
        confirmations: int | None = None,
        sync_interval: float = SYNC_INTERVAL_SECONDS,
        retry: RetryPolicy = DEFAULT_RETRY_POLICY,
    ) -> None:
        self.rpc_url = rpc_url
        self._web3 = connect(rpc_url, retry)
        self._account = account
        self._sync_interval = sync_interval
        self._lock = threading.RLock()
        if not Web3.is_address(address):
            raise NotATesseraRegistry(f"{address!r} is not an Ethereum address")
        self.address = Web3.to_checksum_address(address)
        compiled = load_compiled(CONTRACT_NAME)
        self._contract: Contract = self._web3.eth.contract(address=self.address, abi=compiled.abi)
        self._topics = {
            HexBytes(Web3.keccak(text=_event_signature(entry))): str(entry["name"])
            for entry in compiled.abi
            if entry.get("type") == "event"
        }
        chain_id = self._rpc("chain id", lambda: self._web3.eth.chain_id)
        check_protocol(self._web3, self.rpc_url, self._contract, PROTOCOL, NotATesseraRegistry)
        functions = self._contract.functions
        genesis_time = self._rpc("genesisTime", lambda: functions.genesisTime().call())
        epoch_seconds = self._rpc("epochSeconds", lambda: functions.epochSeconds().call())
        preset = self._rpc("preset", lambda: functions.preset().call())
        genesis_seed = self._rpc("genesisSeed", lambda: functions.genesisSeed().call())
        self._deploy_block = int(self._rpc("deployBlock", lambda: functions.deployBlock().call()))
        self._info = RegistryInfo(int(chain_id), str(preset), float(genesis_time), float(epoch_seconds))
        self.confirmations = default_confirmations(int(chain_id)) if confirmations is None else confirmations
        """Blocks a change needs on top of it before this reader counts it (`default_confirmations`)."""
        self.preset = get_preset(self._info.preset)
        self._view = RegistryView(int(chain_id), Seed(bytes(genesis_seed)))
        self._synced_block = self._deploy_block - 1
        self._synced_timestamp = 0
        self._hashes: dict[int, HexBytes] = {}
        """Block hashes of synced heights (chunk ends and blocks with events), within the reorg window:
        a height whose hash the chain no longer has marks a reorg."""
        self.reorgs = 0
        """Reorganizations this reader followed (rewinds), for operators and tests."""
        self._synced_at = -float("inf")
        self._contexts: dict[Epoch, EpochContext] = {}
        self._last_change: StakeReceipt | None = None
        self.last_transaction: SentTransaction | None = None
        """The last transaction this handle sent (hash, block, gas used), for operators and benches."""

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Nothing to release beyond the HTTP session, which web3 closes with the process."""

    def __enter__(self) -> ChainRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- read side ----------------------------------------------------------------------------

    def get_info(self) -> RegistryInfo:
        """The network's genesis facts, as the contract was deployed with."""
        return self._info

    def current_epoch(self) -> Epoch:
        """The epoch of the latest synced block's timestamp: the chain is the clock."""
        with self._lock:
            self.sync()
            return compute_epoch(self._synced_timestamp, self._info.genesis_time, self._info.epoch_seconds)

    def get_epoch_context(self, epoch: Epoch) -> EpochContext:
        """Seed, active validators (stake as of `epoch`, latest endpoints) and verified ballots.

        Only `0 <= epoch <= compute_latest_fixed_epoch(...)` of the synced chain time (current + 1,
        or 0 before genesis: seeds fixed by then); others raise `UnknownEpoch`."""
        with self._lock:
            self.sync()
            info = self._info
            if (
                not 0
                <= epoch
                <= compute_latest_fixed_epoch(self._synced_timestamp, info.genesis_time, info.epoch_seconds)
            ):
                raise UnknownEpoch(epoch)
            cached = self._contexts.get(epoch)
            if cached is not None:
                return self._with_latest_endpoints(cached)
            frozen = self._synced_timestamp >= self._epoch_start(epoch)
            context = self._view.context(epoch, frozen=frozen)
            if frozen:
                self._check_frozen(context)
                self._contexts[epoch] = context
            return context

    def _check_frozen(self, context: EpochContext) -> None:
        """Before an epoch's context is cached, the contract (at the synced block) must agree with the
        logs on what decides its quorums: the voters, their stake in the epoch and the seed
        (`ballotDraw`, `seedOf`); `MissingLogs` otherwise, and nothing is cached."""
        epoch = context.epoch
        at: HexBytes | int = self._hashes.get(self._synced_block, self._synced_block)
        functions = self._contract.functions
        voters, _, stakes = self._rpc(
            "ballotDraw", lambda: functions.ballotDraw(epoch).call(block_identifier=at)
        )
        seed = self._rpc("seedOf", lambda: functions.seedOf(epoch).call(block_identifier=at))
        logged = self._view.ballots.get(epoch, {})
        why = None
        if sorted(voters) != sorted(logged):
            why = f"epoch {epoch}'s voters: the logs say {sorted(logged)}, the contract {sorted(voters)}"
        elif bytes(seed) != context.seed:
            why = f"epoch {epoch}'s seed: the logs give 0x{context.seed.hex()}, the contract 0x{seed.hex()}"
        else:
            for voter, stake in zip(voters, stakes, strict=True):
                if self._view.stake_at(ValidatorIndex(voter), epoch) != stake:
                    said = self._view.stake_at(ValidatorIndex(voter), epoch)
                    why = f"validator {voter}'s stake in epoch {epoch}: logs {said}, contract {stake}"
                    break
        if why is not None:
            raise MissingLogs(self.rpc_url, self._deploy_block, self._synced_block, why)

    def find_validator(self, pubkey: BLSPubkey) -> ValidatorIndex | None:
        """The index registered for `pubkey`, if any."""
        with self._lock:
            self.sync(force=True)
            return self._view.find(pubkey)

    def sync(self, *, force: bool = False) -> None:
        """Apply the contract's events up to the latest block minus `confirmations`, unless synced less
        than `sync_interval` seconds ago. First checks that the chain still has the last synced block;
        if not (a reorg), rewinds to the fork point and resyncs from there (`_rewind`)."""
        with self._lock:
            if not force and time.monotonic() - self._synced_at < self._sync_interval:
                return
            latest = self._rpc("latest block", lambda: self._web3.eth.get_block("latest"))
            head = int(latest["number"])
            target = head - self.confirmations
            self._follow_reorg(latest)
            if target > self._synced_block:
                for start in range(self._synced_block + 1, target + 1, LOG_CHUNK_BLOCKS):
                    end = min(start + LOG_CHUNK_BLOCKS - 1, target)
                    self._sync_chunk(start, end, head, latest if end == head else None)
                self._prune(head)
            if target >= self._synced_block:
                block = latest if target == head else self._header(target)
                self._synced_timestamp = int(block["timestamp"])
            self._synced_at = time.monotonic()

    # --- write side ---------------------------------------------------------------------------

    @property
    def last_change(self) -> StakeReceipt | None:
        """The last registration or stake change sent through this handle, with its transaction."""
        return self._last_change

    def sign_registration(self, secret_key: SecretKey) -> BLSSignature:
        """The proof of possession `register_validator` needs here: a signature of the registration
        message, which binds the key to this registry, this chain and the operator's account."""
        account = self._require_account("register")
        root = compute_registration_signing_root(
            self._info.chain_id,
            bytes.fromhex(self.address[2:]),
            bytes.fromhex(account.address[2:]),
            secret_key.pubkey,
        )
        return secret_key.sign(root)

    def register_validator(
        self,
        pubkey: BLSPubkey,
        proof_of_possession: BLSSignature,
        stake: int,
        peer_id: str = "",
        multiaddrs: tuple[str, ...] = (),
    ) -> ValidatorIndex:
        """Register the account's validator with `stake` units (sent as stake x 1 gwei); the contract
        checks the proof of possession (`sign_registration`) with the BLS12-381 precompiles."""
        call = self._contract.functions.register(
            pubkey, g1_to_eip2537(pubkey), proof_of_possession, g2_to_eip2537(proof_of_possession),
            peer_id, list(multiaddrs),
        )  # fmt: skip
        sent = self._send(call, value=stake * WEI_PER_STAKE_UNIT)
        (registered,) = self._contract.events.ValidatorRegistered().process_receipt(
            sent.receipt, errors=DISCARD
        )
        index = ValidatorIndex(int(registered["args"]["validator"]))
        self._last_change = StakeReceipt(index, self._effective_epoch(sent), sent.tx_hash)
        return index

    def change_stake(self, validator: ValidatorIndex, amount: int) -> Epoch:
        """Deposit (amount > 0, sent as amount x 1 gwei) or withdraw (amount < 0) for the account's own
        validator; returns the epoch the change takes effect, as the contract recorded it."""
        self._require_own(validator)
        if amount == 0:
            raise RegistryError("a stake change must be non-zero")
        functions = self._contract.functions
        sent = (
            self._send(functions.deposit(), value=amount * WEI_PER_STAKE_UNIT)
            if amount > 0
            else self._send(functions.withdraw(-amount))
        )
        effective = self._effective_epoch(sent)
        self._last_change = StakeReceipt(validator, effective, sent.tx_hash)
        return effective

    def claim_withdrawals(self) -> SentTransaction:
        """Pay the account every withdrawal whose epoch has started."""
        return self._send(self._contract.functions.claim())

    def update_endpoint(self, validator: ValidatorIndex, peer_id: str, multiaddrs: tuple[str, ...]) -> None:
        """Record where the account's own validator's libp2p host can be reached."""
        self._require_own(validator)
        self._send(self._contract.functions.updateEndpoint(peer_id, list(multiaddrs)))

    def put_ballot(self, ballot: Ballot) -> None:
        """Cast the account's own validator's ballot; the contract accepts only the open epoch's, and
        only a ballot that verifies against the key and the seed (`InvalidBallot`)."""
        self._require_own(ballot.validator)
        point = g2_to_eip2537(ballot.signature)
        self._send(self._contract.functions.castBallot(ballot.epoch, ballot.signature, point))

    # --- internals ----------------------------------------------------------------------------

    def _rpc(self, what: str, function: Any) -> Any:
        return call_with_retries(self.rpc_url, what, function)

    def _effective_epoch(self, sent: SentTransaction) -> Epoch:
        (changed,) = self._contract.events.StakeChanged().process_receipt(sent.receipt, errors=DISCARD)
        return Epoch(int(changed["args"]["effectiveEpoch"]))

    def _epoch_start(self, epoch: Epoch) -> float:
        return self._info.genesis_time + epoch * self._info.epoch_seconds

    def _header(self, block: int) -> Any:
        """Block `block`'s header; `ChainUnreachable` if the RPC does not have it (a lagging node)."""
        try:
            return self._rpc(f"block {block}", lambda: self._web3.eth.get_block(block))
        except BlockNotFound as error:
            raise ChainUnreachable("eth_getBlockByNumber", self.rpc_url, 1, f"no block {block}") from error

    def _follow_reorg(self, latest: Any) -> None:
        """Rewind if the chain's block at the last synced height is not the one synced."""
        height = self._synced_block
        if height not in self._hashes or int(latest["number"]) < height:
            return  # nothing synced yet, or an RPC behind us: compare once it has the height
        newest = int(latest["number"])
        if newest == height + 1:  # the usual step: the new head's parent is the synced block
            if HexBytes(latest["parentHash"]) == self._hashes[height]:
                return
        elif HexBytes((latest if newest == height else self._header(height))["hash"]) == self._hashes[height]:
            return
        fork, fork_timestamp = self._find_fork()
        self._rewind(fork, fork_timestamp)

    def _find_fork(self) -> tuple[int, int | None]:
        """The highest recorded height the chain still agrees with (a binary search: a matching hash
        vouches for every block below it), and its timestamp; (deploy block - 1, None) if none."""
        heights = sorted(h for h in self._hashes if h <= self._synced_block)
        low, high = 0, len(heights) - 1
        found: tuple[int, int | None] = (self._deploy_block - 1, None)
        while low <= high:
            middle = (low + high) // 2
            header = self._header(heights[middle])
            if HexBytes(header["hash"]) == self._hashes[heights[middle]]:
                found, low = (heights[middle], int(header["timestamp"])), middle + 1
            else:
                high = middle - 1
        return found

    def _rewind(self, fork: int, fork_timestamp: int | None) -> None:
        """Forget the blocks after `fork` (the chain replaced them): undo their events, drop their
        hashes and every cached context that may have used them; the next chunks resync from there."""
        try:
            affected = self._view.rewind(fork)
        except InconsistentEvents:  # the journal does not reach back to the fork: rebuild
            self._view = RegistryView(self._view.chain_id, self._view.genesis_seed)
            fork, fork_timestamp, affected = self._deploy_block - 1, None, Epoch(0)
        frozen_at_fork = (
            Epoch(0)
            if fork_timestamp is None
            else compute_epoch(fork_timestamp, self._info.genesis_time, self._info.epoch_seconds)
        )
        first = frozen_at_fork if affected is None else min(affected, frozen_at_fork)
        self._view.forget_derived(first)
        self._contexts = {e: c for e, c in self._contexts.items() if e < first}
        self._hashes = {h: v for h, v in self._hashes.items() if h <= fork}
        log.warning("registry reorg", rewound_from=self._synced_block, fork=fork, contexts_dropped_from=first)
        self._synced_block = fork
        self._synced_timestamp = 0 if fork_timestamp is None else fork_timestamp
        self.reorgs += 1

    def _sync_chunk(self, start: int, end: int, head: int, end_header: Any | None) -> None:
        """Fetch, check and apply the events of blocks `start..end`. The answer must be the range
        asked for: every log of our address, inside the range, not removed, of the block hash the chain
        has at its height (checked per block within the reorg window), and afterwards the contract's
        validator count at `end` must equal the view's; otherwise `MissingLogs`, and nothing of the
        chunk is kept."""
        header = end_header if end_header is not None else self._header(end)
        end_hash = HexBytes(header["hash"])
        query = {"address": self.address, "fromBlock": start, "toBlock": end}
        logs = list(self._rpc("event logs", lambda: self._web3.eth.get_logs(query)))  # type: ignore[arg-type]
        blocks = self._check_logs(logs, start, end, end_hash, head)
        try:
            self._apply_logs(logs)
            count = self._validator_count_at(end_hash)
            if int(count) != len(self._view.validators):
                found = len(self._view.validators)
                raise MissingLogs(
                    self.rpc_url,
                    start,
                    end,
                    f"the contract has {count} validators at block {end}, the logs {found}",
                )
        except InconsistentEvents as error:
            self._view.rewind(start - 1)
            raise MissingLogs(self.rpc_url, start, end, error.reason) from error
        except RegistryError:
            self._view.rewind(start - 1)
            raise
        self._hashes.update(blocks)
        self._hashes[end] = end_hash
        self._synced_block = end

    def _validator_count_at(self, block_hash: HexBytes) -> int:
        """`validatorCount()` at exactly `block_hash` (EIP-1898), in one request: web3's own call
        would first resolve the hash to a number and ask the chain id."""
        call = {"to": self.address, "data": self._contract.encode_abi("validatorCount", [])}
        answer = self._web3.provider.make_request(
            RPCEndpoint("eth_call"), [call, {"blockHash": block_hash.to_0x_hex()}]
        )
        result = answer.get("result")
        if not isinstance(result, str) or len(result) < 66:
            raise RpcRequestFailed("eth_call", self.rpc_url, None, f"validatorCount(): {answer.get('error')}")
        return int(result[2:66], 16)

    def _check_logs(
        self, logs: Sequence[Any], start: int, end: int, end_hash: HexBytes, head: int
    ) -> dict[int, HexBytes]:
        """The block hash of each block the logs are from, checked (`MissingLogs` when not)."""
        blocks = check_log_entries(logs, start, end, self.address, self.rpc_url)
        for number, block_hash in blocks.items():
            expected = end_hash if number == end else None
            if expected is None and number > head - REORG_WINDOW_BLOCKS:
                expected = HexBytes(self._header(number)["hash"])
            if expected is not None and expected != block_hash:
                raise MissingLogs(
                    self.rpc_url, start, end, f"logs of block {number} {block_hash.to_0x_hex()}, "
                    f"which the chain no longer has (now {expected.to_0x_hex()})",
                )  # fmt: skip
        return blocks

    def _prune(self, head: int) -> None:
        """Forget hashes and the undo journal below the reorg window (those blocks are final)."""
        floor = head - REORG_WINDOW_BLOCKS
        keep = {h: v for h, v in self._hashes.items() if h > floor}
        if self._synced_block in self._hashes:
            keep[self._synced_block] = self._hashes[self._synced_block]
        self._hashes = keep
        self._view.prune_journal(min(floor, self._synced_block))

    def _apply_logs(self, logs: Sequence[Any]) -> None:
        for raw in sorted(logs, key=lambda entry: (int(entry["blockNumber"]), int(entry["logIndex"]))):
            name = self._topics.get(HexBytes(raw["topics"][0])) if raw["topics"] else None
            if name is None:
                continue
            decoded = self._contract.events[name]().process_log(raw)
            self._view.apply(name, dict(decoded["args"]), int(raw["blockNumber"]))

    def _with_latest_endpoints(self, context: EpochContext) -> EpochContext:
        latest = self._view.validators
        validators = tuple(
            replace(record, peer_id=latest[record.index].peer_id, multiaddrs=latest[record.index].multiaddrs)
            for record in context.validators
        )
        return replace(context, validators=validators)

    def _require_account(self, action: str) -> LocalAccount:
        if self._account is None:
            raise NoAccount(
                f"{action} needs an Ethereum account (--eth-keystore); this registry is read-only"
            )
        return self._account

    def _require_own(self, validator: ValidatorIndex) -> None:
        account = self._require_account("this change")
        try:
            own = self._rpc(
                "validatorOf", lambda: self._contract.functions.validatorOf(account.address).call()
            )
        except (ContractCustomError, ContractLogicError) as error:
            raise UnknownValidator(validator) from decode_revert(self._contract, "validatorOf", error)
        if int(own) != validator:
            raise RegistryError(
                f"account {account.address} is validator {own}'s, not {validator}'s: only a validator's "
                "own account may change its stake, endpoint or ballots"
            )

    def _send(self, call: Any, *, value: int = 0) -> SentTransaction:
        account = self._require_account(call.fn_name)
        sent = send_transaction(self._web3, self.rpc_url, self._contract, account, call, value=value)
        self.last_transaction = sent
        log.debug("registry transaction", function=call.fn_name, tx=sent.tx_hash, gas=sent.gas_used)
        self.sync(force=True)
        return sent


def _event_signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(item['type'] for item in entry['inputs'])})"


def deploy_registry(
    rpc_url: str,
    account: LocalAccount,
    *,
    genesis_time: int,
    epoch_seconds: int,
    genesis_seed: Seed,
    preset: str,
) -> str:
    """Deploy a `TesseraRegistry` from `account`; returns its address."""
    get_preset(preset)
    compiled = load_compiled(CONTRACT_NAME)
    return deploy_contract(rpc_url, account, compiled, genesis_time, epoch_seconds, genesis_seed, preset)
