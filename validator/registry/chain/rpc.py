"""JSON-RPC to the registry contract (web3.py): bounded retries, typed errors, signed transactions.

Every request goes through `ResilientHTTPProvider`, which retries each transient answer (no
connection, a timeout, a dropped or garbled answer, HTTP 408/425/429/500/502/503/504, JSON-RPC -32005
or a generic code whose message says "rate limit", "busy", "header not found", ...) with exponential
backoff and full jitter, bounded in attempts and time (`RetryPolicy`). Every failure a caller can meet
is a `RegistryError` subclass that says what happened: the RPC gave no usable answer within the bound
(`ChainUnreachable`), it refused a request for good (`RpcRequestFailed`: method, endpoint, code),
the address holds no Tessera registry (`NotATesseraRegistry`), or a transaction was refused
(`TransactionReverted`, with the contract's custom error by name and its arguments, decoded from the
ABI, so `das validator withdraw` can say "WithdrawalExceedsStake").
"""

from __future__ import annotations

import json
import random
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
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import RPCEndpoint, RPCResponse, TxParams, Wei

from contracts.toolchain import CompiledContract, ToolchainError, load_contract
from validator.errors import RegistryError
from validator.registry.chain.retry import (
    DEFAULT_RETRY_POLICY,
    TRANSIENT_HTTP_STATUSES,
    RetryPolicy,
    is_transient_rpc_error,
)

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
RECEIPT_TIMEOUT_SECONDS: Final = 60.0
GAS_HEADROOM: Final = 1.25
"""Gas limit sent = estimate x this (estimates can fall short when storage is touched first)."""


class ChainUnreachable(RegistryError):
    """The JSON-RPC endpoint gave no usable answer within the retry bound (attempts and time): every
    answer was transient (no connection, timeout, HTTP 429/5xx, a JSON-RPC "try later")."""

    def __init__(self, method: str, endpoint: str, attempts: int, last: str) -> None:
        super().__init__(
            f"{method}: no answer from {endpoint} after {attempts} attempts, each transient ({last})"
        )
        self._reduce_args = (method, endpoint, attempts, last)
        self.method, self.endpoint, self.attempts, self.last = method, endpoint, attempts, last


class RpcRequestFailed(RegistryError):
    """The JSON-RPC endpoint refused a request for good (an HTTP status or a JSON-RPC error that
    retrying cannot change); `code` is the HTTP status or the JSON-RPC error code."""

    def __init__(self, method: str, endpoint: str, code: int | None, message: str) -> None:
        super().__init__(f"{method} refused by {endpoint}: code {code}: {message}")
        self._reduce_args = (method, endpoint, code, message)
        self.method, self.endpoint, self.code, self.message = method, endpoint, code, message


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


def _transient_exception(error: Exception) -> bool:
    """Whether an HTTP-level failure may clear: no connection, a timeout, a dropped or garbled
    answer, or a status of `TRANSIENT_HTTP_STATUSES`."""
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else None
        return status in TRANSIENT_HTTP_STATUSES
    return isinstance(
        error,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError | ConnectionError | TimeoutError
        | json.JSONDecodeError | UnicodeDecodeError,
    )  # fmt: skip


UNSAFE_TO_REPEAT: Final = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})
"""Methods repeated only on answers that prove the request was not acted on (429, a JSON-RPC
"try later"): after a dropped connection or a 5xx the transaction may be in a mempool already, and
`sign_and_send` decides (it re-reads the pending nonce)."""


CONTRACT_CALLS: Final = frozenset({"eth_call", "eth_estimateGas", "eth_sendRawTransaction"})
"""Methods whose permanent JSON-RPC errors go on to web3, which decodes reverts and custom errors."""


