"""`das validator keygen | account | genesis | register | deposit | withdraw | claim | stake | run |
settle`: keys, Ethereum accounts, a genesis registry, stake, the daemon, and the settlement of the
payment promises it holds. Stake commands work on a registry
file (`--registry`) and on the registry contract (`--rpc URL --registry-address A --eth-keystore E`),
and say which epoch a change takes effect (and, on a chain, its transaction)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.common import add_password_options, get_password, positive_int
from cli.progress import Progress
from cli.registry_args import add_registry_arguments, open_registry_from
from validator.devnet import LIGHT_SCRYPT
from validator.errors import KeystoreExists, RegistryError
from validator.keys import SecretKey, compute_proof_of_possession
from validator.keystore import (
    Keystore,
    decrypt_keystore,
    encrypt_keystore,
    get_keystore_pubkey,
    read_keystore,
    write_keystore,
)
from validator.presets import PRESETS, get_preset
from validator.registry import STAKE_ACTIVATION_DELAY_EPOCHS, Registry
from validator.registry.backends import open_registry
from validator.registry.genesis import GenesisSpec, create_genesis
from validator.types import ValidatorIndex

REGISTRY_FILE = "registry.sqlite"
DEFAULT_CHAIN_ID = 31337


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das validator ...`."""
    parser = subparsers.add_parser("validator", help="validator keys, genesis and stake")
    commands = parser.add_subparsers(title="validator commands", metavar="COMMAND", required=True)

    keygen = commands.add_parser(
        "keygen",
        help="create a BLS key in an encrypted EIP-2335 keystore",
        description="Generate a BLS12-381 key and write it to an EIP-2335 keystore (scrypt + AES-128-CTR). "
        "Prints the public key and its proof of possession; the secret never leaves the keystore.",
    )
    keygen.add_argument("--out", required=True, type=Path, help="keystore file to create (never overwritten)")
    keygen.add_argument(
        "--light-kdf", action="store_true", help="weaker scrypt (n=2^14) for throwaway devnet keys"
    )
    add_password_options(keygen)
    keygen.set_defaults(run=run_keygen)

    genesis = commands.add_parser(
        "genesis",
        help="create a registry (and keys) for N validators",
        description="Create DIR/registry.sqlite with N validators staked from epoch 0, their epoch-0 "
        "ballots and the genesis seed, and DIR/keys/validator-I.json keystores for them.",
    )
    genesis.add_argument("--validators", type=positive_int, required=True, help="number of validators")
    genesis.add_argument("--dir", type=Path, required=True, help="directory to create the network in")
    genesis.add_argument("--preset", choices=sorted(PRESETS), default="devnet", help="protocol preset")
    genesis.add_argument("--chain-id", type=positive_int, default=DEFAULT_CHAIN_ID, help="chain id")
    genesis.add_argument("--epoch-seconds", type=float, default=600.0, help="epoch length in seconds")
    genesis.add_argument("--slots", type=positive_int, default=1, help="slots of stake per validator")
    genesis.add_argument("--light-kdf", action="store_true", help="weaker scrypt for throwaway devnet keys")
    add_password_options(genesis)
    genesis.set_defaults(run=run_genesis)

    stake = commands.add_parser(
        "stake",
        help=f"register or change stake (effective {STAKE_ACTIVATION_DELAY_EPOCHS} epochs later)",
        description="Deposit stake for the keystore's validator (registering it with its proof of "
        "possession if new), or withdraw with --withdraw. Changes take effect "
        f"{STAKE_ACTIVATION_DELAY_EPOCHS} epochs later, after an epoch seed nobody could know today.",
    )
    stake.add_argument("--registry", type=Path, required=True, help="registry file")
    stake.add_argument("--keystore", type=Path, required=True, help="the validator's keystore")
    stake.add_argument(
        "--amount", type=positive_int, required=True, help="stake units to deposit or withdraw"
    )
    stake.add_argument("--withdraw", action="store_true", help="withdraw instead of deposit")
    stake.add_argument("--peer-id", default="", help="libp2p peer id to record when registering")
    stake.add_argument(
        "--multiaddr", action="append", default=[], help="listen address to record (repeatable)"
    )
    add_password_options(stake)
    stake.set_defaults(run=run_stake)

    account = commands.add_parser(
        "account",
        help="create an Ethereum account keystore (signs a chain registry's transactions)",
        description="Create an Ethereum account in an encrypted keystore (Web3 Secret Storage JSON, as "
        "geth and wallets write). Fund its address; it pays for registration, ballots and endpoint "
        "updates on a chain registry. Prints the address.",
    )
    account.add_argument(
        "--out", required=True, type=Path, help="keystore file to create (never overwritten)"
    )
    account.add_argument(
        "--light-kdf", action="store_true", help="weaker scrypt for throwaway devnet accounts"
    )
    add_password_options(account)
    account.add_argument("--json", action="store_true", help="print the address as JSON")
    account.set_defaults(run=run_account)

    for name, helptext in (
        ("register", "register the keystore's validator with AMOUNT stake units"),
        ("deposit", "add AMOUNT stake units to the keystore's validator"),
        ("withdraw", "withdraw AMOUNT stake units from the keystore's validator"),
    ):
        command = commands.add_parser(
            name,
            help=f"{helptext} (effective {STAKE_ACTIVATION_DELAY_EPOCHS} epochs later)",
            description=f"{helptext[0].upper()}{helptext[1:]}. The change takes effect "
            f"{STAKE_ACTIVATION_DELAY_EPOCHS} epochs later (at epoch 0 before a chain registry's genesis); "
            "the command prints that epoch and, on a chain, the transaction. Stake units are gwei "
            "(STAKE_PER_SLOT = 32e9 buys one slot); on a chain the amount is sent from the account.",
        )
        command.add_argument("--keystore", type=Path, required=True, help="the validator's BLS keystore")
        command.add_argument("--amount", type=positive_int, required=True, help="stake units (gwei)")
        if name == "register":
            command.add_argument("--peer-id", default="", help="libp2p peer id to record")
            command.add_argument(
                "--multiaddr", action="append", default=[], help="listen address (repeatable)"
            )
        add_registry_arguments(command, signs=True)
        add_password_options(command)
        command.add_argument("--json", action="store_true", help="print the receipt as JSON")
        command.set_defaults(run=run_stake_change, action=name)

    claim = commands.add_parser(
        "claim",
        help="collect withdrawn stake whose epoch has started (chain registries)",
        description="Pay the account every withdrawal of its validator whose effective epoch has started.",
    )
    add_registry_arguments(claim, signs=True)
    claim.add_argument("--json", action="store_true", help="print the transaction as JSON")
    claim.set_defaults(run=run_claim)

    _add_daemon_parsers(commands)


