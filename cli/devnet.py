"""`das devnet up | status | stop-node | start-node | down`: a whole Tessera network on 127.0.0.1.

`up` creates keys, a genesis registry and N validator processes (or restarts an existing devnet's),
waits until they are connected, posts a demo blob, prints its certificate and a light-client check,
then keeps the network running until Ctrl-C (or returns at once with --detach). With `--chain anvil`
the registry is a contract on a local anvil chain (Node.js and `make chain-tools` needed) instead of
a SQLite file: validators, `das cert verify` and `das light check` reach it by RPC URL and address.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import time
from pathlib import Path
from typing import Any

from cli.common import positive_int
from cli.progress import Progress
from da.errors import DAError
from da.header import hex_to_data_root
from network.errors import NetworkError
from sampling.errors import SamplingError
from validator.api_client import NodeApiClient
from validator.certificate import bytes_to_certificate, verify_certificate
from validator.devnet import CHAIN_ID, CHAINS, DEFAULT_DIR, PASSWORD_FILE, SEQUENCER_KEYSTORE, Devnet
from validator.errors import ApiFailure, DevnetError, ValidatorError
from validator.payments.counters import PromiseCounters, default_counters_path
from validator.payments.payer import Payer, Payment, compute_raw_data_root, read_node_terms
from validator.registry import get_registry_preset
from validator.registry.backends import ChainLocation, RegistryLocation, open_registry
from validator.registry.chain.accounts import load_account

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
    up.add_argument(
        "--chain",
        choices=CHAINS,
        default="sqlite",
        help="where the registry lives: a SQLite file (default) or a contract on a local anvil chain",
    )
    up.set_defaults(run=run_up)
    for name, helptext in (("status", "show each validator's state"), ("down", "stop every validator")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="devnet directory")
        if name == "status":
            command.add_argument("--json", action="store_true", help="print nodes and chain as JSON")
        command.set_defaults(run=run_status if name == "status" else run_down)
    for name, helptext in (("stop-node", "stop validator I"), ("start-node", "start validator I again")):
        command = commands.add_parser(name, help=helptext)
        command.add_argument("index", type=int, help="validator index")
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="devnet directory")
        command.set_defaults(run=run_stop_node if name == "stop-node" else run_start_node)


# --- commands ----------------------------------------------------------------------------------------


def run_up(args: argparse.Namespace) -> int:
    """Create or restart the devnet, post a demo blob, report, and (without --detach) run until Ctrl-C."""
    started = time.monotonic()
    directory: Path = args.dir
    devnet = Devnet(directory)
    if devnet.exists():
        if devnet.running():
            raise DevnetError(
                f"the devnet in {directory} is already running: `das devnet down --dir {directory}`"
            )
        count = devnet.validator_count()
        print(f"restarting the devnet in {directory} ({count} validators)")
    else:
        count = args.validators
        print(
            f"creating a devnet of {count} validators in {directory} (preset devnet, chain id {CHAIN_ID}, "
            f"registry on {args.chain})"
        )
        devnet.create(count, args.epoch_seconds, chain=args.chain)
        chain = devnet.chain_info()
        if chain is not None:
            print(
                f"  chain {chain['rpc_url']}  registry contract {chain['registry_address']}  "
                f"certificate verifier {chain.get('verifier_address', '-')}  "
                f"payments {chain.get('payments_address', '-')}"
            )
    for index in range(count):
        devnet.start_node(index, args.encoder_workers)
    try:
        urls = devnet.wait_until_connected(list(range(count)), progress=Progress("validators ready"))
        print(f"{count} validators up and connected in {time.monotonic() - started:.1f} s")
        for index, url in sorted(urls.items()):
            print(f"  validator {index:<2} {url}")
        code = _demo(devnet, urls[0], args.blob_bytes)
    except BaseException:
        devnet.stop_all()
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
        devnet.stop_all()
    return code


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _wait_forever() -> None:
    while True:
        time.sleep(3600)


def _demo(devnet: Devnet, api_url: str, size: int) -> int:
    """Post a random blob, wait for its certificate, verify it offline; 0 when all went well."""
    directory = devnet.directory
    node = NodeApiClient(api_url)
    blob = secrets.token_bytes(size)
    posted = time.monotonic()
    accepted, payment = _post_demo_blob(devnet, node, blob)
    status = node.wait_for_certificate(accepted["data_root"], 60.0)
    root = status["data_root"]
    print(f"demo blob {size} bytes  data root {root}")
    if payment is not None:
        print(
            f"  paid {payment.increment} wei from the demo sequencer {payment.account} to {payment.node} "
            f"(cumulative {payment.cumulative}; its keystore {directory / SEQUENCER_KEYSTORE})"
        )
    if status["status"] != "certified":
        print(f"  NOT certified: {status}")
        return EXIT_FAILED
    raw = node.get_certificate(root)
    certificate_file = directory / f"certificate-{root[2:14]}.ssz"
    certificate_file.write_bytes(raw)
    certificate = bytes_to_certificate(raw)
    location = devnet.registry_location()
    with open_registry(location) as registry:
        verdict = verify_certificate(
            certificate, registry.get_epoch_context(certificate.epoch), get_registry_preset(registry)
        )
    print(
        f"  certified in {time.monotonic() - posted:.2f} s: {verdict.reason}; certificate {certificate_file}"
    )
    print(f"  verify it: das cert verify {certificate_file} {_registry_options(location)}")
    if not verdict.valid:
        return EXIT_FAILED
    return _light_check(root, location, certificate_file, raw)


def _post_demo_blob(
    devnet: Devnet, node: NodeApiClient, blob: bytes
) -> tuple[dict[str, Any], Payment | None]:
    """Post the demo blob raw, paid by the devnet's demo sequencer when the node takes payments."""
    keystore = devnet.directory / SEQUENCER_KEYSTORE
    if not keystore.is_file():  # a devnet made before payments
        return node.post_blob(blob), None
    password = (devnet.directory / PASSWORD_FILE).read_text()
    key = bytes(load_account(keystore, password).key)
    with PromiseCounters(default_counters_path(keystore)) as counters:
        payer = Payer(key, counters)
        terms = read_node_terms(node, payer.account)
        if not terms.enabled:
            return node.post_blob(blob), None
        root = compute_raw_data_root(blob)
        return payer.post(node, blob, data_root=root, byte_length=len(blob), node=terms)


