"""JSON-RPC to the registry contract (web3.py): bounded retries, typed errors, signed transactions.

Every failure a caller can meet is a `RegistryError` subclass that says what happened: the RPC did
not answer (`ChainUnreachable`), the address holds no Tessera registry (`NotATesseraRegistry`), or a
transaction was refused (`TransactionReverted`, with the contract's custom error by name and its
arguments, decoded from the ABI, so `das validator withdraw` can say "WithdrawalExceedsStake").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

import requests
import structlog
from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams, Wei

from contracts.toolchain import CompiledContract, ToolchainError, load_contract
from validator.errors import RegistryError

T = TypeVar("T")
log = structlog.get_logger(__name__)


def load_compiled(name: str) -> CompiledContract:
    """Contract `name` from the shipped artifact; a missing or unreadable artifact is a
    `RegistryError` here, so the registry port raises only its own errors."""
    try:
        return load_contract(name)
    except ToolchainError as error:
        raise RegistryError(f"contract {name} cannot be loaded: {error}") from error


RPC_TIMEOUT_SECONDS: Final = 10.0
RPC_ATTEMPTS: Final = 4
RPC_BACKOFF_SECONDS: Final = 0.25
RECEIPT_TIMEOUT_SECONDS: Final = 60.0
GAS_HEADROOM: Final = 1.25
"""Gas limit sent = estimate x this (estimates can fall short when storage is touched first)."""


class ChainUnreachable(RegistryError):
    """The JSON-RPC endpoint did not answer within the bounded retries."""


class NotATesseraRegistry(RegistryError):
    """The address holds no contract, or one that does not answer as a Tessera registry."""


class TransactionReverted(RegistryError):
    """The contract refused a call; `error` is its custom error's name, `args` its arguments."""

    def __init__(self, function: str, error: str, args: tuple[Any, ...] = ()) -> None:
        self.function, self.error, self.args_ = function, error, args
        shown = f"{error}({', '.join(map(str, args))})" if args else error
        super().__init__(f"{function} reverted: {shown}")


@dataclass(frozen=True, slots=True)
class SentTransaction:
    """A mined transaction: its hash, block, gas used, and the receipt's decoded logs."""

    tx_hash: str
    block_number: int
    gas_used: int
    receipt: Any


def connect(rpc_url: str) -> Web3:
    """A web3 client of `rpc_url` with a per-request timeout (retries are ours: `call_with_retries`)."""
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": RPC_TIMEOUT_SECONDS}))


def call_with_retries(rpc_url: str, what: str, function: Callable[[], T]) -> T:
    """`function()`, retried `RPC_ATTEMPTS` times with doubling pauses on connection failures only;
    raises `ChainUnreachable` naming `what` and the URL when every attempt failed."""
    pause = RPC_BACKOFF_SECONDS
    for attempt in range(1, RPC_ATTEMPTS + 1):
        try:
            return function()
        except (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError) as error:
            if attempt == RPC_ATTEMPTS:
                raise ChainUnreachable(
                    f"{what}: no answer from {rpc_url} after {RPC_ATTEMPTS} attempts ({type(error).__name__})"
                ) from error
            log.debug("rpc retry", what=what, attempt=attempt, error=type(error).__name__)
            time.sleep(pause)
            pause *= 2
    raise AssertionError("unreachable")


def check_protocol(
    web3: Web3, rpc_url: str, contract: Contract, expected: str, refuse: Callable[[str], RegistryError]
) -> None:
    """Raise `refuse(why)` unless `contract`'s address holds code whose `protocol()` answers
    `expected`: the guard every Tessera contract handle runs before it reads anything."""
    address = contract.address
    code = call_with_retries(rpc_url, "contract code", lambda: web3.eth.get_code(address))
    if not code:
        raise refuse(f"no contract at {address} on {rpc_url}")
    try:
        answer = call_with_retries(rpc_url, "protocol()", lambda: contract.functions.protocol().call())
    except (ContractLogicError, ContractCustomError, Web3RPCError, ValueError) as error:
        raise refuse(f"{address} does not answer protocol(): {error}") from error
    if answer != expected:
        raise refuse(f"{address} answers protocol() = {answer!r}, not {expected!r}")


