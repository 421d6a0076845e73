"""`das devnet up | status | stop-node | start-node | down`: a whole Tessera network on 127.0.0.1.

`up` creates keys, a genesis registry and N validator processes (or restarts an existing devnet's),
waits until they are connected, posts a demo blob, prints its certificate and a light-client check,
then keeps the network running until Ctrl-C (or returns at once with --detach).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from da.errors import DAError
from da.types import DataRoot
from network.cli.blob import ApiFailure, request, wait_for_certificate
from network.cli.common import LIGHT_SCRYPT, positive_int
from network.cli.progress import Progress
from network.errors import NetworkError
from validator.certificate import bytes_to_certificate, verify_certificate
from validator.errors import ValidatorError
from validator.keys import SecretKey, compute_proof_of_possession
from validator.keystore import encrypt_keystore, write_keystore
from validator.presets import get_preset
from validator.registry import RegistryInfo
from validator.registry_sqlite import SqliteRegistry
from validator.types import Epoch
from validator.vrf import compute_ballot, compute_genesis_seed

DEFAULT_DIR = Path(".devnet")
STATE_FILE = "devnet.json"
CHAIN_ID = 31337
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class DevnetError(Exception):
    """Raised when the devnet cannot be created, started or reached; the message says what to do."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das devnet ...`."""
    parser = subparsers.add_parser("devnet", help="run a local Tessera network on 127.0.0.1")
    commands = parser.add_subparsers(title="devnet commands", metavar="COMMAND", required=True)
    up = commands.add_parser(
        "up", help="create (or restart) and start a devnet, post a demo blob", description=__doc__
    )
    up.add_argument(
        "--validators", type=positive_int, default=8, help="validators (default 8; 4-16 suit a devnet)"
    )
    up.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"devnet directory (default {DEFAULT_DIR})")
    up.add_argument("--detach", action="store_true", help="leave the validators running and return")
    up.add_argument(
        "--blob-bytes", type=positive_int, default=128 * 1024, help="demo blob size (default 128 KiB)"
    )
    up.add_argument(
        "--encoder-workers", type=int, default=0, help="encoder processes per validator (default 0)"
    )
    up.add_argument("--epoch-seconds", type=float, default=3600.0, help="epoch length (default 3600)")
    up.set_defaults(run=run_up)
    for name, helptext in (("status", "show each validator's state"), ("down", "stop every validator")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="devnet directory")
        command.set_defaults(run=run_status if name == "status" else run_down)
    for name, helptext in (("stop-node", "stop validator I"), ("start-node", "start validator I again")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("index", type=int, help="validator index")
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="devnet directory")
        command.set_defaults(run=run_stop_node if name == "stop-node" else run_start_node)


# --- files -------------------------------------------------------------------------------------------


def _state(directory: Path) -> dict[str, Any]:
    path = directory / STATE_FILE
    if not path.exists():
        raise DevnetError(f"no devnet in {directory}: run `das devnet up --dir {directory}` first")
    return dict(json.loads(path.read_text()))


def _save_state(directory: Path, state: dict[str, Any]) -> None:
    temporary = directory / (STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(state, indent=2))
    os.replace(temporary, directory / STATE_FILE)


def create_devnet(directory: Path, validators: int, epoch_seconds: float) -> None:
    """Keys, password, genesis registry (epoch-0 stake and ballots) and one config per validator."""
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    password_file = directory / "password.txt"
    password_file.write_text(password)
    password_file.chmod(0o600)
    preset = get_preset("devnet")
    seed = compute_genesis_seed(CHAIN_ID, secrets.token_bytes(32))
    info = RegistryInfo(CHAIN_ID, preset.name, time.time(), epoch_seconds)
    (directory / "keys").mkdir(exist_ok=True)
    with SqliteRegistry.create(directory / "registry.sqlite", info, seed) as registry:
        for number in range(validators):
            key = SecretKey.generate()
            keystore = encrypt_keystore(
                key, password, kdf_params=LIGHT_SCRYPT, description=f"devnet {number}"
            )
            write_keystore(directory / "keys" / f"validator-{number}.json", keystore)
            index = registry.register_validator(
                key.pubkey,
                compute_proof_of_possession(key),
                preset.STAKE_PER_SLOT,
                Epoch(0),
                effective_epoch=Epoch(0),
            )
            registry.put_ballot(compute_ballot(key, index, CHAIN_ID, Epoch(0), seed), Epoch(0), genesis=True)
    for number in range(validators):
        (directory / f"node-{number}.toml").write_text(
            f'registry = "registry.sqlite"\nkeystore = "keys/validator-{number}.json"\n'
            f'password_file = "password.txt"\ndata_dir = "node-{number}"\nencoder_workers = ENCODERS\n'
        )
    _save_state(directory, {"validators": validators, "pids": {}, "created": time.time()})


