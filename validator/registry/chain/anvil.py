"""A local EVM chain for devnets and tests: anvil (from the pinned npm package) as a child process on
127.0.0.1, with the BLS12-381 precompiles of EIP-2537 (hardfork Prague) and funded dev accounts.

`start_anvil` waits until anvil listens and returns an `Anvil` holding its RPC URL and the dev
accounts' keys; `Anvil.stop` ends it (SIGTERM, bounded, then SIGKILL). With `state_path`, anvil
loads its state from that file at start and writes it back on a clean stop, so a devnet's chain
survives a restart.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from contracts.toolchain import ToolchainError, find_anvil
from validator.errors import RegistryError
from validator.registry.chain.rpc import connect

START_TIMEOUT_SECONDS: Final = 30.0
STOP_TIMEOUT_SECONDS: Final = 10.0
HARDFORK: Final = "prague"
STATE_INTERVAL_SECONDS: Final = 2
DEV_ACCOUNT_ETHER: Final = 1_000_000
_LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")


class AnvilFailed(RegistryError):
    """anvil did not start, or exited."""


@dataclass
class Anvil:
    """A running anvil process."""

    process: subprocess.Popen[bytes]
    rpc_url: str
    chain_id: int
    private_keys: tuple[str, ...]
    """The funded dev accounts' keys (hex with 0x), in anvil's order."""
    log_path: Path | None = None

    def stop(self) -> int:
        """SIGTERM, wait up to `STOP_TIMEOUT_SECONDS`, then SIGKILL; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_SECONDS)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return int(self.process.returncode)

    def __enter__(self) -> Anvil:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_anvil(
    directory: Path,
    *,
    chain_id: int = 31337,
    accounts: int = 10,
    port: int = 0,
    host: str = "127.0.0.1",
    state_path: Path | None = None,
    block_time: int | None = None,
    command_prefix: Sequence[str] = (),
) -> Anvil:
    """Start anvil with `accounts` funded dev accounts; its log and account list go in `directory`.

    `block_time`: mine a block every that many seconds (the chain's clock then moves on its own, as a
    real chain's does); None mines one block per transaction, at once (`set_interval_mining` switches
    later). With `state_path`, the state is loaded from it at start and written to it every
    `STATE_INTERVAL_SECONDS` and at a clean stop. `command_prefix` goes before the anvil command (say
    `ip netns exec NAME`, to run it in a network namespace; it must exec anvil, so signals reach it)."""
    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "anvil-accounts.json"
    config_path.unlink(missing_ok=True)
    log_path = directory / "anvil.log"
    try:
        anvil = find_anvil()
    except ToolchainError as error:
        raise RegistryError(str(error)) from error
    command = [
        *command_prefix,
        str(anvil),
        "--host", host,
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--accounts", str(accounts),
        "--balance", str(DEV_ACCOUNT_ETHER),
        "--hardfork", HARDFORK,
        "--config-out", str(config_path),
    ]  # fmt: skip
    if state_path is not None:
        command += ["--state", str(state_path), "--state-interval", str(STATE_INTERVAL_SECONDS)]
    if block_time is not None:
        command += ["--block-time", str(block_time)]
    log: IO[bytes] = log_path.open("ab")
    process = subprocess.Popen(  # noqa: S603 - the pinned anvil binary, our own arguments
        command, stdout=subprocess.PIPE, stderr=log, start_new_session=True
    )
    try:
        bound = _wait_listening(process, log)
        keys = _read_keys(config_path)
    except BaseException:
        process.kill()
        process.wait(STOP_TIMEOUT_SECONDS)
        raise
    finally:
        log.close()
    return Anvil(process, f"http://{bound}", chain_id, keys, log_path)


def _wait_listening(process: subprocess.Popen[bytes], log: IO[bytes]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    seen = b""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AnvilFailed(f"anvil exited with {process.wait(STOP_TIMEOUT_SECONDS)}: {seen[-2000:]!r}")
        seen += line
        log.write(line)
        match = _LISTENING.search(line)
        if match is not None:
            # anvil keeps writing to stdout; drain it into the log so it never blocks on a full pipe.
            _drain_to_log(process, log.name)
            return f"{match[1].decode()}:{int(match[2])}"
    raise AnvilFailed(f"anvil did not listen within {START_TIMEOUT_SECONDS:g} s")


def _drain_to_log(process: subprocess.Popen[bytes], log_name: object) -> None:
    def pump() -> None:
        assert process.stdout is not None
        with open(str(log_name), "ab") as sink:
            for line in process.stdout:
                sink.write(line)
                sink.flush()

    threading.Thread(target=pump, name="anvil-log", daemon=True).start()


def _read_keys(config_path: Path) -> tuple[str, ...]:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            return tuple(json.loads(config_path.read_text())["private_keys"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    raise AnvilFailed(f"anvil wrote no account list to {config_path}")


def set_interval_mining(rpc_url: str, seconds: int) -> None:
    """Switch a running anvil to mining a block every `seconds` (anvil's `evm_setIntervalMining`)."""
    web3 = connect(rpc_url)
    web3.provider.make_request("evm_setIntervalMining", [seconds])  # type: ignore[arg-type]
