"""A whole Tessera network on 127.0.0.1: a genesis, N `das validator run` processes and their files.

`Devnet(directory)` creates the network (keys, password, registry, one config per validator), starts
and stops validator processes in their own sessions, and waits (bounded) until they are connected.
`das devnet`, the end-to-end tests and the benches drive it; it prints nothing.

Files: `devnet.json` (validator count and pids, written atomically), `password.txt`,
`registry.sqlite`, `keys/validator-I.json`, `node-I.toml`, `node-I.log`, `node-I/` (its data
directory, with the `node.json` the running validator writes about itself), `keys/sequencer.json`
(the demo sequencer's Ethereum account, encrypted with `password.txt`, with an escrow deposit: it
pays for the demo's posts and for `das blob post` run beside `.devnet`; `validator.payments.demo`)
and the counters of what it promised each node, `keys/sequencer.json.counters.sqlite`.

With `chain="anvil"` there is no registry file: an anvil chain (`chain/`: its log, and its state,
saved every 2 s and at a clean stop, so a restart finds the registry again) holds the registry
contract, `keys/eth-I.json` are the validators' Ethereum accounts, and `chain.json` says where the
chain and the contracts are (registry, certificate verifier, payments escrow).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validator.api_client import NodeApiClient
from validator.errors import ApiFailure, DevnetError
from validator.registry.backends import ChainLocation, RegistryLocation
from validator.registry.genesis import REGISTRY_FILE, GenesisSpec, create_genesis

if TYPE_CHECKING:
    from validator.registry.chain.anvil import Anvil

DEFAULT_DIR = Path(".devnet")
STATE_FILE = "devnet.json"
CHAIN_ID = 31337
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
LIGHT_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""Weaker keystore encryption for throwaway devnet keys."""
VALIDATOR_COMMAND = (sys.executable, "-m", "cli.main", "validator", "run", "--config")
PASSWORD_FILE = "password.txt"  # noqa: S105 - a file's name, not a password
"""The devnet's one password: its validator keystores' and its demo sequencer's."""
SEQUENCER_KEYSTORE = Path("keys/sequencer.json")
"""The demo sequencer's Ethereum account keystore, funded with an escrow at creation."""
CHAIN_FILE = "chain.json"
CHAIN_DIR = "chain"
CHAINS = ("sqlite", "anvil")
"""Where a devnet keeps its registry: a SQLite file, or a contract on a local anvil chain."""
ENCODER_WORKERS_LINE = re.compile(r"^encoder_workers = \d+$", re.MULTILINE)
"""A node config's `encoder_workers` line: node-N.toml says 0 (a thread; what `das validator settle
--config node-N.toml` and other offline commands read), and `start_node` writes the run's count."""
BLOCK_SECONDS = 1
"""The devnet chain's block time: its clock (block timestamps) moves every second, as a chain's does."""

ReadyProgress = Callable[[int, int], None]
"""Called with (validators ready, validators wanted) while waiting for a devnet to connect."""