# --- processes ---------------------------------------------------------------------------------------


_children: dict[int, subprocess.Popen[bytes]] = {}
"""Validators this process started, by pid: polled (and so reaped) through their `Popen`."""


def _alive(pid: int) -> bool:
    """True while process `pid` runs (a child that exited is reaped here, not counted as running)."""
    child = _children.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _children[pid]
        return False
    with contextlib.suppress(ChildProcessError):  # not our child: the signal probe below decides
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def start_node(directory: Path, index: int, encoder_workers: int = 0) -> int:
    """Start validator `index` in its own session; its output goes to node-I.log. Returns its pid."""
    config = directory / f"node-{index}.toml"
    if not config.exists():
        raise DevnetError(f"validator {index} is not part of the devnet in {directory}")
    text = config.read_text()
    config.with_suffix(".run.toml").write_text(text.replace("ENCODERS", str(encoder_workers)))
    (directory / f"node-{index}" / "node.json").unlink(missing_ok=True)
    with (directory / f"node-{index}.log").open("ab") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "network.cli.main",
                "validator",
                "run",
                "--config",
                str(config.with_suffix(".run.toml")),
            ],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    _children[process.pid] = process
    state = _state(directory)
    state["pids"][str(index)] = process.pid
    _save_state(directory, state)
    return process.pid


def stop_node(directory: Path, index: int, sig: int = signal.SIGTERM) -> bool:
    """Stop validator `index` (SIGTERM, then SIGKILL after a grace period); False if it was not running."""
    state = _state(directory)
    pid = state["pids"].get(str(index))
    if pid is None or not _alive(pid):
        return False
    os.kill(pid, sig)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        _reap(pid)
    state["pids"].pop(str(index), None)
    _save_state(directory, state)
    return True


def _reap(pid: int) -> None:
    if pid in _children:
        _alive(pid)
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return


def node_info(directory: Path, index: int) -> dict[str, Any] | None:
    """What a running validator wrote about itself (API URL, peer id), or None if it is not up yet."""
    path = directory / f"node-{index}" / "node.json"
    return dict(json.loads(path.read_text())) if path.exists() else None


def wait_until_connected(
    directory: Path, indices: list[int], timeout: float = START_TIMEOUT_S
) -> dict[int, str]:
    """Wait (bounded) until every validator's API answers and it sees every other one; returns API URLs."""
    progress = Progress("validators ready")
    deadline = time.monotonic() + timeout
    urls: dict[int, str] = {}
    while time.monotonic() < deadline:
        ready = 0
        pids = _state(directory)["pids"]
        for index in indices:
            pid = pids.get(str(index))
            if pid is None or not _alive(pid):
                tail = (directory / f"node-{index}.log").read_text(errors="replace").splitlines()[-5:]
                raise DevnetError(f"validator {index} exited while starting:\n" + "\n".join(tail))
            info = node_info(directory, index)
            if info is None:
                continue
            urls[index] = info["api_url"]
            try:
                peers = json.loads(request("GET", f"{info['api_url']}/v1/node/peers", timeout=5.0))["peers"]
            except ApiFailure:
                continue
            ready += len(peers) >= len(indices) - 1
        progress(ready, len(indices))
        if ready == len(indices):
            return urls
        time.sleep(0.25)
    raise DevnetError(f"validators not connected within {timeout:.0f} s; see {directory}/node-*.log")


# --- commands ----------------------------------------------------------------------------------------


def run_up(args: argparse.Namespace) -> int:
    """Create or restart the devnet, post a demo blob, report, and (without --detach) run until Ctrl-C."""
    started = time.monotonic()
    directory: Path = args.dir
    if (directory / STATE_FILE).exists():
        state = _state(directory)
        if any(_alive(pid) for pid in state["pids"].values()):
            raise DevnetError(
                f"the devnet in {directory} is already running: `das devnet down --dir {directory}`"
            )
        count = int(state["validators"])
        print(f"restarting the devnet in {directory} ({count} validators)")
    else:
        count = args.validators
        print(f"creating a devnet of {count} validators in {directory} (preset devnet, chain id {CHAIN_ID})")
        create_devnet(directory, count, args.epoch_seconds)
    for index in range(count):
        start_node(directory, index, args.encoder_workers)
    try:
        urls = wait_until_connected(directory, list(range(count)))
        print(f"{count} validators up and connected in {time.monotonic() - started:.1f} s")
        for index, url in sorted(urls.items()):
            print(f"  validator {index:<2} {url}")
        code = _demo(directory, urls[0], args.blob_bytes)
    except BaseException:
        _stop_all(directory)
        raise
    if args.detach:
        print(f"devnet running; stop it with `das devnet down --dir {directory}`")
        return code
    print("devnet running; Ctrl-C stops it")
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the devnet as cleanly as Ctrl-C
    try:
        _wait_forever()
    except KeyboardInterrupt:
        print("\nstopping the devnet")
    finally:
        _stop_all(directory)
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_forever() -> None:
    while True:
        time.sleep(3600)