def _add_daemon_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`das validator run` and `das validator settle`."""
    run = commands.add_parser(
        "run",
        help="run the validator daemon",
        description="Run one validator: libp2p service, validator core, durable store, HTTP API "
        "(POST /v1/blobs, GET /v1/blobs/{root}[/certificate|/header|/data], /metrics), encoder pool. "
        "Stops cleanly on SIGINT/SIGTERM.",
    )
    run.add_argument("--config", type=Path, required=True, help="daemon config file (TOML)")
    run.set_defaults(run=run_validator)
    settle = commands.add_parser(
        "settle",
        help="settle the payment promises this validator holds (now, beside the automatic interval)",
        description="Settle the highest payment promise the validator holds from each account, above "
        "what was settled, in batches of settle_batch: the escrow pays the node once per promise. Safe "
        "while the daemon runs, and after a crash (what was paid is read back from the escrow).",
    )
    settle.add_argument("--config", type=Path, required=True, help="the validator's daemon config file")
    settle.add_argument("--json", action="store_true", help="print what was settled as JSON")
    settle.set_defaults(run=run_settle)


def run_validator(args: argparse.Namespace) -> int:
    """Run the daemon (imports the daemon only here: it pulls in trio, libp2p and aiohttp)."""
    from validator.daemon.config import load_config  # noqa: PLC0415
    from validator.daemon.main import run_daemon  # noqa: PLC0415

    return run_daemon(load_config(args.config))


def run_settle(args: argparse.Namespace) -> int:
    """Settle the held promises of the validator configured in `--config`."""
    from validator.daemon.config import load_config  # noqa: PLC0415 - the daemon's modules only here
    from validator.daemon.payments import compute_default_payee, settle_all  # noqa: PLC0415
    from validator.daemon.store import NodeStore  # noqa: PLC0415
    from validator.payments.backends import open_escrow  # noqa: PLC0415

    config = load_config(args.config)
    if not config.payments:
        raise RegistryError(f"{args.config} runs with payments = false: it holds no promises")
    payee = config.payee or _eth_keystore_address(config.eth_keystore)
    if payee is None:
        payee = compute_default_payee(get_keystore_pubkey(read_keystore(config.keystore)))
    account = None
    if config.payments_address is not None:  # a chain: the node's account sends the settlements
        from validator.daemon.main import load_eth_account  # noqa: PLC0415
        from validator.passwords import resolve_password  # noqa: PLC0415

        password = resolve_password(password_file=config.password_file, env_var=config.password_env)
        account = load_eth_account(config, password)
    escrow = open_escrow(config.registry_location, payments_address=config.payments_address, account=account)
    store = NodeStore(config.data_dir / "node.sqlite")
    try:
        rounds = settle_all(store, escrow, escrow, payee, config.settle_batch)
    finally:
        store.close()
        escrow.close()
    paid = sum(r.receipt.paid for r in rounds if r.receipt is not None)
    accounts = sorted({account for r in rounds for account in r.accounts})
    report = {
        "payee": payee,
        "promises": sum(r.sent for r in rounds),
        "paid": str(paid),
        "accounts": accounts,
        "transactions": [r.receipt.transaction for r in rounds if r.receipt and r.receipt.transaction],
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"payee       {payee}")
    print(f"settled     {report['promises']} promise(s) of {len(accounts)} account(s): {paid} wei paid")
    return 0


def _eth_keystore_address(path: Path | None) -> str | None:
    """The address an Ethereum account keystore names (no password needed), if there is one."""
    if path is None:
        return None
    from eth_utils.address import to_checksum_address  # noqa: PLC0415

    address = json.loads(path.read_text()).get("address")
    return None if not isinstance(address, str) else str(to_checksum_address(address))


def run_keygen(args: argparse.Namespace) -> int:
    """Create one keystore."""
    if args.out.exists():
        raise KeystoreExists(str(args.out))
    password = get_password(args, confirm=True)
    secret_key = SecretKey.generate()
    keystore = encrypt_keystore(secret_key, password, kdf_params=LIGHT_SCRYPT if args.light_kdf else None)
    write_keystore(args.out, keystore)
    print(f"keystore    {args.out}")
    print(f"pubkey      0x{secret_key.pubkey.hex()}")
    print(f"pop         0x{compute_proof_of_possession(secret_key).hex()}")
    return 0


def run_genesis(args: argparse.Namespace) -> int:
    """Create keys and a registry for N validators, with epoch-0 ballots."""
    preset = get_preset(args.preset)
    spec = GenesisSpec(
        validators=args.validators,
        password=get_password(args, confirm=True),
        preset=preset.name,
        chain_id=args.chain_id,
        epoch_seconds=args.epoch_seconds,
        slots=args.slots,
        kdf_params=LIGHT_SCRYPT if args.light_kdf else None,
        key_description=f"tessera {preset.name} validator",
    )
    registry_path = create_genesis(args.dir, spec, Progress("creating validators"))
    print(f"preset      {preset.name}")
    print(f"registry    {registry_path}")
    print(f"validators  {args.validators} x {args.slots} slot(s), chain id {spec.chain_id}")
    print(f"keys        {args.dir / 'keys'}")
    return 0


def run_account(args: argparse.Namespace) -> int:
    """Create one Ethereum account keystore."""
    from validator.registry.chain.accounts import create_account_keystore  # noqa: PLC0415 - eth-account

    if args.out.exists():
        raise KeystoreExists(str(args.out))
    created = create_account_keystore(args.out, get_password(args, confirm=True), light_kdf=args.light_kdf)
    if args.json:
        print(json.dumps({"keystore": str(args.out), "address": created.address}))
    else:
        print(f"keystore    {args.out}")
        print(f"address     {created.address}")
    return 0


def run_stake_change(args: argparse.Namespace) -> int:
    """`register`, `deposit` or `withdraw` for the keystore's validator; prints the receipt."""
    keystore = read_keystore(args.keystore)
    pubkey = get_keystore_pubkey(keystore)
    with open_registry_from(args, signs=True) as registry:
        now = registry.current_epoch()
        index = registry.find_validator(pubkey)
        if args.action == "register":
            if index is not None:
                raise RegistryError(f"this key is already validator {index}: use `das validator deposit`")
            _register(registry, keystore, args)
        else:
            if index is None:
                raise RegistryError("this key is not registered: use `das validator register` first")
            amount = -args.amount if args.action == "withdraw" else args.amount
            registry.change_stake(ValidatorIndex(index), amount)
        receipt = registry.last_change
        preset = registry.get_info().preset
    if receipt is None:
        raise RegistryError("the registry recorded no change")
    report = {
        "action": args.action,
        "validator": receipt.validator,
        "amount": args.amount,
        "effective_epoch": receipt.effective_epoch,
        "current_epoch": now,
        "transaction": receipt.transaction,
        "preset": preset,
    }
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    print(f"validator   {receipt.validator} {args.action} {args.amount} stake units")
    print(f"effective   epoch {receipt.effective_epoch} (now epoch {now})")
    if receipt.transaction is not None:
        print(f"transaction {receipt.transaction}")
    return 0


