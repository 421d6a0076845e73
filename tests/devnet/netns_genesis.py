"""What `test_separate_hosts` runs inside a network namespace (the root one cannot reach the hosts),
each printing JSON on stdout: `python -m tests.devnet.netns_genesis COMMAND ...` from the checkout.

- `genesis --dir D --rpc-url URL --validators N --password-file F`: `create_chain_genesis` on the chain
  at URL, funded by the key in `$TESSERA_FUNDER_KEY` (anvil's first dev account), then a block a second
  and a wait for `genesisTime`; prints the `ChainGenesis`.
- `records --rpc-url URL --registry-address A`: the current epoch's validators as the registry contract
  holds them: `[{"index", "peer_id", "multiaddrs"}]`.
- `peers URL...`: each validator API's connected peer ids, `{url: [peer id, ...] or null}` (null: no
  answer yet).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import urllib.request
from pathlib import Path

from network.logs import configure_logging

FUNDER_KEY_ENV = "TESSERA_FUNDER_KEY"
GENESIS_TIMEOUT_S = 60.0
PEERS_TIMEOUT_S = 3.0
BLOCK_SECONDS = 1


def genesis(arguments: argparse.Namespace) -> object:
    """Deploy and fill the registry, start interval mining, wait for genesis; the `ChainGenesis`."""
    from eth_account import Account  # noqa: PLC0415 - only this command needs the chain libraries

    from validator.devnet import CHAIN_ID, LIGHT_SCRYPT  # noqa: PLC0415
    from validator.registry.chain.anvil import set_interval_mining  # noqa: PLC0415
    from validator.registry.chain.genesis import create_chain_genesis, wait_for_genesis  # noqa: PLC0415
    from validator.registry.genesis import GenesisSpec  # noqa: PLC0415

    spec = GenesisSpec(
        validators=arguments.validators,
        password=Path(arguments.password_file).read_text(),
        preset="devnet",
        chain_id=CHAIN_ID,
        epoch_seconds=3600.0,
        kdf_params=LIGHT_SCRYPT,
        key_description="separate hosts",
    )
    funder = Account.from_key(os.environ[FUNDER_KEY_ENV])
    result = create_chain_genesis(
        Path(arguments.dir), spec, arguments.rpc_url, funder, genesis_delay=4.0 + spec.validators
    )
    set_interval_mining(arguments.rpc_url, BLOCK_SECONDS)
    wait_for_genesis(arguments.rpc_url, result.genesis_time, timeout=GENESIS_TIMEOUT_S)
    return dataclasses.asdict(result)


def records(arguments: argparse.Namespace) -> object:
    """The current epoch's validator records, from the contract."""
    from validator.registry.chain.backend import ChainRegistry  # noqa: PLC0415

    with ChainRegistry(arguments.rpc_url, arguments.registry_address) as registry:
        context = registry.get_epoch_context(registry.current_epoch())
    return [
        {"index": int(r.index), "peer_id": r.peer_id, "multiaddrs": list(r.multiaddrs)}
        for r in context.validators
    ]


def peers(arguments: argparse.Namespace) -> object:
    """Each API's connected peer ids (None where it does not answer yet)."""
    answers: dict[str, list[str] | None] = {}
    for url in arguments.urls:
        try:
            with urllib.request.urlopen(url + "/v1/node/peers", timeout=PEERS_TIMEOUT_S) as response:
                answers[url] = [peer["peer_id"] for peer in json.loads(response.read())["peers"]]
        except (OSError, ValueError, KeyError):
            answers[url] = None
    return answers


def main(argv: list[str] | None = None) -> int:
    """Parse the command, run it, print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.devnet.netns_genesis")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("genesis")
    make.add_argument("--dir", required=True)
    make.add_argument("--rpc-url", required=True)
    make.add_argument("--validators", type=int, required=True)
    make.add_argument("--password-file", required=True)
    make.set_defaults(run=genesis)
    read = commands.add_parser("records")
    read.add_argument("--rpc-url", required=True)
    read.add_argument("--registry-address", required=True)
    read.set_defaults(run=records)
    ask = commands.add_parser("peers")
    ask.add_argument("urls", nargs="+")
    ask.set_defaults(run=peers)
    arguments = parser.parse_args(argv)
    configure_logging(verbose=False)  # records to stderr: stdout is the JSON
    sys.stdout.write(json.dumps(arguments.run(arguments)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