def _demo(directory: Path, api_url: str, size: int) -> int:
    """Post a random blob, wait for its certificate, verify it offline; 0 when all went well."""
    blob = secrets.token_bytes(size)
    posted = time.monotonic()
    status = json.loads(request("POST", f"{api_url}/v1/blobs", blob))
    status = wait_for_certificate(api_url, status["data_root"], 60.0)
    root = status["data_root"]
    print(f"demo blob {size} bytes  data root {root}")
    if status["status"] != "certified":
        print(f"  NOT certified: {status}")
        return EXIT_FAILED
    raw = request("GET", f"{api_url}/v1/blobs/{root}/certificate")
    certificate_file = directory / f"certificate-{root[2:14]}.ssz"
    certificate_file.write_bytes(raw)
    certificate = bytes_to_certificate(raw)
    with SqliteRegistry(directory / "registry.sqlite") as registry:
        verdict = verify_certificate(
            certificate, registry.get_epoch_context(certificate.epoch), registry.preset
        )
    print(
        f"  certified in {time.monotonic() - posted:.2f} s: {verdict.reason}; certificate {certificate_file}"
    )
    registry_file = directory / "registry.sqlite"
    print(f"  verify it: das cert verify {certificate_file} --registry {registry_file}")
    if not verdict.valid:
        return EXIT_FAILED
    return _light_check(root, registry_file, certificate_file, raw)


def _light_check(root: str, registry: Path, certificate_file: Path, certificate: bytes) -> int:
    """Check the demo blob as a light client would (sampling over libp2p); 0 when it is available."""
    from network.cli.light import configure_logging, run_light_check  # noqa: PLC0415 - loads libp2p
    from network.light.request import CheckRequest  # noqa: PLC0415

    configure_logging(verbose=False)  # the report is the output; the client's records are warnings only
    data_root = DataRoot(bytes.fromhex(root[2:]))
    try:
        report = run_light_check(CheckRequest(data_root, registry, certificate=certificate))
    except (NetworkError, ValidatorError, DAError) as error:
        print(f"  light check failed: {error}")
        return EXIT_FAILED
    summary = report.summary
    print(
        f"  light check: {'AVAILABLE' if report.available else 'UNAVAILABLE'}, confidence "
        f"{summary.confidence:.6f} from {summary.verified} verified samples of {report.custodians} "
        f"custodians in {report.timings.get('total', 0.0):.2f} s"
    )
    print(f"  check it:  das light check {root} --registry {registry} --cert {certificate_file}")
    return EXIT_OK if report.available else EXIT_FAILED


def _stop_all(directory: Path) -> None:
    state = _state(directory)
    for index in sorted(int(i) for i in state["pids"]):
        stop_node(directory, index)


def run_status(args: argparse.Namespace) -> int:
    """One line per validator: running or not, API, peers."""
    state = _state(args.dir)
    for index in range(int(state["validators"])):
        pid = state["pids"].get(str(index))
        alive = pid is not None and _alive(pid)
        info = node_info(args.dir, index) if alive else None
        peers = "-"
        if info is not None:
            try:
                peers = str(
                    len(json.loads(request("GET", f"{info['api_url']}/v1/node/peers", timeout=5.0))["peers"])
                )
            except ApiFailure:
                peers = "?"
        where = info["api_url"] if info else "-"
        state_word = "running" if alive else "stopped"
        print(f"validator {index:<2} {state_word:<8} pid {pid or '-':<8} {where:<28} peers {peers}")
    return EXIT_OK


def run_down(args: argparse.Namespace) -> int:
    """Stop every validator."""
    _stop_all(args.dir)
    print(f"devnet in {args.dir} stopped")
    return EXIT_OK


def run_stop_node(args: argparse.Namespace) -> int:
    """Stop one validator."""
    stopped = stop_node(args.dir, args.index)
    print(f"validator {args.index} {'stopped' if stopped else 'was not running'}")
    return EXIT_OK


def run_start_node(args: argparse.Namespace) -> int:
    """Start one validator again and wait until it is connected."""
    state = _state(args.dir)
    pid = state["pids"].get(str(args.index))
    if pid is not None and _alive(pid):
        print(f"validator {args.index} is already running (pid {pid})")
        return EXIT_OK
    start_node(args.dir, args.index)
    running = [int(i) for i, p in _state(args.dir)["pids"].items() if _alive(p)]
    wait_until_connected(args.dir, sorted(running))
    print(f"validator {args.index} running")
    return EXIT_OK