class ResilientHTTPProvider(HTTPProvider):
    """web3's HTTP provider with our retry rule (web3's own is switched off): every transient answer
    is retried under a `RetryPolicy`; a permanent one raises `RpcRequestFailed` naming the method,
    the endpoint and the code; reverts pass through to web3, which decodes them."""

    def __init__(self, endpoint: str, policy: RetryPolicy, rng: random.Random | None = None) -> None:
        super().__init__(
            endpoint,
            request_kwargs={"timeout": RPC_TIMEOUT_SECONDS},
            exception_retry_configuration=None,
        )
        self.policy = policy.validate()
        self._rng = rng if rng is not None else random.Random()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Send one request, retried while the answer is transient and the bound allows."""
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = super().make_request(method, params)
            except (requests.RequestException, OSError, ValueError) as error:
                if not _transient_exception(error) or (
                    method in UNSAFE_TO_REPEAT and not _proves_not_acted_on(error)
                ):
                    raise self._permanent(method, error) from error
                last = _describe(error)
            else:
                rpc_error = response.get("error") if isinstance(response, dict) else None
                if rpc_error is None or (not is_transient_rpc_error(rpc_error) and method in CONTRACT_CALLS):
                    return response  # web3 decodes a call's refusal (a revert, a custom error)
                if not is_transient_rpc_error(rpc_error):
                    code = rpc_error.get("code") if isinstance(rpc_error, dict) else None
                    message = str(rpc_error.get("message") if isinstance(rpc_error, dict) else rpc_error)
                    raise RpcRequestFailed(
                        method, str(self.endpoint_uri), code if isinstance(code, int) else None, message
                    )
                last = f"JSON-RPC {rpc_error.get('code')}: {rpc_error.get('message')}"
            pause = self.policy.pause(attempt, self._rng)
            spent = time.monotonic() - started + pause
            if attempt >= self.policy.attempts or spent > self.policy.max_seconds:
                raise ChainUnreachable(str(method), str(self.endpoint_uri), attempt, last)
            log.debug("rpc retry", method=method, endpoint=self.endpoint_uri, attempt=attempt, error=last)
            time.sleep(pause)

    def _permanent(self, method: str, error: Exception) -> RegistryError:
        if isinstance(error, requests.HTTPError) and error.response is not None:
            return RpcRequestFailed(method, str(self.endpoint_uri), error.response.status_code, str(error))
        if _transient_exception(error):
            return ChainUnreachable(method, str(self.endpoint_uri), 1, _describe(error))
        return RpcRequestFailed(method, str(self.endpoint_uri), None, _describe(error))


def _proves_not_acted_on(error: Exception) -> bool:
    return (
        isinstance(error, requests.HTTPError)
        and error.response is not None
        and error.response.status_code == 429
    )


def _describe(error: Exception) -> str:
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code}"
    return type(error).__name__


def connect(rpc_url: str, policy: RetryPolicy = DEFAULT_RETRY_POLICY) -> Web3:
    """A web3 client of `rpc_url` whose every request is retried under `policy`."""
    return Web3(ResilientHTTPProvider(rpc_url, policy))


def call_with_retries(rpc_url: str, what: str, function: Callable[[], T]) -> T:
    """`function()` (its requests retry in `ResilientHTTPProvider`); a JSON-RPC error web3 raises
    that is not a revert becomes `RpcRequestFailed` naming `what`, the URL and the code."""
    try:
        return function()
    except (ContractLogicError, ContractCustomError):
        raise
    except Web3RPCError as error:
        response = error.rpc_response or {}
        rpc_error = response.get("error") if isinstance(response, dict) else None
        code = rpc_error.get("code") if isinstance(rpc_error, dict) else None
        raise RpcRequestFailed(what, rpc_url, code if isinstance(code, int) else None, str(error)) from error


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
    except (ContractLogicError, ContractCustomError, RpcRequestFailed, ValueError) as error:
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
            what, rpc_url, 1, f"no receipt for 0x{tx_hash.hex()} within {RECEIPT_TIMEOUT_SECONDS:g} s"
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
