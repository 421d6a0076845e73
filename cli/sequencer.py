"""`das sequencer deposit | withdraw | balance`: a sequencer's escrow, which backs the payment promises
`das blob post` signs (specs/validator.md, "Payments").

The escrow is where the registry is: tables in the registry file (`--registry FILE`, a one-host
devnet: balances are numbers, no money moves) or the payments contract on the registry's chain
(`--rpc URL --registry-address R --payments-address P`: deposits are ether sent with the call).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

from cli.paying import add_account_arguments, load_private_key
from cli.registry_args import add_registry_arguments, registry_location
from validator.errors import RegistryError, ValidatorError
from validator.payments.port import EscrowAccount, EscrowBalance, EscrowReader
from validator.registry.backends import ChainLocation

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_UNITS: Final = {"wei": 1, "gwei": 10**9, "eth": 10**18, "ether": 10**18}

_WITHDRAW_HELP = (
    "Withdrawing takes two steps, so that no node is left holding promises the escrow no longer "
    "backs. `withdraw --request AMOUNT` sets AMOUNT aside at once (it stops backing new promises; "
    "nodes refuse promises it would have covered) and starts the escrow's withdrawal delay, long "
    "enough for every node to settle what it accepted before (the SQLite devnet's: an hour; the "
    "anvil devnet's: 120 s; `balance` prints it and when the amount may go). After the delay, "
    "`withdraw` takes the pending amount out (exit 1, saying when, before then). A new request "
    "replaces or adds to the pending one and starts the delay again."
)


def amount_arg(text: str) -> int:
    """argparse type: an amount of wei, more than 0: `N` (wei) or `N` with a unit (`wei`, `gwei`,
    `eth`/`ether`; decimals allowed with a unit, as long as they make whole wei)."""
    lowered = text.strip().lower()
    unit = next((name for name in sorted(_UNITS, key=len, reverse=True) if lowered.endswith(name)), "wei")
    number = lowered.removesuffix(unit).strip() if lowered.endswith(unit) else lowered
    try:
        value = Decimal(number) * _UNITS[unit]
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"an amount is wei, or a number with gwei or ether (say 1000000, 5gwei, 0.1ether), not {text!r}"
        ) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of wei")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"an amount must be more than 0 wei, not {text!r}")
    return int(value)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das sequencer ...`."""
    parser = subparsers.add_parser(
        "sequencer", help="a sequencer's escrow that pays for dispersal", description=__doc__
    )
    commands = parser.add_subparsers(title="sequencer commands", metavar="COMMAND", required=True)
    deposit = commands.add_parser(
        "deposit",
        help="add to the account's escrow",
        description="Add AMOUNT to the escrow of --eth-keystore's account: what backs the promises "
        "`das blob post` signs (a node refuses a promise once all the account promised it, unsettled, "
        "passes the escrow). On a chain the amount is sent with the transaction. " + _WITHDRAW_HELP,
    )
    deposit.add_argument("amount", type=amount_arg, help="wei, or with a unit: 5gwei, 0.1ether")
    _common(deposit, account_required=True)
    deposit.set_defaults(run=run_deposit)
    withdraw = commands.add_parser(
        "withdraw",
        help="ask to withdraw, or take out a withdrawal after its delay",
        description=_WITHDRAW_HELP,
    )
    withdraw.add_argument(
        "--request", type=amount_arg, metavar="AMOUNT", help="set AMOUNT aside and start the delay"
    )
    _common(withdraw, account_required=True)
    withdraw.set_defaults(run=run_withdraw)
    balance = commands.add_parser(
        "balance",
        help="an account's escrow, the price and the withdrawal delay",
        description="Print an account's escrow (balance, pending withdrawal and when it may go, what "
        "backs promises), the price per byte, the minimum billed size and the withdrawal delay. "
        "The account is --account, or --eth-keystore's (read without its password).",
    )
    balance.add_argument("--account", metavar="0xADDR", help="the account (default: --eth-keystore's)")
    _common(balance, account_required=False)
    balance.set_defaults(run=run_balance)


def _common(parser: argparse.ArgumentParser, *, account_required: bool) -> None:
    add_registry_arguments(parser)
    parser.add_argument(
        "--payments-address", metavar="0xADDR", help="with --rpc: the payments contract (TesseraPayments)"
    )
    add_account_arguments(parser, required=account_required)
    parser.add_argument("--json", action="store_true", help="print JSON")


@dataclass
class _Escrow:
    """The opened escrow: its reader, the account's writer (None when only reading), and the
    backend's name and last transaction (chain only)."""

    reader: EscrowReader
    account: str
    writer: EscrowAccount | None
    backend: str
    close: Callable[[], None]
    transaction: Callable[[], str | None]


def _open(args: argparse.Namespace, *, writes: bool) -> _Escrow:
    """The escrow the registry options name, for the account of the options."""
    location = registry_location(args)
    key = load_private_key(args.eth_keystore, args.eth_password_file) if writes else None
    account = _account_of(args, key)
    if isinstance(location, ChainLocation):
        if not args.payments_address:
            raise RegistryError("--rpc needs --payments-address (the TesseraPayments contract's address)")
        from eth_account import Account  # noqa: PLC0415 - chain mode only

        from validator.registry.chain.payments import ChainPayments  # noqa: PLC0415 - loads web3

        chain = ChainPayments(
            location.rpc_url,
            args.payments_address,
            account=None if key is None else Account.from_key(key),
            registry_address=location.address,
            confirmations=location.confirmations,
            retry=location.retry,
        )

        def last_transaction() -> str | None:
            sent = chain.last_transaction
            return None if sent is None else str(sent.tx_hash)

        return _Escrow(chain, account, chain if writes else None, "chain", lambda: None, last_transaction)
    if args.payments_address is not None:
        raise RegistryError("--payments-address goes with --rpc, not with --registry")
    from validator.payments.sqlite_escrow import SqliteEscrow  # noqa: PLC0415

    escrow = SqliteEscrow(Path(location))
    writer = escrow.account(account) if writes else None
    return _Escrow(escrow, account, writer, "sqlite", escrow.close, lambda: None)