def _register(registry: Registry, keystore: Keystore, args: argparse.Namespace) -> ValidatorIndex:
    """Register the keystore's key with `--amount` (decrypting it: the proof of possession needs it)."""
    secret_key = decrypt_keystore(keystore, get_password(args))
    return registry.register_validator(
        secret_key.pubkey,
        registry.sign_registration(secret_key),
        args.amount,
        peer_id=args.peer_id,
        multiaddrs=tuple(args.multiaddr),
    )


def run_claim(args: argparse.Namespace) -> int:
    """Collect matured withdrawals (chain registries only)."""
    from validator.registry.chain.agreement import AgreeingRegistry  # noqa: PLC0415 - web3 only here
    from validator.registry.chain.backend import ChainRegistry  # noqa: PLC0415

    with open_registry_from(args, signs=True) as registry:
        if not isinstance(registry, ChainRegistry | AgreeingRegistry):
            raise RegistryError("a registry file pays nothing out: claim is for chain registries")
        sent = registry.claim_withdrawals()
    if args.json:
        print(
            json.dumps({"transaction": sent.tx_hash, "block": sent.block_number, "gas_used": sent.gas_used})
        )
    else:
        print(f"claimed     in transaction {sent.tx_hash} (block {sent.block_number})")
    return 0


def run_stake(args: argparse.Namespace) -> int:
    """Deposit or withdraw for the keystore's validator."""
    keystore = read_keystore(args.keystore)
    pubkey = get_keystore_pubkey(keystore)
    with open_registry(args.registry) as registry:
        info = registry.get_info()
        now = registry.current_epoch()
        index = registry.find_validator(pubkey)
        if index is None:
            if args.withdraw:
                raise RegistryError("this validator is not registered; nothing to withdraw")
            index = _register(registry, keystore, args)
            action = "registered with"
        else:
            registry.change_stake(ValidatorIndex(index), -args.amount if args.withdraw else args.amount)
            action = "withdrew" if args.withdraw else "deposited"
        receipt = registry.last_change
    if receipt is None:
        raise RegistryError("the registry recorded no change")
    effective = receipt.effective_epoch
    print(f"preset      {info.preset}")
    print(f"validator   {index} {action} {args.amount} (effective at epoch {effective}; now epoch {now})")
    return 0
