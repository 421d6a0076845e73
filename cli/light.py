"""`das light check | follow`: the light client (sampling, confidence, following certificates).

Exit codes of `check` (part of the interface, DESIGN.md section 1): 0 available at the target
confidence, 1 judged unavailable or below the target (the confidence reached is printed), 2 usage or
network error (bad arguments, registry missing, certificate invalid, header unobtainable), 3 unknown:
the blob's availability window has ended (registry's current epoch > its epoch + --window-epochs), so
its data is retired by design and it is not sampled.

This module imports nothing heavy at load time: a command loads its KZG verifier, then imports
libp2p (through `sampling.client.check_command` or `follow_command`) once its arguments are good.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cli import PROCESS_STARTED
from cli.common import (
    confidence_arg,
    data_root_arg,
    http_address_arg,
    non_negative_int,
    positive_int,
    read_certificate_file,
    seconds_arg,
)
from cli.registry_args import add_registry_arguments, registry_location
from da.errors import DAError
from da.kzg import CellVerifier, load_ckzg_backend
from da.lean_verifier import load_lean_verifier
from da.types import DataRoot
from network.errors import NetworkError
from network.logs import configure_logging
from sampling.client.defaults import (
    DEFAULT_FOLLOW_BACKLOG,
    DEFAULT_FOLLOW_WORKERS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_PARALLEL_REQUESTS,
    DEFAULT_PEER_TIMEOUT_SECONDS,
    DEFAULT_REGISTRY_PEERS,
    DEFAULT_TARGET_CONFIDENCE,
    DEFAULT_WINDOW_EPOCHS,
)
from sampling.client.errors import BlobExpired
from sampling.client.request import CheckRequest
from sampling.errors import SamplingError
from validator.errors import ValidatorError
from validator.types import Epoch, QuorumIndex

if TYPE_CHECKING:
    from sampling.client.check import CheckReport, ProgressCallback
    from sampling.client.follow_command import FollowStarted
    from sampling.client.rounds import SamplingStats
    from sampling.sampler import SamplingSummary
    from sampling.store import StoredResult

EXIT_AVAILABLE = 0
EXIT_UNAVAILABLE = 1
EXIT_USAGE = 2
EXIT_UNKNOWN = 3
"""The availability window has ended: the data is retired by design, so availability is unknown."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `das light ...`."""
    parser = subparsers.add_parser("light", help="light client: check availability by sampling")
    commands = parser.add_subparsers(title="light commands", metavar="COMMAND", required=True)

    check = commands.add_parser(
        "check",
        help="sample a blob's cells and judge its availability (exit 0 available, 1 not, 2 error, "
        "3 unknown: window ended)",
        description="Get and verify the blob's header (its hash_tree_root must equal DATA_ROOT) and its "
        "certificate, find its custodians (the certificate's quorum and the public custody function), "
        "draw random cells with secrets.SystemRandom, fetch them from the custodians over libp2p and "
        "verify every KZG proof. Exit 0 when the confidence target is met, 1 when the blob is judged "
        "unavailable or below the target (the confidence reached is printed), 2 on a usage or network "
        "error, 3 when the verdict is unknown: the blob's availability window has ended (the registry's "
        "current epoch is past the blob's epoch + --window-epochs), its data is retired by design and it "
        "is not sampled.",
    )
    check.add_argument("data_root", type=data_root_arg, metavar="DATA_ROOT", help="0x + 64 hex digits")
    add_registry_arguments(check)
    check.add_argument("--cert", type=Path, metavar="FILE", help="certificate (SSZ bytes, or 0x-hex text)")
    check.add_argument("--epoch", type=non_negative_int, help="the blob's epoch (when no certificate)")
    check.add_argument("--quorum", type=non_negative_int, help="the blob's quorum (when no certificate)")
    sources = check.add_mutually_exclusive_group()
    sources.add_argument(
        "--node", metavar="URL", help="a node's HTTP API for the header (and the certificate if no --cert)"
    )
    sources.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="MADDR",
        help="a libp2p peer (/ip4/.../tcp/.../p2p/ID) to get the header from; repeatable",
    )
    check.add_argument(
        "--confidence",
        type=confidence_arg,
        default=DEFAULT_TARGET_CONFIDENCE,
        help=f"target confidence (default {DEFAULT_TARGET_CONFIDENCE})",
    )
    check.add_argument(
        "--timeout",
        type=seconds_arg,
        default=DEFAULT_PEER_TIMEOUT_SECONDS,
        metavar="S",
        help="seconds a peer has to answer (dialling included) before it is abandoned "
        f"(default {DEFAULT_PEER_TIMEOUT_SECONDS:g})",
    )
    check.add_argument(
        "--attempts",
        type=positive_int,
        default=DEFAULT_MAX_ATTEMPTS,
        help=f"custodians tried per cell at most (default {DEFAULT_MAX_ATTEMPTS})",
    )
    check.add_argument(
        "--parallel", type=positive_int, default=DEFAULT_PARALLEL_REQUESTS, help="requests in flight at once"
    )
    check.add_argument(
        "--window-epochs",
        type=non_negative_int,
        default=DEFAULT_WINDOW_EPOCHS,
        metavar="N",
        help="epochs after its own that a blob is served (the validators' retention; default "
        f"{DEFAULT_WINDOW_EPOCHS}); past them the check exits 3, unknown, without sampling",
    )
    check.add_argument(
        "--verifier",
        choices=VERIFIERS,
        default="lean",
        help="KZG cell verifier: lean (default: loads 64 setup points, ready in milliseconds) or ckzg "
        "(the full library: about 2 s to load the setup); both give the same verdicts",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    check.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    check.set_defaults(run=run_check_command)

    follow = commands.add_parser(
        "follow",
        help="sample every certificate announced on gossip; persist results; serve a status API",
        description="Subscribe to the network's certificate gossip topic, verify each certificate against "
        "the registry, sample its blob, and store the result per data root in --db (SQLite). A restart "
        "resumes pending roots and never samples a finished one again. When sampling falls behind, the "
        "oldest waiting roots are dropped and the lag is shown. With --http, serves GET /v1/status and "
        "GET /v1/blobs/0x{root} as JSON. Ctrl-C (or SIGTERM) stops cleanly.",
    )
    add_registry_arguments(follow)
    follow.add_argument("--db", type=Path, required=True, metavar="FILE", help="results database (SQLite)")
    follow.add_argument(
        "--peer", action="append", default=[], metavar="MADDR", help="a peer to join gossip through"
    )
    follow.add_argument(
        "--registry-peers",
        type=non_negative_int,
        default=DEFAULT_REGISTRY_PEERS,
        metavar="N",
        help=f"also connect to N validators from the registry (default {DEFAULT_REGISTRY_PEERS})",
    )
    follow.add_argument(
        "--http", type=http_address_arg, metavar="HOST:PORT", help="serve the status API, e.g. 127.0.0.1:8081"
    )
    follow.add_argument(
        "--confidence", type=confidence_arg, default=DEFAULT_TARGET_CONFIDENCE, help="target confidence"
    )
    follow.add_argument(
        "--timeout",
        type=seconds_arg,
        default=DEFAULT_PEER_TIMEOUT_SECONDS,
        metavar="S",
        help="per-peer timeout",
    )
    follow.add_argument(
        "--workers",
        type=positive_int,
        default=DEFAULT_FOLLOW_WORKERS,
        help=f"roots sampled at once (default {DEFAULT_FOLLOW_WORKERS})",
    )
    follow.add_argument(
        "--backlog",
        type=positive_int,
        default=DEFAULT_FOLLOW_BACKLOG,
        help=f"roots waiting at most; the oldest are dropped (default {DEFAULT_FOLLOW_BACKLOG})",
    )
    follow.add_argument(
        "--network",
        metavar="NAME",
        help="network name of the gossip topics (default: tessera-CHAIN_ID, as the validators use)",
    )
    follow.add_argument(
        "--verifier", choices=VERIFIERS, default="lean", help="KZG cell verifier (as for `check`)"
    )
    follow.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    follow.set_defaults(run=run_follow_command)


# --- shared helpers -------------------------------------------------------------------------------


def _error(command: str, message: str) -> int:
    print(f"das light {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


VERIFIERS = ("lean", "ckzg")
"""`--verifier` choices: the lean verifier (64 setup points, ready in milliseconds) or ckzg (the
whole setup and its tables, about 2 s to load; the verdicts are the same)."""


def start_verifier(kind: str = "lean") -> CellVerifier:
    """The KZG cell verifier of this process; raises `InvalidKZGInput` if the shipped setup is not
    the mainnet setup."""
    if kind == "ckzg":
        return load_ckzg_backend()
    return load_lean_verifier()


class SamplingProgress:
    """One progress line on stderr, redrawn in place; only on a terminal."""

    def __init__(self, data_root: bytes, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.label = f"0x{data_root[:4].hex()}..{data_root[-2:].hex()}"
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, summary: SamplingSummary, stats: SamplingStats) -> None:
        """Redraw after each round."""
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        self.stream.write(
            f"\rsampling {self.label}  verified {summary.verified}/{summary.needed}  "
            f"failed {summary.failed}  missing {summary.missing}  confidence {summary.confidence:.6f}  "
            f"peers {len(stats.peers_asked) - len(stats.abandoned)}/{len(stats.peers_asked)}  {elapsed:4.1f}s"
        )
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        """End the line so the report starts on its own."""
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()


# --- check ----------------------------------------------------------------------------------------


def print_check_report(report: CheckReport) -> None:
    """The human-readable report."""
    s = report.summary
    verdict = "AVAILABLE" if report.available else "UNAVAILABLE"
    if report.available:
        why = "target reached"
    elif s.served_columns < 64:
        why = f"only {s.served_columns} of 128 columns have a custodian: the blob cannot be rebuilt"
    elif s.missing:
        why = f"{s.missing} sampled cell(s) could not be obtained from any custodian"
    else:
        why = "below the target"
    stats = report.stats
    timings = report.timings
    print(f"{verdict}: 0x{report.data_root.hex()}")
    print(f"  confidence  {s.confidence:.6f} (target {s.target}); {why}")
    print(
        f"  samples     tried {s.tried}, verified {s.verified}, failed {s.failed} "
        f"({s.invalid} invalid), missing {s.missing}; needed {s.needed}"
    )
    print(f"  blob        {report.rows} row(s); {s.served_columns} of 128 columns held by custodians")
    if s.grid_rows:
        print(
            f"  grid        {s.grid_rows} rows ({report.rows} original + "
            f"{s.grid_rows - report.rows} extended) x 128; confidence from the 2D bound"
        )
    print(
        f"  custodians  {report.custodians} in epoch {report.epoch} quorum {report.quorum}; "
        f"{len(stats.peers_asked)} asked, {len(stats.abandoned)} abandoned; "
        f"{stats.rounds} round(s), {stats.kzg_batches} KZG batch(es)"
    )
    print(f"  header      from {report.header_source}")
    print(f"  certificate {report.certificate}")
    print(
        f"  elapsed     {timings.get('total', 0.0):.3f} s (header {timings.get('header', 0.0):.3f} s, "
        f"sampling {timings.get('sampling', 0.0):.3f} s)"
    )


def print_expired(expired: BlobExpired, *, as_json: bool) -> None:
    """The unknown verdict of a blob past its availability window (text, or `--json`)."""
    if as_json:
        print(json.dumps(expired.to_json(), sort_keys=True))
        return
    print(f"UNKNOWN: 0x{expired.data_root.hex()}")
    print(
        f"  window      ended: epoch {expired.epoch} + window {expired.window_epochs} "
        f"< current epoch {expired.current_epoch}"
    )
    print("  why         its data is retired by design (pruned by validators); sampling now proves nothing")
    print(f"  custodians  epoch {expired.epoch} quorum {expired.quorum}; not sampled")


def run_light_check(
    request: CheckRequest, progress: ProgressCallback | None = None, verifier_kind: str = "lean"
) -> CheckReport:
    """One check with its own KZG verifier; raises as `run_check` does. The report's timings gain
    `startup`: seconds from this process's start (the CLI's first import) to the check's start."""
    verifier = start_verifier(verifier_kind)
    from sampling.client import check_command  # noqa: PLC0415 - libp2p only once the arguments are good

    startup = time.perf_counter() - PROCESS_STARTED
    report = check_command.check(request, verifier, progress)
    report.timings["startup"] = startup
    return report


def run_check_command(args: argparse.Namespace) -> int:
    """`das light check`."""
    configure_logging(verbose=args.verbose)
    if (args.epoch is None) != (args.quorum is None):
        return _error("check", "--epoch and --quorum go together")
    if args.cert is None and args.epoch is None and args.node is None:
        return _error(
            "check", "cannot tell who holds this blob: give --cert FILE, --epoch E --quorum Q, or --node URL"
        )
    try:
        location = registry_location(args)
    except ValidatorError as error:
        return _error("check", str(error))
    try:
        certificate = read_certificate_file(args.cert) if args.cert is not None else None
    except OSError as error:
        return _error("check", f"cannot read the certificate: {error}")
    request = CheckRequest(
        data_root=DataRoot(args.data_root),
        registry=location,
        certificate=certificate,
        epoch=None if args.epoch is None else Epoch(args.epoch),
        quorum=None if args.quorum is None else QuorumIndex(args.quorum),
        node_url=args.node,
        peers=tuple(args.peer),
        target=args.confidence,
        timeout=args.timeout,
        max_attempts=args.attempts,
        parallel=args.parallel,
        window_epochs=args.window_epochs,
    )
    progress = SamplingProgress(args.data_root)
    try:
        report = run_light_check(request, progress, args.verifier)
    except BlobExpired as expired:
        progress.finish()
        print_expired(expired, as_json=args.json)
        return EXIT_UNKNOWN
    except (NetworkError, SamplingError, ValidatorError, DAError) as error:
        progress.finish()
        return _error("check", str(error))
    progress.finish()
    if args.json:
        print(json.dumps(report.to_json(), sort_keys=True))
    else:
        print_check_report(report)
    return EXIT_AVAILABLE if report.available else EXIT_UNAVAILABLE


# --- follow ---------------------------------------------------------------------------------------


def print_result(result: StoredResult, seconds: float, stats: SamplingStats | None) -> None:
    """One line per finished data root."""
    failures = sum(result.column_failures.values())
    print(
        f"{result.status.upper():<11} 0x{result.data_root.hex()}  confidence {result.confidence:.6f}  "
        f"verified {result.verified}  failed {failures}  missing {result.missing}  {seconds:.2f}s",
        flush=True,
    )


def print_started(started: FollowStarted) -> None:
    """What a started follower prints."""
    print(f"following {started.topic} as {started.peer_id}", flush=True)
    print(f"results   {started.finished_before} finished before, {started.resumed} resumed", flush=True)
    if started.status_url is not None:
        print(f"status    {started.status_url}", flush=True)


def run_follow_command(args: argparse.Namespace) -> int:
    """`das light follow`: exit 0 after a clean stop (Ctrl-C or SIGTERM)."""
    configure_logging(verbose=args.verbose)
    try:
        location = registry_location(args)
    except ValidatorError as error:
        return _error("follow", str(error))
    try:
        verifier = start_verifier(args.verifier)
    except DAError as error:
        return _error("follow", str(error))
    from sampling.client import follow_command  # noqa: PLC0415 - libp2p only once the arguments are good
    from sampling.client.follow import FollowOptions  # noqa: PLC0415

    settings = follow_command.FollowSettings(
        registry=location,
        db=args.db,
        peers=tuple(args.peer),
        registry_peers=args.registry_peers,
        http=args.http,
        network_name=args.network,
        options=FollowOptions(
            target=args.confidence, timeout=args.timeout, workers=args.workers, backlog=args.backlog
        ),
    )
    try:
        stopped = follow_command.follow(settings, verifier, print_started, print_result)
    except (NetworkError, SamplingError, ValidatorError, DAError, OSError) as error:
        return _error("follow", str(error))
    reason = f" on {stopped.signal_name}" if stopped.signal_name else ""
    print(
        f"stopped{reason}: {stopped.finished} sampled this run, "
        f"{stopped.waiting} waiting (resumed on restart)"
    )
    return 0