def _account_of(args: argparse.Namespace, key: bytes | None) -> str:
    """The account: the key's, `--account`, or the keystore's address field (no password needed)."""
    from eth_account import Account  # noqa: PLC0415 - only where an account is named
    from eth_utils.address import is_hex_address, to_checksum_address  # noqa: PLC0415

    if key is not None:
        return str(Account.from_key(key).address)
    text = getattr(args, "account", None)
    if text is None and args.eth_keystore is not None:
        text = _keystore_address(args.eth_keystore)
    if text is None:
        raise RegistryError("name the account: --account 0xADDR, or --eth-keystore FILE")
    if not is_hex_address(text):
        raise RegistryError(f"--account must be an address (0x and 40 hex digits), not {text[:50]!r}")
    return str(to_checksum_address(text))


def _keystore_address(path: Path) -> str:
    """The address a keystore names in the clear (every Web3 Secret Storage keystore has one)."""
    from validator.errors import InvalidKeystore, KeystoreNotFound  # noqa: PLC0415

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise KeystoreNotFound(str(path)) from error
    except (OSError, ValueError) as error:
        raise InvalidKeystore(f"not an Ethereum keystore: {error}", str(path)) from error
    address = document.get("address") if isinstance(document, dict) else None
    if not isinstance(address, str):
        raise InvalidKeystore("the keystore names no address: give --account", str(path))
    return address if address.startswith("0x") else "0x" + address


def _report(escrow: _Escrow, action: str, balance: EscrowBalance, amount: int | None) -> dict[str, Any]:
    terms = escrow.reader.price_terms()
    return {
        "action": action,
        "account": escrow.account,
        "backend": escrow.backend,
        "amount": None if amount is None else str(amount),
        "balance": str(balance.balance),
        "pending_withdrawal": str(balance.pending_withdrawal),
        "withdrawable_at": balance.withdrawable_at,
        "covered": str(balance.covered),
        "withdrawal_delay_s": escrow.reader.withdrawal_delay(),
        "price_per_byte": str(terms.price_per_byte),
        "min_billed_bytes": terms.min_billed_bytes,
        "transaction": escrow.transaction(),
    }


def _print(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(report, sort_keys=True))
        return
    if report["action"] != "balance":
        done = {"deposit": "deposited", "request_withdrawal": "set aside", "withdraw": "withdrew"}
        amount = f" {report['amount']} wei" if report["amount"] is not None else ""
        print(
            f"{done[report['action']]}{amount}"
            + (f" in {report['transaction']}" if report["transaction"] else "")
        )
    print(f"account     {report['account']} ({report['backend']} escrow)")
    print(f"balance     {report['balance']} wei, {report['covered']} backing promises")
    if report["withdrawable_at"] is not None:
        print(
            f"pending     {report['pending_withdrawal']} wei, "
            f"withdrawable from {report['withdrawable_at']} (unix time)"
        )
    print(
        f"price       {report['price_per_byte']} wei a byte, "
        f"at least {report['min_billed_bytes']} bytes billed"
    )
    print(f"delay       {report['withdrawal_delay_s']} s between asking to withdraw and withdrawing")


def _writer(escrow: _Escrow) -> EscrowAccount:
    if escrow.writer is None:
        raise RegistryError("this escrow was opened to read only")
    return escrow.writer


def run_deposit(args: argparse.Namespace) -> int:
    """Add to the escrow."""
    escrow = _open(args, writes=True)
    try:
        balance = _writer(escrow).deposit(args.amount)
        _print(_report(escrow, "deposit", balance, args.amount), args.json)
    finally:
        escrow.close()
    return EXIT_OK


def run_withdraw(args: argparse.Namespace) -> int:
    """Ask to withdraw, or withdraw (exit 1, saying when, while the delay runs or nothing is pending)."""
    escrow = _open(args, writes=True)
    try:
        if args.request is not None:
            balance = _writer(escrow).request_withdrawal(args.request)
            report = _report(escrow, "request_withdrawal", balance, args.request)
        else:
            before = escrow.reader.escrow_of(escrow.account)
            if before.pending_withdrawal == 0:
                print("das: nothing to withdraw: ask first with `withdraw --request AMOUNT`", file=sys.stderr)
                return EXIT_FAILED
            try:
                balance = _writer(escrow).withdraw()
            except ValidatorError as error:
                if not _not_ready(error):
                    raise
                print(f"das: not yet: {error}", file=sys.stderr)
                return EXIT_FAILED
            report = _report(escrow, "withdraw", balance, before.pending_withdrawal)
        _print(report, args.json)
    finally:
        escrow.close()
    return EXIT_OK


def _not_ready(error: ValidatorError) -> bool:
    """A withdrawal taken before its delay has passed: either backend's refusal."""
    from validator.payments.sqlite_escrow import WithdrawalNotReady  # noqa: PLC0415

    if isinstance(error, WithdrawalNotReady):
        return True
    return getattr(error, "error", None) in {"WithdrawalNotReady", "NothingPending"}  # the contract's


def run_balance(args: argparse.Namespace) -> int:
    """Print the escrow."""
    escrow = _open(args, writes=False)
    try:
        _print(_report(escrow, "balance", escrow.reader.escrow_of(escrow.account), None), args.json)
    finally:
        escrow.close()
    return EXIT_OK
