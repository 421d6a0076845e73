"""`das light check`, end to end: certificate -> custodians -> header -> sampling rounds -> report.

The check samples the blob's 2D grid: cells drawn uniformly over its 2R x served cells, fetched on
`/tessera/samples/2`, verified against the header in one folded batch per round, and the confidence
is the exact 2D bound (`compute_confidence_2d`; `--json` reports the grid and the bound).

`run_check` is what the command runs inside `trio.run`; tests and the benchmark call it too. It
raises `LightClientError` (and the registry's `ValidatorError`) for usage and network errors; a
blob judged unavailable is a normal report with `available` False. A blob whose availability window
has ended (the registry's current epoch is past its epoch + `window_epochs`) is not sampled: that
raises `BlobExpired`, whose verdict is unknown.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import multiaddr
import structlog

from da.constants import CELLS_PER_ROW
from da.errors import DAError
from da.kzg import CellVerifier
from da.types import BlobHeader, DataRoot
from network.config import NetworkConfig
from network.errors import NetworkError
from network.service import NetworkService, open_service
from network.types import PeerName
from sampling.client.assignment import Assignment, RegistryView
from sampling.client.directory import CustodyDirectory, split_multiaddr
from sampling.client.errors import AssignmentUnknown, BlobExpired, CertificateRejected, HeaderUnavailable
from sampling.client.headers import fetch_header_from_peers
from sampling.client.request import CheckRequest
from sampling.client.rounds import RoundRunner, SamplingStats
from sampling.confidence import compute_min_cells_withheld, compute_min_cells_withheld_2d, is_recoverable_from
from sampling.errors import SamplingError
from sampling.sampler import Sampler, SamplingSummary
from validator.api_client import AsyncNodeApiClient
from validator.errors import ValidatorError
from validator.registry.backends import open_registry

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[SamplingSummary, SamplingStats], None]


@dataclass(frozen=True)
class CheckReport:
    """The outcome of one check; `available` decides the exit code."""

    data_root: DataRoot
    summary: SamplingSummary
    stats: SamplingStats
    rows: int
    epoch: int
    quorum: int
    header_source: str
    certificate: str
    """"verified: <reason>" for a certificate, or "none (epoch and quorum given)"."""
    custodians: int
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase (assignment, start, header, sampling, close) and in all (total);
    `verification` is the part of sampling spent in KZG checks, and the CLI adds `startup` (process
    start to the check's start: imports and the verifier's setup)."""

    @property
    def available(self) -> bool:
        """True when the target confidence was reached with no cell missing."""
        return self.summary.available

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready values (what `--json` prints)."""
        summary = self.summary
        return {
            "data_root": "0x" + self.data_root.hex(),
            "verdict": "available" if self.available else "unavailable",
            "available": self.available,
            "confidence": summary.confidence,
            "target": summary.target,
            "rows": self.rows,
            "grid": {
                "rows": summary.grid_rows,
                "original_rows": self.rows,
                "extended_rows": summary.grid_rows - self.rows if summary.grid_rows else 0,
                "columns": CELLS_PER_ROW,
                "served_columns": summary.served_columns,
            },
            "bound": describe_bound(self.rows, summary),
            "served_columns": summary.served_columns,
            "needed": summary.needed,
            "tried": summary.tried,
            "verified": summary.verified,
            "failed": summary.failed,
            "invalid": summary.invalid,
            "missing": summary.missing,
            "epoch": self.epoch,
            "quorum": self.quorum,
            "certificate": self.certificate,
            "header_source": self.header_source,
            "custodians": self.custodians,
            "peers_asked": len(self.stats.peers_asked),
            "peers_abandoned": dict(sorted(self.stats.abandoned.items())),
            "rounds": self.stats.rounds,
            "requests": self.stats.requests,
            "kzg_batches": self.stats.kzg_batches,
            "retries": self.stats.retries,
            "deadline_hit": self.stats.deadline_hit,
            "elapsed_s": round(self.timings.get("total", 0.0), 4),
            "timings_s": {name: round(value, 4) for name, value in self.timings.items()},
        }


def describe_bound(rows: int, summary: SamplingSummary) -> dict[str, Any]:
    """The bound the confidence comes from: its name, the fewest withheld cells that make the blob
    unrecoverable among the cells drawn from, and how many cells that is out of."""
    served = summary.served_columns
    if summary.grid_rows:
        withheld = compute_min_cells_withheld_2d(rows, served) if is_recoverable_from(served) else 0
        return {
            "name": "2d",
            "formula": "C(N - w, k) / C(N, k), N = 2R x served, w = (R + 1) x (served - 63)",
            "min_withheld": withheld,
            "cells": summary.grid_rows * served,
        }
    return {
        "name": "1d",
        "formula": "C(N - w, k) / C(N, k), N = R x served, w = served - 63",
        "min_withheld": compute_min_cells_withheld(served) if is_recoverable_from(served) else 0,
        "cells": rows * served,
    }


def resolve_assignment(view: RegistryView, request: CheckRequest, certificate: bytes | None) -> Assignment:
    """The blob's assignment from its certificate, else --epoch/--quorum; else `AssignmentUnknown`."""
    if certificate is not None:
        assignment = view.certify_bytes(certificate)
        if assignment.data_root != request.data_root:
            raise CertificateRejected(
                f"it certifies 0x{assignment.data_root.hex()}, not 0x{request.data_root.hex()}"
            )
        return assignment
    if request.epoch is not None and request.quorum is not None:
        return view.assign(request.data_root, request.epoch, request.quorum)
    raise AssignmentUnknown(
        "cannot tell who holds this blob: give --cert FILE, or --epoch E --quorum Q"
        + (", or a --node that has its certificate" if request.node_url else "")
    )