class Devnet:
    """The devnet in `directory` and the validator processes this process started for it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._anvil: Anvil | None = None

    @property
    def registry_path(self) -> Path:
        """The devnet's registry file (not used on a chain)."""
        return self.directory / REGISTRY_FILE

    def chain_info(self) -> dict[str, Any] | None:
        """Where the devnet's chain and registry contract are (`chain.json`), or None on SQLite."""
        path = self.directory / CHAIN_FILE
        return dict(json.loads(path.read_text())) if path.exists() else None

    def registry_location(self) -> RegistryLocation:
        """The devnet's registry: its file, or its contract on the devnet chain."""
        chain = self.chain_info()
        if chain is None:
            return self.registry_path
        return ChainLocation(str(chain["rpc_url"]), str(chain["registry_address"]))

    # --- files ----------------------------------------------------------------------------------

    def exists(self) -> bool:
        """True once `create` has run in this directory."""
        return (self.directory / STATE_FILE).exists()

    def load_state(self) -> dict[str, Any]:
        """The state file: `validators`, `pids` (by index, as strings), `created`."""
        path = self.directory / STATE_FILE
        if not path.exists():
            raise DevnetError(
                f"no devnet in {self.directory}: run `das devnet up --dir {self.directory}` first"
            )
        return dict(json.loads(path.read_text()))

    def _save_state(self, state: dict[str, Any]) -> None:
        temporary = self.directory / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        os.replace(temporary, self.directory / STATE_FILE)

    def validator_count(self) -> int:
        """How many validators the devnet has."""
        return int(self.load_state()["validators"])

    def create(
        self, validators: int, epoch_seconds: float = 3600.0, chain: str = "sqlite", payments: bool = True
    ) -> None:
        """Keys, password, genesis registry (epoch-0 stake and ballots, and its escrow) and one config
        per validator; with `chain="anvil"`, the registry is a contract on an anvil chain this devnet
        runs. `payments`: posts must be paid (False: a private network, posts are taken unpaid)."""
        if chain not in CHAINS:
            raise DevnetError(f"unknown chain {chain!r}: choose one of {', '.join(CHAINS)}")
        self.directory.mkdir(parents=True, exist_ok=True)
        password = secrets.token_hex(16)
        password_file = self.directory / PASSWORD_FILE
        password_file.write_text(password)
        password_file.chmod(0o600)
        spec = GenesisSpec(
            validators=validators,
            password=password,
            preset="devnet",
            chain_id=CHAIN_ID,
            epoch_seconds=epoch_seconds,
            kdf_params=LIGHT_SCRYPT,
            key_description="devnet",
        )
        if chain == "anvil":
            where = self._create_on_anvil(spec, payments)
        else:
            create_genesis(self.directory, spec)
            where = f'registry = "{REGISTRY_FILE}"\n' + ("" if payments else "payments = false\n")
        self._create_demo_sequencer(password)
        for number in range(validators):
            (self.directory / f"node-{number}.toml").write_text(
                where.replace("NUMBER", str(number)) + f'keystore = "keys/validator-{number}.json"\n'
                f'password_file = "password.txt"\ndata_dir = "node-{number}"\nencoder_workers = 0\n'
            )
        self._save_state({"validators": validators, "pids": {}, "created": time.time()})

    def _create_demo_sequencer(self, password: str) -> None:
        """The demo sequencer (`SEQUENCER_KEYSTORE`) and its escrow: in the registry file's escrow
        tables, or (anvil) in the payments contract, funded by the chain's funder."""
        from validator.payments import demo  # noqa: PLC0415 - eth-account, web3 on a chain

        chain = self.chain_info()
        keystore = self.directory / SEQUENCER_KEYSTORE
        account = demo.create_demo_keystore(keystore, password, deterministic=chain is not None)
        if chain is None:
            demo.fund_on_sqlite(self.registry_path, account)
            return
        if not chain.get("payments_address") or self._anvil is None:
            raise DevnetError("the devnet chain has no payments contract to fund the demo sequencer in")
        try:
            demo.fund_on_chain(
                str(chain["rpc_url"]),
                str(chain["payments_address"]),
                str(chain["registry_address"]),
                self._anvil.private_keys[0],
            )
        except BaseException:
            self.stop_chain()
            raise

    # --- the chain (chain="anvil") ---------------------------------------------------------------

    def _create_on_anvil(self, spec: GenesisSpec, payments: bool) -> str:
        """Start the devnet chain, deploy and fill the registry and the payments contract (the chain
        mines at once meanwhile, then every `BLOCK_SECONDS`), write `chain.json`; returns the config
        lines that point at them (`payments`: the nodes read the escrow of that contract)."""
        from eth_account import Account  # noqa: PLC0415 - chain mode only

        from validator.registry.chain.anvil import set_interval_mining, start_anvil  # noqa: PLC0415
        from validator.registry.chain.genesis import create_chain_genesis, wait_for_genesis  # noqa: PLC0415

        port = _free_port()
        anvil = start_anvil(self.directory / CHAIN_DIR, chain_id=spec.chain_id, accounts=1, port=port,
                            state_path=self.directory / CHAIN_DIR / "state.json")  # fmt: skip
        self._anvil = anvil
        try:
            funder = Account.from_key(anvil.private_keys[0])
            genesis = create_chain_genesis(
                self.directory, spec, anvil.rpc_url, funder, genesis_delay=4.0 + spec.validators
            )
            set_interval_mining(anvil.rpc_url, BLOCK_SECONDS)
            info = {
                "kind": "anvil",
                "rpc_url": genesis.rpc_url,
                "registry_address": genesis.registry_address,
                "verifier_address": genesis.verifier_address,
                "payments_address": genesis.payments_address,
                "chain_id": genesis.chain_id,
                "genesis_time": genesis.genesis_time,
                "port": port,
                "accounts": list(genesis.accounts),
                "pid": anvil.process.pid,
            }
            self._write_chain_info(info)
            wait_for_genesis(genesis.rpc_url, genesis.genesis_time, timeout=START_TIMEOUT_S)
        except BaseException:
            self.stop_chain()
            raise
        return (
            f'rpc_url = "{genesis.rpc_url}"\nregistry_address = "{genesis.registry_address}"\n'
            "confirmations = 0\n"  # anvil never reorganizes on its own: follow the head
            + (f'payments_address = "{genesis.payments_address}"\n' if payments else "payments = false\n")
            + 'eth_keystore = "keys/eth-NUMBER.json"\n'
        )

    def _write_chain_info(self, info: dict[str, Any]) -> None:
        temporary = self.directory / (CHAIN_FILE + ".tmp")
        temporary.write_text(json.dumps(info, indent=2))
        os.replace(temporary, self.directory / CHAIN_FILE)

    def start_chain(self) -> None:
        """Start the devnet chain again from its saved state (no-op on SQLite or when it runs)."""
        info = self.chain_info()
        if info is None or (self._anvil is not None and self._anvil.process.poll() is None):
            return
        pid = int(info.get("pid", 0))
        if pid > 0 and self.is_alive(pid):  # another `das devnet` process started it
            return
        from validator.registry.chain.anvil import start_anvil  # noqa: PLC0415 - chain mode only

        self._anvil = start_anvil(
            self.directory / CHAIN_DIR,
            chain_id=int(info["chain_id"]),
            accounts=1,
            port=int(info["port"]),
            state_path=self.directory / CHAIN_DIR / "state.json",
            block_time=BLOCK_SECONDS,
        )
        self._write_chain_info({**info, "pid": self._anvil.process.pid})

    def stop_chain(self) -> None:
        """Stop the devnet chain (it saves its state on the way out)."""
        if self._anvil is not None:
            self._anvil.stop()
            self._anvil = None
            return
        info = self.chain_info()
        pid = int(info.get("pid", 0)) if info is not None else 0
        if pid > 0 and self.is_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while self.is_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.is_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def node_info(self, index: int) -> dict[str, Any] | None:
        """What a running validator wrote about itself (API URL, peer id), or None if it is not up yet."""
        path = self.directory / f"node-{index}" / "node.json"
        return dict(json.loads(path.read_text())) if path.exists() else None

    def pid_of(self, index: int) -> int | None:
        """The recorded pid of validator `index`, if it was started."""
        pid = self.load_state()["pids"].get(str(index))
        return None if pid is None else int(pid)

    # --- processes ------------------------------------------------------------------------------

    def is_alive(self, pid: int) -> bool:
        """True while process `pid` runs (a child that exited is reaped here, not counted as running)."""
        child = self._children.get(pid)
        if child is not None:
            if child.poll() is None:
                return True
            del self._children[pid]
            return False
        with contextlib.suppress(ChildProcessError):  # not our child: the signal probe below decides
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return False
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def is_running(self, index: int) -> bool:
        """True while validator `index` runs."""
        pid = self.pid_of(index)
        return pid is not None and self.is_alive(pid)

    def running(self) -> list[int]:
        """Indices of the validators that run now."""
        return sorted(int(i) for i, pid in self.load_state()["pids"].items() if self.is_alive(int(pid)))

    def start_node(
        self,
        index: int,
        encoder_workers: int = 0,
        max_queued_blobs: int | None = None,
        api_port: int | None = None,
    ) -> int:
        """Start validator `index` in its own session; its output goes to node-I.log. Returns its pid.

        `encoder_workers`: its encoder processes (0: a thread, the devnet's default: 8 validators share
        this machine); `max_queued_blobs`: its admission bound (None: the daemon's default);
        `api_port`: its HTTP API's port (None: chosen by the OS; a restart on the same port keeps
        the URL clients were given)."""
        config = self.directory / f"node-{index}.toml"
        if not config.exists():
            raise DevnetError(f"validator {index} is not part of the devnet in {self.directory}")
        self.start_chain()
        run_config = config.with_suffix(".run.toml")
        text = ENCODER_WORKERS_LINE.sub(f"encoder_workers = {encoder_workers}", config.read_text())
        if max_queued_blobs is not None:
            text += f"max_queued_blobs = {max_queued_blobs}\n"
        if api_port is not None:
            text += f"api_port = {api_port}\n"
        run_config.write_text(text)
        (self.directory / f"node-{index}" / "node.json").unlink(missing_ok=True)
        with (self.directory / f"node-{index}.log").open("ab") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [*VALIDATOR_COMMAND, str(run_config)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._children[process.pid] = process
        state = self.load_state()
        state["pids"][str(index)] = process.pid
        self._save_state(state)
        return process.pid

    def stop_node(self, index: int, sig: int = signal.SIGTERM) -> bool:
        """Stop validator `index` (`sig`, then SIGKILL after a grace period); False if it was not running."""
        state = self.load_state()
        pid = state["pids"].get(str(index))
        if pid is None or not self.is_alive(pid):
            return False
        os.kill(pid, sig)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while self.is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.is_alive(pid):
            os.kill(pid, signal.SIGKILL)
            self._reap(pid)
        state["pids"].pop(str(index), None)
        self._save_state(state)
        return True

    def stop_all(self) -> None:
        """Stop every validator of the devnet that was started, then its chain (if it has one)."""
        for index in sorted(int(i) for i in self.load_state()["pids"]):
            self.stop_node(index)
        self.stop_chain()

    def _reap(self, pid: int) -> None:
        if pid in self._children:
            self._children[pid].wait(timeout=STOP_TIMEOUT_S)
            del self._children[pid]
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def log_tail(self, index: int, lines: int = 5) -> str:
        """The last `lines` lines of validator `index`'s log."""
        path = self.directory / f"node-{index}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_until_connected(
        self, indices: list[int], timeout: float = START_TIMEOUT_S, progress: ReadyProgress | None = None
    ) -> dict[int, str]:
        """Wait (bounded) until every validator's API answers and it sees every other one; API URLs."""
        deadline = time.monotonic() + timeout
        urls: dict[int, str] = {}
        while time.monotonic() < deadline:
            ready = 0
            pids = self.load_state()["pids"]
            for index in indices:
                pid = pids.get(str(index))
                if pid is None or not self.is_alive(pid):
                    raise DevnetError(f"validator {index} exited while starting:\n{self.log_tail(index)}")
                info = self.node_info(index)
                if info is None:
                    continue
                urls[index] = info["api_url"]
                try:
                    peers = NodeApiClient(info["api_url"]).get_peers(timeout=5.0)
                except ApiFailure:
                    continue
                ready += len(peers) >= len(indices) - 1
            if progress is not None:
                progress(ready, len(indices))
            if ready == len(indices):
                return urls
            time.sleep(0.25)
        raise DevnetError(f"validators not connected within {timeout:.0f} s; see {self.directory}/node-*.log")


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the devnet chain keeps it across restarts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
