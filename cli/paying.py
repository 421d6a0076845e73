"""The payment options of `das blob post` and `das sequencer`: the sequencer's Ethereum account
(`--eth-keystore`, `--eth-password-file`), its promises' lifetime and counter file, and what a
node's payment refusal tells the user to do."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import positive_int
from validator.api_client import NodeApiClient
from validator.errors import ApiFailure
from validator.passwords import resolve_password

if TYPE_CHECKING:  # eth-account takes about a second to import: only a paid post loads it
    from validator.payments.payer import NodePaymentTerms, Payer

DEMO_KEYSTORE = Path(".devnet/keys/sequencer.json")
"""`validator.devnet`'s DEFAULT_DIR / SEQUENCER_KEYSTORE, spelled out so that an unpaid post does not
import the devnet module (a test keeps them equal)."""
DEMO_PASSWORD_FILE = Path(".devnet/password.txt")
PASSWORD_ENV = "TESSERA_ETH_PASSWORD"  # noqa: S105 - a variable's name, not a password

_WHAT_TO_DO = {
    "payment_required": "this node takes payments: post with --eth-keystore (an account with an escrow: "
    "`das sequencer deposit`)",
    "insufficient_escrow": "deposit more into the account's escrow: `das sequencer deposit AMOUNT`",
    "promise_expired": "the promise expired before the node checked it: check this machine's clock, "
    "or give a longer --payment-ttl",
    "bad_payment_signature": "the promise's signature does not recover to its account",
    "wrong_payee": "the node's payee or payment domain changed since its terms were read: post again",
    "billed_size_mismatch": "the node bills this blob at another size: post again to read its terms anew",
    "promise_root_mismatch": "the promise names another data root than the blob the node computed",
    "promise_replayed": "the node holds a higher promise from this account than its counter says: post "
    "again (the counter resynchronises from the node)",
    "insufficient_increment": "the node holds more from this account than its counter says: post again",
    "malformed_payment": "the node could not parse the payment header",
}


def add_account_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """`--eth-keystore FILE` and `--eth-password-file FILE`."""
    _account_options(
        parser,
        keystore_help="the sequencer's Ethereum account keystore (encrypted JSON; `das validator "
        "account` makes one)",
        required=required,
    )


def _account_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, keystore_help: str, required: bool = False
) -> None:
    parser.add_argument("--eth-keystore", type=Path, metavar="FILE", required=required, help=keystore_help)
    parser.add_argument(
        "--eth-password-file",
        type=Path,
        metavar="FILE",
        help=f"its password (default: the {PASSWORD_ENV} environment variable, or a prompt)",
    )


DEMO_KEYSTORE_HELP = (
    "the sequencer's Ethereum account keystore; without it, on a devnet in ./.devnet whose node asks "
    "for payment on chain 31337, the devnet's demo account (.devnet/keys/sequencer.json) pays"
)


TTL_HELP = (
    "how long a promise is valid (default 600; keep it above --busy-timeout, "
    "since the same promise goes with each post made again after a 429)"
)
"""`--payment-ttl` of `das blob post`, which posts again after a 429 with the same promise."""


def add_payment_arguments(
    parser: argparse.ArgumentParser, keystore_help: str = DEMO_KEYSTORE_HELP, ttl_help: str = TTL_HELP
) -> None:
    """The account options, `--payment-ttl` (`ttl_help`: what bounds it for this command) and
    `--counters`."""
    group = parser.add_argument_group(
        "payment (a node that takes payments is paid with a signed promise from this account)"
    )
    _account_options(group, keystore_help=keystore_help)
    group.add_argument(
        "--payment-ttl",
        type=positive_int,
        default=None,
        metavar="SECONDS",
        help=ttl_help,
    )
    group.add_argument(
        "--counters",
        type=Path,
        metavar="FILE",
        help="the file of cumulative amounts promised to each node (default: beside the keystore, "
        "KEYSTORE.counters.sqlite); a promise's amount is written there before it is sent",
    )


def load_private_key(keystore: Path, password_file: Path | None) -> bytes:
    """The account key in `keystore` (`KeystoreNotFound`, `WrongPassword`, `InvalidKeystore` say
    what failed; `PasswordUnavailable` when no password source answers)."""
    from validator.registry.chain.accounts import load_account  # noqa: PLC0415 - eth-account only here

    password = resolve_password(password_file=password_file, env_var=PASSWORD_ENV)
    return bytes(load_account(keystore, password).key)


def open_payer(
    args: argparse.Namespace, client: NodeApiClient
) -> tuple[Payer | None, NodePaymentTerms | None]:
    """The payer the options name, and the node's terms read for it; (None, None) when no account is
    given and the devnet's demo account does not apply (the post then carries no promise)."""
    if args.eth_keystore is not None:
        return _open(args, client, args.eth_keystore, args.eth_password_file, demo=False)
    keystore, password_file = DEMO_KEYSTORE, DEMO_PASSWORD_FILE
    if not keystore.is_file() or not password_file.is_file():
        return None, None
    return _open(args, client, keystore, password_file, demo=True)


def _open(
    args: argparse.Namespace, client: NodeApiClient, keystore: Path, password_file: Path | None, *, demo: bool
) -> tuple[Payer | None, NodePaymentTerms | None]:
    key = load_private_key(keystore, password_file)
    from validator.devnet import CHAIN_ID  # noqa: PLC0415 - the heavy imports: a paid post only
    from validator.payments.counters import PromiseCounters, default_counters_path  # noqa: PLC0415
    from validator.payments.payer import DEFAULT_PAYMENT_TTL_S, Payer, read_node_terms  # noqa: PLC0415

    counters = PromiseCounters(args.counters or default_counters_path(keystore))
    payer = Payer(key, counters, args.payment_ttl or DEFAULT_PAYMENT_TTL_S)
    terms = read_node_terms(client, payer.account)
    if demo:
        if not terms.enabled or terms.domain is None or terms.domain.chain_id != CHAIN_ID:
            counters.close()
            return None, None
        print(f"das: paying with the devnet's demo account {payer.account} ({keystore})", file=sys.stderr)
    return payer, terms


def open_account_payer(args: argparse.Namespace) -> Payer | None:
    """The payer of `--eth-keystore` (its counters from `--counters`, else beside the keystore), for a
    long-running poster that reads each node's terms itself; None without `--eth-keystore`."""
    if args.eth_keystore is None:
        return None
    key = load_private_key(args.eth_keystore, args.eth_password_file)
    from validator.payments.counters import PromiseCounters, default_counters_path  # noqa: PLC0415
    from validator.payments.payer import DEFAULT_PAYMENT_TTL_S, Payer  # noqa: PLC0415 - eth-account

    counters = PromiseCounters(args.counters or default_counters_path(args.eth_keystore))
    return Payer(key, counters, args.payment_ttl or DEFAULT_PAYMENT_TTL_S)


def explain_refusal(error: ApiFailure) -> str:
    """The error line for a refused post: the code, the node's message, the code's own fields (what
    is missing), and what to do when it is a payment refusal."""
    fields = ", ".join(f"{name}={value}" for name, value in sorted(error.details.items()))
    line = f"{error.code}: {error.message}" + (f" ({fields})" if fields else "")
    advice = _WHAT_TO_DO.get(error.code)
    return line + (f"\n  {advice}" if advice else "")