def bootstrap_addresses(peers: tuple[str, ...]) -> dict[PeerName, list[multiaddr.Multiaddr]]:
    """Peer id -> dialable addresses of --peer multiaddrs; raises `ValueError` for a bad one."""
    found: dict[PeerName, list[multiaddr.Multiaddr]] = {}
    for address in peers:
        peer, dialable = split_multiaddr(address)
        found.setdefault(peer, []).append(dialable)
    return found


async def _get_header(
    service: NetworkService,
    request: CheckRequest,
    node: AsyncNodeApiClient | None,
    directory: CustodyDirectory,
    bootstrap: list[PeerName],
) -> tuple[BlobHeader, str]:
    """The header from the node, else the --peer peers, else the custodians; checked against the root."""
    problems: list[str] = []
    if node is not None:
        try:
            header = await node.get_header(request.data_root)
        except ValidatorError as error:  # ApiFailure: unreachable, an error answer, a wrong header
            problems.append(str(error))
        else:
            if header is not None:
                return header, f"node {node.base_url}"
            problems.append(f"node {node.base_url} has no header for it")
    for peers, label in ((bootstrap, "peer"), (directory.peers, "custodian")):
        if not peers:
            continue
        try:
            header, peer = await fetch_header_from_peers(service, request.data_root, peers)
        except HeaderUnavailable as error:
            problems.append(error.detail)
            continue
        return header, f"{label} {peer}"
    raise HeaderUnavailable(request.data_root, len(problems), "; ".join(problems) or "no source to ask")


async def run_check(
    request: CheckRequest,
    verifier: CellVerifier,
    progress: ProgressCallback | None = None,
    chooser: random.Random | None = None,
) -> CheckReport:
    """Check one data root; see the module docstring for what raises and what reports."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    chooser = chooser if chooser is not None else secrets.SystemRandom()
    try:
        bootstrap = bootstrap_addresses(request.peers)
    except ValueError as error:
        raise AssignmentUnknown(f"bad --peer address: {error}") from error
    config = NetworkConfig(
        response_timeout=request.timeout,
        dial_timeout=request.timeout,
        gossip=False,  # a one-shot check neither publishes nor follows certificates
    )
    with open_registry(request.registry) as registry:
        view = RegistryView(registry)
        async with contextlib.AsyncExitStack() as stack:
            node = None
            if request.node_url:
                node = await stack.enter_async_context(AsyncNodeApiClient(request.node_url, request.timeout))
            certificate = request.certificate
            if certificate is None and node is not None and (request.epoch is None or request.quorum is None):
                certificate = await node.get_certificate(request.data_root)
            assignment = resolve_assignment(view, request, certificate)
            epoch = assignment.quorum.epoch
            current = registry.current_epoch()
            if current > epoch + request.window_epochs:
                log.info(
                    "light.check.expired", epoch=epoch, current_epoch=current, window=request.window_epochs
                )
                raise BlobExpired(
                    request.data_root, epoch, assignment.quorum.index, current, request.window_epochs
                )
            directory = CustodyDirectory(assignment, view.preset, chooser)
            timings["assignment"] = time.perf_counter() - started
            mark = time.perf_counter()
            failure: Exception | None = None
            async with open_service(config) as service:
                directory.install(service.host, bootstrap)
                timings["start"] = time.perf_counter() - mark
                # Errors are carried out of the service's nursery, not raised through it (they would
                # arrive wrapped in an ExceptionGroup, and cancel the host's tasks mid-close).
                try:
                    mark = time.perf_counter()
                    header, source = await _get_header(service, request, node, directory, list(bootstrap))
                    timings["header"] = time.perf_counter() - mark
                    mark = time.perf_counter()
                    sampler = Sampler(
                        header.row_count,
                        request.target,
                        chooser,
                        max_attempts=request.max_attempts,
                        columns=directory.served_columns,
                        grid=True,
                    )
                    runner = RoundRunner(
                        service,
                        directory,
                        verifier,
                        parallel=request.parallel,
                        progress=progress,
                        header=header,
                    )
                    summary = await runner.run(sampler)
                    timings["sampling"] = time.perf_counter() - mark
                    timings["verification"] = runner.stats.verify_seconds  # within sampling
                except (NetworkError, SamplingError, ValidatorError, DAError) as error:
                    failure = error
                mark = time.perf_counter()
                await service.shut_connections()
            timings["close"] = time.perf_counter() - mark
            if failure is not None:
                raise failure
    timings["total"] = time.perf_counter() - started
    reason = assignment.certificate_reason
    return CheckReport(
        data_root=request.data_root,
        summary=summary,
        stats=runner.stats,
        rows=header.row_count,
        epoch=assignment.quorum.epoch,
        quorum=assignment.quorum.index,
        header_source=source,
        certificate=f"verified: {reason}"
        if assignment.certificate is not None
        else "none (epoch and quorum given)",
        custodians=len(directory.peers),
        timings=timings,
    )