def decode_revert(contract: Contract, function: str, error: Exception) -> TransactionReverted:
    """The typed refusal behind a web3 revert exception (custom error by name where the ABI has it)."""
    data = getattr(error, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        selector = bytes.fromhex(data[2:10])
        for entry in cast(list[dict[str, Any]], contract.abi):
            if entry.get("type") != "error":
                continue
            types = [item["type"] for item in entry.get("inputs", [])]
            if function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})") == selector:
                values = abi_decode(types, bytes.fromhex(data[10:])) if types else ()
                return TransactionReverted(function, str(entry["name"]), tuple(values))
    return TransactionReverted(function, str(error))


def sign_and_send(
    web3: Web3,
    rpc_url: str,
    account: LocalAccount,
    what: str,
    params: TxParams,
    build: Callable[[TxParams], Any] | None = None,
) -> tuple[bytes, Any]:
    """Fill in `account`'s next nonce and the chain id, let `build` complete the transaction (a
    contract function's or constructor's `build_transaction`; None for one `params` already holds
    whole), sign it, send it (retried on connection failures), and wait for its receipt
    (`ChainUnreachable` after `RECEIPT_TIMEOUT_SECONDS`). Returns the hash and the receipt."""

    def build_and_send() -> bytes:
        filled: TxParams = {
            **params,
            "nonce": web3.eth.get_transaction_count(account.address, "pending"),
            "chainId": web3.eth.chain_id,
        }
        transaction = filled if build is None else build(filled)
        signed = account.sign_transaction(cast(dict[str, Any], transaction))
        return bytes(web3.eth.send_raw_transaction(signed.raw_transaction))

    tx_hash = call_with_retries(rpc_url, what, build_and_send)
    try:
        receipt = web3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=RECEIPT_TIMEOUT_SECONDS)
    except TimeExhausted as error:
        raise ChainUnreachable(
            f"{what}: no receipt for 0x{tx_hash.hex()} within {RECEIPT_TIMEOUT_SECONDS:g} s"
        ) from error
    return tx_hash, receipt


def send_transaction(
    web3: Web3,
    rpc_url: str,
    contract: Contract,
    account: LocalAccount,
    call: ContractFunction,
    *,
    value: int = 0,
) -> SentTransaction:
    """Estimate (a revert surfaces here, decoded), sign with `account`, send, wait for the receipt.

    A receipt with status 0 (reverted after the estimate passed, e.g. the epoch turned) is replayed as
    a call at its block to name the error."""
    name = call.fn_name
    sender: TxParams = {"from": account.address, "value": Wei(value)}
    try:
        gas = call_with_retries(rpc_url, f"estimate {name}", lambda: call.estimate_gas(sender))
    except (ContractCustomError, ContractLogicError) as error:
        raise decode_revert(contract, name, error) from error
    except Web3RPCError as error:
        raise TransactionReverted(name, str(error)) from error

    params: TxParams = {**sender, "gas": int(gas * GAS_HEADROOM)}
    tx_hash, receipt = sign_and_send(web3, rpc_url, account, f"send {name}", params, call.build_transaction)
    if receipt["status"] != 1:
        try:
            call.call(sender, block_identifier=receipt["blockNumber"])
        except (ContractCustomError, ContractLogicError) as error:
            raise decode_revert(contract, name, error) from error
        raise TransactionReverted(name, f"reverted in block {receipt['blockNumber']}")
    return SentTransaction(
        "0x" + tx_hash.hex(), int(receipt["blockNumber"]), int(receipt["gasUsed"]), receipt
    )


def deploy_contract(rpc_url: str, account: LocalAccount, compiled: CompiledContract, *args: Any) -> str:
    """Deploy `compiled` with constructor `args` from `account`; returns the new contract's address
    (`RegistryError` if the deployment reverted)."""
    web3 = connect(rpc_url)
    factory = web3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
    constructor = factory.constructor(*args)
    sender: TxParams = {"from": account.address}
    what = f"deploy {compiled.name}"
    tx_hash, receipt = sign_and_send(web3, rpc_url, account, what, sender, constructor.build_transaction)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise RegistryError(f"{what}: transaction 0x{tx_hash.hex()} failed")
    return str(receipt["contractAddress"])
