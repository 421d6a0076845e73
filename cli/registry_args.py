"""The registry options every command that reads or writes a registry takes: a file (`--registry`),
or a contract on a chain (`--rpc URL --registry-address 0x...`), plus the Ethereum account that signs
a chain registry's transactions (`--eth-keystore`)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from validator.errors import RegistryError
from validator.passwords import resolve_password
from validator.registry import Registry
from validator.registry.backends import MAX_CONFIRMATIONS, ChainLocation, RegistryLocation, open_registry
from validator.registry.chain.retry import DEFAULT_RETRY_POLICY, RetryPolicy, validate_rpc_quorum


def add_registry_arguments(parser: argparse.ArgumentParser, *, signs: bool = False) -> None:
    """`--registry FILE` or `--rpc URL --registry-address A` (one of them required); with `signs`,
    also `--eth-keystore FILE` and `--eth-password-file FILE` for a chain registry's transactions."""
    group = parser.add_argument_group("registry (a file on this host, or a contract on a chain)")
    where = group.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--registry", type=Path, metavar="FILE", help="the embedded registry file (a one-host devnet)"
    )
    where.add_argument(
        "--rpc",
        metavar="URL",
        action="append",
        help="JSON-RPC URL of the chain holding the registry contract (with --registry-address); "
        "repeat it to read through several RPCs, which must agree on every verdict (--rpc-quorum)",
    )
    group.add_argument(
        "--rpc-quorum",
        type=int,
        metavar="K",
        help="with several --rpc: how many must give the same answer (default: all; more than half); "
        "a disagreement is an error naming it (exit 2), never a silent pick",
    )
    group.add_argument(
        "--registry-address", metavar="0xADDR", help="the Tessera registry contract (with --rpc)"
    )
    group.add_argument(
        "--rpc-retry",
        metavar="ATTEMPTS,SECONDS",
        help="with --rpc: retry each request on transient answers (429, 5xx, timeouts, dropped "
        "connections, JSON-RPC rate limits) at most ATTEMPTS times and SECONDS in all (default 8,60)",
    )
    group.add_argument(
        "--confirmations",
        type=int,
        metavar="N",
        help=(
            "with --rpc: read the registry N blocks behind the chain's head, so stake, ballots and "
            "epochs come from blocks a reorg will not replace (default 12; 0 on anvil's dev chain 31337)"
        ),
    )
    if signs:
        group.add_argument(
            "--eth-keystore",
            type=Path,
            metavar="FILE",
            help="Ethereum account keystore (encrypted JSON) that signs and pays for the transactions",
        )
        group.add_argument(
            "--eth-password-file",
            type=Path,
            metavar="FILE",
            help="its password (default: prompt, or the TESSERA_ETH_PASSWORD environment variable)",
        )


def registry_location(args: argparse.Namespace) -> RegistryLocation:
    """Where the arguments say the registry is; `RegistryError` naming the missing or stray option."""
    if args.rpc is not None:
        if not args.registry_address:
            raise RegistryError("--rpc needs --registry-address (the registry contract's address)")
        confirmations = args.confirmations
        if confirmations is not None and not 0 <= confirmations <= MAX_CONFIRMATIONS:
            raise RegistryError(f"--confirmations must be 0..{MAX_CONFIRMATIONS}, not {confirmations}")
        urls = tuple(args.rpc)
        if len(set(urls)) != len(urls):
            raise RegistryError("--rpc names the same URL twice: agreement needs distinct RPCs")
        quorum = getattr(args, "rpc_quorum", None)
        validate_rpc_quorum(quorum, len(urls))
        retry = _retry_policy(getattr(args, "rpc_retry", None))
        return ChainLocation(urls[0], args.registry_address, confirmations, urls[1:], quorum, retry)
    for option in ("rpc_quorum", "rpc_retry"):
        if getattr(args, option, None) is not None:
            raise RegistryError(f"--{option.replace('_', '-')} goes with --rpc, not with --registry")
    if args.registry_address is not None:
        raise RegistryError("--registry-address goes with --rpc, not with --registry")
    if args.confirmations is not None:
        raise RegistryError("--confirmations goes with --rpc, not with --registry")
    if not args.registry.is_file():
        raise RegistryError(f"no registry at {args.registry}")
    return Path(args.registry)


def _retry_policy(text: str | None) -> RetryPolicy:
    """`ATTEMPTS,SECONDS` as a `RetryPolicy` (the default for None); `RegistryError` naming the form."""
    if text is None:
        return DEFAULT_RETRY_POLICY
    try:
        attempts, seconds = text.split(",")
        policy = replace(DEFAULT_RETRY_POLICY, attempts=int(attempts), max_seconds=float(seconds))
    except ValueError as error:
        raise RegistryError(f"--rpc-retry takes ATTEMPTS,SECONDS (say 8,60), not {text!r}") from error
    return policy.validate()


def open_registry_from(args: argparse.Namespace, *, signs: bool = False) -> Registry:
    """Open the registry the arguments name; with `signs` and a chain registry, with the account of
    `--eth-keystore` (required then)."""
    location = registry_location(args)
    if not signs or not isinstance(location, ChainLocation):
        return open_registry(location)
    if getattr(args, "eth_keystore", None) is None:
        raise RegistryError(
            "a chain registry's transactions need --eth-keystore (an Ethereum account keystore)"
        )
    from validator.registry.chain.accounts import load_account  # noqa: PLC0415 - eth-account only here

    password = resolve_password(password_file=args.eth_password_file, env_var="TESSERA_ETH_PASSWORD")
    return open_registry(location, account=load_account(args.eth_keystore, password))
