"""Chain registry benchmark, in one run: gas per register / deposit / withdraw / ballot / endpoint
update on a real anvil chain; the time to read an epoch context cold (a fresh reader syncing every
log) and cached, for a registry of `--validators` validators; and `das devnet up --detach` with the
registry on anvil next to the SQLite devnet's (wall time, median of `--devnets` runs each).

Figures, not pass/fail. Run with `make bench` (or `python bench/bench_chain.py`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from network.logs import configure_logging
from validator.keys import SecretKey
from validator.presets import DEVNET
from validator.registry.chain.anvil import start_anvil
from validator.registry.chain.backend import ChainRegistry, deploy_registry
from validator.types import Epoch, Seed, ValidatorIndex
from validator.vrf import compute_ballot

GENESIS_SEED = Seed(hashlib.sha256(b"bench chain").digest())
DAS = (sys.executable, "-m", "cli.main")
CHAIN_ID = 31337
GAS_NAMES = ("register", "deposit", "withdraw", "castBallot", "updateEndpoint")


def _gas_and_contexts(validators: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch, start_anvil(Path(scratch), accounts=2) as anvil:
        funder = Account.from_key(anvil.private_keys[1])
        web3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
        now = int(web3.eth.get_block("latest")["timestamp"])
        address = deploy_registry(
            anvil.rpc_url,
            funder,
            genesis_time=now + 3600,
            epoch_seconds=600,
            genesis_seed=GENESIS_SEED,
            preset="devnet",
        )
        gas: dict[str, list[int]] = {name: [] for name in GAS_NAMES}
        keys = [SecretKey.from_seed(hashlib.sha256(b"bench key %d" % i).digest()) for i in range(validators)]
        for number, key in enumerate(keys):
            account = Account.create(secrets.token_hex(8))
            tx = {"from": funder.address, "to": account.address, "value": 10**21}
            web3.eth.wait_for_transaction_receipt(web3.eth.send_transaction(tx))  # type: ignore[arg-type]
            registry = ChainRegistry(anvil.rpc_url, address, account=account, sync_interval=0)
            sent: list[int] = []

            def record(registry: ChainRegistry = registry, sent: list[int] = sent) -> None:
                assert registry.last_transaction is not None
                sent.append(registry.last_transaction.gas_used)

            index = registry.register_validator(
                key.pubkey,
                registry.sign_registration(key),
                DEVNET.STAKE_PER_SLOT,
                f"12D3KooWbench{number}",
                (f"/ip4/127.0.0.1/tcp/{4000 + number}",),
            )
            record()
            registry.change_stake(index, DEVNET.STAKE_PER_SLOT)
            record()
            registry.change_stake(index, -DEVNET.STAKE_PER_SLOT // 2)
            record()
            ballot = compute_ballot(key, ValidatorIndex(index), CHAIN_ID, Epoch(0), GENESIS_SEED)
            registry.put_ballot(ballot)
            record()
            registry.update_endpoint(
                index, f"12D3KooWbench{number}", (f"/ip4/127.0.0.1/tcp/{5000 + number}",)
            )
            record()
            for name, used in zip(gas, sent, strict=True):
                gas[name].append(used)
        cold, cached = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            reader = ChainRegistry(anvil.rpc_url, address, sync_interval=0)
            context = reader.get_epoch_context(Epoch(0))
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            reader.get_epoch_context(Epoch(0))
            cached.append(time.perf_counter() - started)
        assert len(context.validators) == validators and len(context.ballots) == validators
    return {
        "gas": {name: statistics.median(values) for name, values in gas.items()},
        "context_cold_ms": 1000 * statistics.median(cold),
        "context_cached_ms": 1000 * statistics.median(cached),
        "validators": validators,
    }


def _devnet_up(chain: str, validators: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "devnet"
        started = time.perf_counter()
        up = subprocess.run(
            [
                *DAS,
                "devnet",
                "up",
                "--chain",
                chain,
                "--validators",
                str(validators),
                "--dir",
                str(directory),
                "--detach",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        elapsed = time.perf_counter() - started
        subprocess.run(
            [*DAS, "devnet", "down", "--dir", str(directory)], capture_output=True, timeout=120, check=False
        )
        if up.returncode != 0:
            raise SystemExit(f"devnet up --chain {chain} failed:\n{up.stdout}\n{up.stderr}")
        return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--validators", type=int, default=32, help="registry size for gas and contexts (default 32)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="cold/cached context reads (default 5)")
    parser.add_argument("--devnets", type=int, default=1, help="devnet starts per registry kind (default 1)")
    parser.add_argument("--devnet-validators", type=int, default=8, help="validators per devnet (default 8)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    configure_logging(verbose=False)  # the figures are the output
    figures = _gas_and_contexts(args.validators, args.repeats)
    for chain in ("sqlite", "anvil"):
        runs = [_devnet_up(chain, args.devnet_validators) for _ in range(args.devnets)]
        figures[f"devnet_up_{chain}_s"] = statistics.median(runs)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
        return
    print(f"gas per transaction (median over {figures['validators']} validators):")
    for name, value in figures["gas"].items():
        print(f"  {name:<15} {value:>9,.0f}")
    print(
        f"epoch context, {figures['validators']} validators: cold {figures['context_cold_ms']:.1f} ms, "
        f"cached {figures['context_cached_ms']:.3f} ms"
    )
    print(
        f"das devnet up --detach ({args.devnet_validators} validators, incl. the demo blob): "
        f"sqlite {figures['devnet_up_sqlite_s']:.1f} s, anvil {figures['devnet_up_anvil_s']:.1f} s"
    )


if __name__ == "__main__":
    main()