def _registry_options(location: RegistryLocation) -> str:
    """The command-line options that name `location`."""
    if isinstance(location, ChainLocation):
        return f"--rpc {location.rpc_url} --registry-address {location.address}"
    return f"--registry {location}"


def _light_check(root: str, registry: RegistryLocation, certificate_file: Path, certificate: bytes) -> int:
    """Check the demo blob as a light client would (sampling over libp2p); 0 when it is available."""
    from cli.light import run_light_check  # noqa: PLC0415 - loads libp2p
    from network.logs import configure_logging  # noqa: PLC0415
    from sampling.client.request import CheckRequest  # noqa: PLC0415

    configure_logging(verbose=False)  # the report is the output; the client's records are warnings only
    data_root = hex_to_data_root(root)
    try:
        report = run_light_check(CheckRequest(data_root, registry, certificate=certificate))
    except (NetworkError, SamplingError, ValidatorError, DAError) as error:
        print(f"  light check failed: {error}")
        return EXIT_FAILED
    summary = report.summary
    print(
        f"  light check: {'AVAILABLE' if report.available else 'UNAVAILABLE'}, confidence "
        f"{summary.confidence:.6f} from {summary.verified} verified samples of {report.custodians} "
        f"custodians in {report.timings.get('total', 0.0):.2f} s"
    )
    print(f"  check it:  das light check {root} {_registry_options(registry)} --cert {certificate_file}")
    return EXIT_OK if report.available else EXIT_FAILED


def run_status(args: argparse.Namespace) -> int:
    """One line per validator (running or not, API, peer id, peers), then the registry; or JSON."""
    devnet = Devnet(args.dir)
    nodes = []
    for index in range(devnet.validator_count()):
        pid = devnet.pid_of(index)
        alive = pid is not None and devnet.is_alive(pid)
        info = devnet.node_info(index) if alive else None
        peers: int | None = None
        if info is not None:
            try:
                peers = len(NodeApiClient(info["api_url"]).get_peers(timeout=5.0))
            except ApiFailure:
                peers = None
        nodes.append(
            {
                "index": index,
                "running": alive,
                "pid": pid if alive else None,
                "api_url": info["api_url"] if info else None,
                "peer_id": info.get("peer_id") if info else None,
                "peers": peers,
            }
        )
    chain = devnet.chain_info()
    registry = None if chain is not None else str(devnet.registry_path)
    if args.json:
        chain_json = (
            None
            if chain is None
            else {
                "kind": chain["kind"],
                "rpc_url": chain["rpc_url"],
                "registry_address": chain["registry_address"],
                "verifier_address": chain.get("verifier_address"),
                "payments_address": chain.get("payments_address"),
                "chain_id": chain["chain_id"],
            }
        )
        print(json.dumps({"nodes": nodes, "chain": chain_json, "registry": registry}, sort_keys=True))
        return EXIT_OK
    for node in nodes:
        state_word = "running" if node["running"] else "stopped"
        peers_text = "-" if node["peers"] is None else str(node["peers"])
        print(
            f"validator {node['index']:<2} {state_word:<8} pid {node['pid'] or '-':<8} "
            f"{node['api_url'] or '-':<28} {node['peer_id'] or '-':<54} peers {peers_text}"
        )
    if chain is not None:
        print(
            f"registry contract {chain['registry_address']} on {chain['rpc_url']} "
            f"(chain id {chain['chain_id']}); certificate verifier {chain.get('verifier_address', '-')}; "
            f"payments {chain.get('payments_address', '-')}"
        )
    else:
        print(f"registry file {registry}")
    return EXIT_OK


def run_down(args: argparse.Namespace) -> int:
    """Stop every validator."""
    Devnet(args.dir).stop_all()
    print(f"devnet in {args.dir} stopped")
    return EXIT_OK


def run_stop_node(args: argparse.Namespace) -> int:
    """Stop one validator."""
    stopped = Devnet(args.dir).stop_node(args.index)
    print(f"validator {args.index} {'stopped' if stopped else 'was not running'}")
    return EXIT_OK


def run_start_node(args: argparse.Namespace) -> int:
    """Start one validator again and wait until it is connected."""
    devnet = Devnet(args.dir)
    if devnet.is_running(args.index):
        print(f"validator {args.index} is already running (pid {devnet.pid_of(args.index)})")
        return EXIT_OK
    devnet.start_node(args.index)
    devnet.wait_until_connected(devnet.running(), progress=Progress("validators ready"))
    print(f"validator {args.index} running")
    return EXIT_OK
