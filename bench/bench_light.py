"""Light-client benchmark: time to the target confidence for a 1 MiB blob (9 rows) or, with `--local
--sizes`, for several blob sizes in one run, and `follow` checks/s.

Figures, not pass/fail. By default against a real 8-validator devnet on 127.0.0.1 (8 `das validator
run` processes, blobs posted over HTTP and certified by the validators); with `--local`, against 8
custodians in this process (mainnet preset, each serving exactly its custody columns); `--local
--sizes 128KiB,1MiB,8MiB,32MiB` measures warm and cold checks at each size in turn (samples per check
and the cold `das light check` time by size: the 2D extension keeps both flat).

- warm: a client host that stays up (as `das light follow` does), the verifier's trusted setup
  loaded, runs `--checks` checks of one blob one after the other: header from a custodian, a fresh
  `secrets.SystemRandom` draw, sampling rounds with one KZG batch per round. Median and p99 of the
  time from "data root known" to "target reached".
- cold: `--cold` fresh `das light check --json` processes (Python start, imports, the verifier's
  setup, registry, certificate, dial, header, sampling, exit), timed from spawn to exit, with
  `--verifier lean` (the default) and `--verifier ckzg` interleaved.
- verification: one batch of `--cells` cells checked by each verifier in turn (no network).
- follow (devnet only): a `Follower` (what `das light follow` runs) is handed `--follow` certified
  1 MiB blobs at once, as a burst of certificates from gossip; checks/s until all are sampled.
- 2D (no network; `--two-d-only` runs it alone): the samples for each target with the 2D extension's
  bound against today's 1D bound at 128 KiB, 1 MiB, 8 MiB and 32 MiB (specs/sampling.md, The 2D
  bound), and the lean verifier's time for the 1 MiB blob's 2D sample count (cells drawn over the
  2R x 128 grid, extended rows folded into the original commitments) against its 1D count (cells of
  the R rows), interleaved, in one run.

On the devnet the validators, the client and its verifier share the machine's cores. Run with
`python bench/bench_light.py` (`--help` for options).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
import trio

from cli.light import VERIFIERS
from da import EncoderPool, encode_blob
from da.config import DAConfig
from da.constants import (
    BYTES_PER_CELL,
    BYTES_PER_FIELD_ELEMENT,
    BYTES_PER_PROOF,
    LENGTH_PREFIX_BYTES,
    MAX_SUPPORTED_BLOB_BYTES,
    USABLE_BYTES_PER_ROW,
)
from da.grid import compute_extended_blob
from da.kzg import PRECOMPUTE_FOR_PROVING, PRECOMPUTE_FOR_VERIFYING, load_ckzg_backend
from da.lean_verifier import BLS_MODULUS, load_lean_verifier
from da.packing import pack_blob
from da.row_count import compute_row_count
from da.row_domain import compute_row_domain
from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot, GridSample, RowBytes, RowIndex, Sample
from network.config import NetworkConfig
from network.constants import compute_network_name
from network.server import ServerPorts
from network.service import NetworkService, open_service, open_services
from sampling.client.assignment import RegistryCertificateValidator, RegistryView
from sampling.client.defaults import DEFAULT_FOLLOW_WORKERS
from sampling.client.directory import CustodyDirectory
from sampling.client.follow import Follower, FollowOptions
from sampling.client.headers import fetch_header_from_peers
from sampling.client.rounds import RoundRunner
from sampling.confidence import compute_samples_needed, compute_samples_needed_2d
from sampling.sampler import Sampler
from sampling.store import ResultStore
from validator.aggregation import AttestationAggregator
from validator.api_client import NodeApiClient
from validator.certificate import bytes_to_certificate, certificate_to_bytes
from validator.custody import compute_member_custody
from validator.devnet import Devnet
from validator.keys import SecretKey, compute_proof_of_possession
from validator.presets import get_preset
from validator.quorums import compute_quorums
from validator.registry import RegistryInfo
from validator.registry.sqlite import SqliteRegistry
from validator.signing import compute_attestation_signing_root
from validator.types import Attestation, Epoch, ValidatorIndex
from validator.vrf import compute_ballot, compute_genesis_seed

CHAIN_ID = 31337
MIB = 1024 * 1024
TWO_D_SIZES = (("128 KiB", 128 * 1024), ("1 MiB", MIB), ("8 MiB", 8 * MIB), ("32 MiB", 32 * MIB))


class Custodian:
    """`SampleStore`, `GridSampleStore` and `HeaderStore` holding one member's custody columns of
    the blob (over all 2R rows of its grid for `/tessera/samples/2`)."""

    def __init__(self, blob: Any, columns: frozenset[ColumnIndex], grid: Any = None) -> None:
        self.blob = blob
        self.columns = columns
        self.grid = grid

    def get_grid_samples(
        self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]
    ) -> list[GridSample | None]:
        if data_root != self.blob.data_root or self.grid is None:
            return [None] * len(coordinates)
        return [
            self.grid.get_sample(c) if c.column in self.columns and c.row < self.grid.grid_rows else None
            for c in coordinates
        ]

    def get_samples(self, data_root: DataRoot, coordinates: Sequence[CellCoordinate]) -> list[Sample | None]:
        if data_root != self.blob.data_root:
            return [None] * len(coordinates)
        return [self.blob.get_sample(c) if c.column in self.columns else None for c in coordinates]

    def get_header(self, data_root: DataRoot) -> BlobHeader | None:
        return self.blob.header if data_root == self.blob.data_root else None


def _key(index: int) -> SecretKey:
    return SecretKey.from_seed(hashlib.sha256(b"bench-light-%d" % index).digest())


def build_network(
    directory: Path, blob: Any, preset_name: str, validators: int, slots: int, grid: Any = None
) -> dict[str, Any]:
    """Registry, certificate and custodian stores for `blob` (its 2D grid: `grid`, else computed)."""
    preset = get_preset(preset_name)
    registry_path = directory / "registry.sqlite"
    info = RegistryInfo(CHAIN_ID, preset_name, time.time(), 600.0)
    with SqliteRegistry.create(registry_path, info, compute_genesis_seed(CHAIN_ID, b"bench")) as registry:
        for number in range(validators):
            key = _key(number)
            index = registry.register_validator(
                key.pubkey,
                compute_proof_of_possession(key),
                slots * preset.STAKE_PER_SLOT,
                effective_epoch=Epoch(0),
            )
            ballot = compute_ballot(key, index, CHAIN_ID, Epoch(0), registry.get_seed(Epoch(0)))
            registry.put_ballot(ballot, genesis=True)
        context = registry.get_epoch_context(Epoch(0))
        quorum = compute_quorums(context, preset)[0]
        aggregator = AttestationAggregator(context, quorum, blob.data_root, preset)
        message = compute_attestation_signing_root(CHAIN_ID, Epoch(0), quorum.index, blob.data_root)
        for member in quorum.members:
            aggregator.add(
                Attestation(Epoch(0), quorum.index, blob.data_root, member, _key(member).sign(message))
            )
    assert aggregator.certificate is not None
    certificate = directory / "certificate.ssz"
    certificate.write_bytes(certificate_to_bytes(aggregator.certificate))
    custody = compute_member_custody(quorum, blob.data_root, preset)
    grid = grid if grid is not None else compute_extended_blob(blob)
    stores = [Custodian(blob, custody.get(ValidatorIndex(i), frozenset()), grid) for i in range(validators)]
    return {"registry": registry_path, "certificate": certificate, "stores": stores}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def warm_checks(
    network: dict[str, Any], data_root: DataRoot, checks: int, target: float, verifier: Any
) -> dict[str, Any]:
    """`checks` checks from one long-lived client host; seconds per check and what they did."""
    times: list[float] = []
    samples: list[int] = []
    rounds: list[int] = []
    with SqliteRegistry(network["registry"]) as registry:
        view = RegistryView(registry)
        assignment = view.certify_bytes(network["certificate"].read_bytes())
        async with open_service(NetworkConfig()) as client:
            chooser = secrets.SystemRandom()
            for number in range(checks + 1):  # the first one dials everyone: a warm-up, not counted
                started = time.perf_counter()
                directory = CustodyDirectory(assignment, view.preset, chooser)
                directory.install(client.host)
                header, _ = await fetch_header_from_peers(client, data_root, directory.peers)
                # As `das light check` samples: uniformly over the 2D grid, checked against the header.
                sampler = Sampler(
                    header.row_count, target, chooser, columns=directory.served_columns, grid=True
                )
                runner = RoundRunner(client, directory, verifier, header=header)
                summary = await runner.run(sampler)
                elapsed = time.perf_counter() - started
                if not summary.available:
                    raise RuntimeError(f"warm check {number} did not reach the target: {summary}")
                if number:
                    times.append(elapsed)
                    samples.append(summary.verified)
                    rounds.append(runner.stats.rounds)
    return {
        "checks": checks,
        "median_s": statistics.median(times),
        "p99_s": _percentile(times, 0.99),
        "max_s": max(times),
        "samples": statistics.median(samples),
        "rounds_median": statistics.median(rounds),
    }


async def cold_checks(
    network: dict[str, Any], data_root: DataRoot, runs: int, target: float
) -> dict[str, Any]:
    """`runs` fresh `das light check` processes with each verifier (`--verifier lean`, the default,
    and `--verifier ckzg`), interleaved; wall seconds each and their own phase timings."""
    walls: dict[str, list[float]] = {kind: [] for kind in VERIFIERS}
    reports: dict[str, list[dict[str, Any]]] = {kind: [] for kind in VERIFIERS}
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "light",
        "check",
        "0x" + data_root.hex(),
        "--registry",
        str(network["registry"]),
        "--cert",
        str(network["certificate"]),
        "--confidence",
        str(target),
        "--json",
    ]
    for _ in range(runs):
        for kind in VERIFIERS:
            started = time.perf_counter()
            result = await trio.run_process(
                [*command, "--verifier", kind], capture_stdout=True, capture_stderr=True, check=False
            )
            walls[kind].append(time.perf_counter() - started)
            if result.returncode != 0:
                raise RuntimeError(f"cold check exited {result.returncode}: {result.stderr.decode()[-2000:]}")
            reports[kind].append(json.loads(result.stdout))

    def phase(kind: str, name: str) -> float:
        return statistics.median(r["timings_s"].get(name, 0.0) for r in reports[kind])

    return {
        kind: {
            "runs": runs,
            "median_s": statistics.median(walls[kind]),
            "max_s": max(walls[kind]),
            "startup_median_s": phase(kind, "startup"),
            "in_process_median_s": phase(kind, "total"),
            "sampling_median_s": phase(kind, "sampling"),
            "verification_median_s": phase(kind, "verification"),
            "header_median_s": phase(kind, "header"),
            "samples_median": statistics.median(r["verified"] for r in reports[kind]),
            "samples_max": max(r["verified"] for r in reports[kind]),
        }
        for kind in VERIFIERS
    }


def verification_side_by_side(cells: int, repeats: int) -> dict[str, Any]:
    """One batch of `cells` random cells of a 1 MiB blob (today's sample count for 0.9999 is 169),
    verified by the lean verifier and by ckzg in turn, `repeats` times: median seconds of each."""
    prover = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    blob = encode_blob(random.Random(13).randbytes(MIB), prover)
    chooser = random.Random(7)
    picks = [(chooser.randrange(blob.header.row_count), chooser.randrange(128)) for _ in range(cells)]
    batch = (
        [blob.header.row_commitments[r] for r, _ in picks],
        [ColumnIndex(c) for _, c in picks],
        [blob.rows[r].cells[c] for r, c in picks],
        [blob.rows[r].proofs[c] for r, c in picks],
    )
    verifiers = {"lean": load_lean_verifier(), "ckzg": load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING)}
    times: dict[str, list[float]] = {kind: [] for kind in verifiers}
    for _ in range(repeats):
        for kind, verifier in verifiers.items():
            started = time.perf_counter()
            if not verifier.verify_cell_proof_batch(*batch):
                raise RuntimeError(f"{kind} rejected a valid batch")
            times[kind].append(time.perf_counter() - started)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    return {
        "cells": cells,
        "repeats": repeats,
        **{f"{k}_median_s": v for k, v in medians.items()},
        "ratio": medians["lean"] / medians["ckzg"],
    }


def two_d_sample_counts(targets: Sequence[float]) -> list[dict[str, Any]]:
    """Samples for each target, 2D (every column served, and 115 of 128) against 1D, by blob size."""
    table = []
    for label, size in TWO_D_SIZES:
        rows = compute_row_count(size)
        table.append(
            {
                "size": label,
                "rows": rows,
                **{f"2d_{t}": compute_samples_needed_2d(rows, t) for t in targets},
                **{f"2d_{t}_115_columns": compute_samples_needed_2d(rows, t, 115) for t in targets},
                **{f"1d_{t}": compute_samples_needed(rows, t) for t in targets},
            }
        )
    return table


def _combine_rows(rows: list[RowBytes], coefficients: Sequence[int]) -> RowBytes:
    """sum_k coefficients[k] row k, element by element (an extended row of the 2D extension)."""
    size = BYTES_PER_FIELD_ELEMENT
    elements = [[int.from_bytes(row[i : i + size], "big") for i in range(0, len(row), size)] for row in rows]
    values = (
        sum(c * v for c, v in zip(coefficients, column, strict=True)) % BLS_MODULUS
        for column in zip(*elements, strict=True)
    )
    return RowBytes(b"".join(value.to_bytes(size, "big") for value in values))


def two_d_verification(original_rows: int, target: float, repeats: int) -> dict[str, Any]:
    """The lean verifier on a blob of `original_rows` rows (9: 1 MiB): the 2D count of cells drawn
    over its 2R x 128 grid (one folded batch against the R original commitments) against the 1D
    count drawn over its R rows; median seconds of each over `repeats` interleaved batches, and the
    cell bytes each fetches. Only the rows the draws touch are encoded."""
    prover = load_ckzg_backend(PRECOMPUTE_FOR_PROVING)
    size = (
        MIB
        if original_rows == compute_row_count(MIB)
        else original_rows * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES
    )
    config = DAConfig(max_blob_bytes=MAX_SUPPORTED_BLOB_BYTES)
    rows = pack_blob(random.Random(30).randbytes(size), config)
    if len(rows) != original_rows:
        raise RuntimeError(f"{size} bytes packed into {len(rows)} rows, not {original_rows}")
    two_d_cells = compute_samples_needed_2d(original_rows, target)
    one_d_cells = compute_samples_needed(original_rows, target)
    chooser = random.Random(2)
    grid = [(r, c) for r in range(2 * original_rows) for c in range(128)]
    two_d_picks = chooser.sample(grid, two_d_cells)
    one_d_picks = chooser.sample(grid[: original_rows * 128], one_d_cells)
    domain = compute_row_domain(original_rows)
    encoded: dict[int, tuple[list[Any], list[Any]]] = {}
    for row in sorted({r for r, _ in two_d_picks + one_d_picks}):
        source = rows[row] if row < original_rows else _combine_rows(rows, domain.field_coefficients(row))
        encoded[row] = prover.compute_cells_and_proofs(source)
    commitments = [prover.compute_row_commitment(row) for row in rows]
    verifier = load_lean_verifier()

    def columns_cells_proofs(picks: list[tuple[int, int]]) -> tuple[list[Any], list[Any], list[Any]]:
        return (
            [ColumnIndex(c) for _, c in picks],
            [encoded[r][0][c] for r, c in picks],
            [encoded[r][1][c] for r, c in picks],
        )

    two_d_batch = columns_cells_proofs(two_d_picks)
    one_d_batch = columns_cells_proofs(one_d_picks)
    two_d_rows = [RowIndex(r) for r, _ in two_d_picks]
    one_d_commitments = [commitments[r] for r, _ in one_d_picks]
    times: dict[str, list[float]] = {"2d": [], "1d": []}
    for _ in range(repeats):
        started = time.perf_counter()
        ok_2d = verifier.verify_extended_cell_proof_batch(commitments, two_d_rows, *two_d_batch)
        times["2d"].append(time.perf_counter() - started)
        started = time.perf_counter()
        ok_1d = verifier.verify_cell_proof_batch(one_d_commitments, *one_d_batch)
        times["1d"].append(time.perf_counter() - started)
        if not (ok_2d and ok_1d):
            raise RuntimeError(f"a valid batch was rejected (2D {ok_2d}, 1D {ok_1d})")
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    sample_bytes = BYTES_PER_CELL + BYTES_PER_PROOF
    return {
        "rows": original_rows,
        "target": target,
        "repeats": repeats,
        "cells_2d": two_d_cells,
        "cells_1d": one_d_cells,
        "extended_cells_in_2d_batch": sum(r >= original_rows for r in two_d_rows),
        "lean_2d_median_s": medians["2d"],
        "lean_1d_median_s": medians["1d"],
        "ratio_2d_to_1d": medians["2d"] / medians["1d"],
        "cell_and_proof_bytes_2d": two_d_cells * sample_bytes,
        "cell_and_proof_bytes_1d": one_d_cells * sample_bytes,
    }


def two_d_figures(target: float, repeats: int, original_rows: int) -> dict[str, Any]:
    """The 2D figures: sample counts by size and the verifier's time at `original_rows` rows."""
    targets = sorted({target, 0.9999, 0.999999})
    return {
        "samples": two_d_sample_counts(targets),
        "verification": two_d_verification(original_rows, target, repeats),
    }


def print_two_d(figures: dict[str, Any]) -> None:
    """The 2D figures as text."""
    print("2D extension: samples needed (2D, 2D with 115 of 128 columns served, 1D)")
    for row in figures["samples"]:
        targets = sorted(float(key[3:]) for key in row if key.startswith("2d_") and "_115" not in key)
        parts = [f"{t}: {row[f'2d_{t}']} / {row[f'2d_{t}_115_columns']} / {row[f'1d_{t}']}" for t in targets]
        print(f"  {row['size']:>7} (R = {row['rows']:>3}): " + "; ".join(parts))
    v = figures["verification"]
    print(
        f"  lean verifier at R = {v['rows']} for {v['target']}: {v['cells_2d']} cells over the 2R x 128 grid "
        f"({v['extended_cells_in_2d_batch']} in extended rows) {v['lean_2d_median_s'] * 1000:.1f} ms, "
        f"{v['cells_1d']} cells of the R rows {v['lean_1d_median_s'] * 1000:.1f} ms "
        f"(ratio {v['ratio_2d_to_1d']:.2f}; median of {v['repeats']}); cells and proofs fetched "
        f"{v['cell_and_proof_bytes_2d'] / 1024:.0f} KiB vs {v['cell_and_proof_bytes_1d'] / 1024:.0f} KiB"
    )


def print_sizes(figures: dict[str, Any]) -> None:
    """The per-size table of a `--sizes` run as text."""
    print(
        f"light check to {figures['target']} by blob size, {figures['custodians']} in-process custodians: "
        "samples per check (warm median / cold median, max) and time (target: samples <= 33, cold flat)"
    )
    for f in figures["sizes"]:
        warm, lean = f["warm"], f["cold"]["lean"]
        ckzg = f["cold"]["ckzg"]
        print(
            f"  {f['size']:>7} (R = {f['rows']:>3}): samples {warm['samples']:.0f} / "
            f"{lean['samples_median']:.0f}, max {lean['samples_max']}; warm median "
            f"{warm['median_s'] * 1000:.0f} ms; cold `das light check` median {lean['median_s']:.2f} s "
            f"(lean; start-up {lean['startup_median_s']:.2f} s, check {lean['in_process_median_s']:.2f} s: "
            f"header {lean['header_median_s']:.2f} s, sampling {lean['sampling_median_s']:.2f} s of which "
            f"verification {lean['verification_median_s']:.3f} s), {ckzg['median_s']:.2f} s (ckzg)"
        )
    print_two_d(figures["two_d"])


async def follow_burst(
    registry_path: Path, certificates: list[bytes], verifier: Any, workers: int, db: Path
) -> dict[str, Any]:
    """Hand a `Follower` every certificate at once (a gossip burst); checks/s until all are sampled."""
    seconds: list[float] = []
    with SqliteRegistry(registry_path) as registry, ResultStore(db) as store:
        view = RegistryView(registry)
        config = NetworkConfig(network_name=compute_network_name(registry.get_info().chain_id))
        async with open_service(config, certificate_validator=RegistryCertificateValidator(view)) as service:
            follower = Follower(
                service,
                view,
                store,
                verifier,
                FollowOptions(workers=workers),
                on_result=lambda result, took, stats: seconds.append(took),
            )
            async with trio.open_nursery() as nursery:
                await nursery.start(follower.run)
                started = time.perf_counter()
                for certificate in certificates:
                    follower.offer(bytes_to_certificate(certificate).data_root, certificate, time.time())
                with trio.fail_after(600):
                    while follower.finished + follower.failed < len(certificates):
                        await trio.sleep(0.01)
                elapsed = time.perf_counter() - started
                nursery.cancel_scope.cancel()
            await service.shut_connections()
        results = [store.get(bytes_to_certificate(c).data_root) for c in certificates]
    return {
        "roots": len(certificates),
        "workers": workers,
        "checks_per_s": len(certificates) / elapsed,
        "available": sum(r is not None and r.status == "available" for r in results),
        "per_root_median_s": statistics.median(seconds) if seconds else None,
    }


def start_devnet(directory: Path, validators: int) -> None:
    """An N-validator devnet in `directory`, running and connected."""
    devnet = Devnet(directory)
    devnet.create(validators, 3600.0)
    for index in range(validators):
        devnet.start_node(index)
    devnet.wait_until_connected(list(range(validators)))


def post_certified(api: str, blobs: int, size: int) -> list[bytes]:
    """Post `blobs` random blobs to `api`, each once the one before is certified; their certificates.

    One at a time: the devnet's 8 validators share 2 cores, and a burst of 1 MiB blobs beyond about
    6 overloads them (bench_devnet measures sustained throughput); here only the certificates matter.
    """
    certificates = []
    node = NodeApiClient(api)
    for _ in range(blobs):
        root = node.post_blob(secrets.token_bytes(size))["data_root"]
        status = node.wait_for_certificate(root, 120.0)
        if status["status"] != "certified":
            raise RuntimeError(f"blob {root} not certified: {status}")
        certificates.append(node.get_certificate(root))
    return certificates


async def bench_devnet(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    """Warm, cold and follow figures against a real devnet in `directory`."""
    started = time.perf_counter()
    start_devnet(directory, args.validators)
    up = time.perf_counter() - started
    api = Devnet(directory).node_info(0)["api_url"]  # type: ignore[index]
    certificates = post_certified(api, 1 + args.follow, args.mib * MIB)
    network = {"registry": directory / "registry.sqlite", "certificate": directory / "certificate.ssz"}
    network["certificate"].write_bytes(certificates[0])
    data_root = bytes_to_certificate(certificates[0]).data_root
    verifier = load_lean_verifier()
    warm = await warm_checks(network, data_root, args.checks, args.confidence, verifier)
    follow = await follow_burst(
        network["registry"], certificates[1:], verifier, args.workers, directory / "follow.sqlite"
    )
    cold = await cold_checks(network, data_root, args.cold, args.confidence)
    return {"devnet_up_s": up, "warm": warm, "cold": cold, "follow": follow}


async def bench_local(args: argparse.Namespace, size: int) -> dict[str, Any]:
    """Warm and cold figures against custodians in this process, for a random blob of `size` bytes
    (encoded and extended on an encoder pool of `--encoders` processes: 32 MiB is 265 rows)."""
    data = random.Random(20).randbytes(size)
    config = DAConfig(max_blob_bytes=MAX_SUPPORTED_BLOB_BYTES)
    started = time.perf_counter()
    with EncoderPool(workers=args.encoders, config=config) as pool:
        blob = pool.encode_blob(data)
        grid = pool.compute_extended_blob(blob)
    encoded = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        network = build_network(Path(tmp), blob, args.preset, args.validators, args.slots, grid)
        fast = NetworkConfig(response_timeout=5.0, dial_timeout=5.0)
        services = [
            NetworkService(fast, ServerPorts(samples=s, grid_samples=s, headers=s)) for s in network["stores"]
        ]
        async with open_services(services):
            with SqliteRegistry(network["registry"]) as registry:
                for index, service in enumerate(services):
                    registry.update_endpoint(
                        ValidatorIndex(index), service.peer_id, tuple(service.listen_addrs)
                    )
            warm = await warm_checks(
                network, blob.data_root, args.checks, args.confidence, load_lean_verifier()
            )
            cold = await cold_checks(network, blob.data_root, args.cold, args.confidence)
    return {
        "blob_bytes": size,
        "size": _size_label(size),
        "rows": blob.header.row_count,
        "preset": args.preset,
        "encode_and_extend_s": encoded,
        "warm": warm,
        "cold": cold,
    }


def _size_label(size: int) -> str:
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


SIZE_UNITS = {"KiB": 1024, "MiB": MIB, "B": 1, "": 1}


def parse_sizes(text: str) -> list[int]:
    """Blob sizes from `128KiB,1MiB,8MiB,32MiB` (KiB, MiB or bytes), in order; ValueError otherwise."""
    sizes = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(KiB|MiB|B|)\s*", part)
        if match is None:
            raise ValueError(f"{part!r} is not a size such as 128KiB or 8MiB")
        size = int(match.group(1)) * SIZE_UNITS[match.group(2)]
        if not 1 <= size <= MAX_SUPPORTED_BLOB_BYTES:
            raise ValueError(f"blob size {part.strip()!r} is outside 1..{MAX_SUPPORTED_BLOB_BYTES} bytes")
        sizes.append(size)
    return sizes


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    """The figures of the chosen setting."""
    figures: dict[str, Any] = {
        "setting": "local" if args.local else "devnet",
        "blob_mib": args.mib,
        "custodians": args.validators,
        "target": args.confidence,
    }
    figures["two_d"] = two_d_figures(args.confidence, args.repeats, args.two_d_rows)
    if args.two_d_only:
        return figures
    figures["verification"] = verification_side_by_side(args.cells, args.repeats)
    if args.local:
        if args.sizes is not None:
            figures["sizes"] = [await bench_local(args, size) for size in parse_sizes(args.sizes)]
            return figures
        figures.update(await bench_local(args, args.mib * MIB))
        return figures
    directory = Path(tempfile.mkdtemp(prefix="tessera-bench-light-"))
    try:
        figures.update(await bench_devnet(args, directory))
    finally:
        Devnet(directory).stop_all()
    figures.update(rows=compute_row_count(args.mib * MIB), preset="devnet")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checks", type=int, default=50, help="warm checks timed")
    parser.add_argument("--cold", type=int, default=5, help="fresh `das light check` processes timed")
    parser.add_argument("--mib", type=int, default=1, help="blob size in MiB (1 MiB = 9 rows)")
    parser.add_argument("--confidence", type=float, default=0.9999, help="target confidence")
    parser.add_argument("--preset", default="mainnet", help="protocol preset of the registry")
    parser.add_argument("--validators", type=int, default=8, help="custodians")
    parser.add_argument(
        "--slots", type=int, default=8, help="slots per custodian (8 x 8 = one mainnet quorum)"
    )
    parser.add_argument("--follow", type=int, default=10, help="blobs handed to the follower at once")
    parser.add_argument("--workers", type=int, default=DEFAULT_FOLLOW_WORKERS, help="follower workers")
    parser.add_argument("--cells", type=int, default=169, help="cells in the verification side by side")
    parser.add_argument("--repeats", type=int, default=15, help="batches each verifier checks")
    parser.add_argument("--local", action="store_true", help="in-process custodians instead of a devnet")
    parser.add_argument(
        "--sizes",
        help=(
            "with --local: blob sizes measured one after the other in this run instead of --mib, "
            "comma-separated, e.g. 128KiB,1MiB,8MiB,32MiB (samples per check and cold check time by size)"
        ),
    )
    parser.add_argument(
        "--encoders", type=int, default=2, help="encoder processes that encode and extend the --local blob"
    )
    parser.add_argument(
        "--two-d-only", action="store_true", help="only the 2D figures (sample counts, verifier time)"
    )
    parser.add_argument(
        "--two-d-rows",
        type=int,
        default=9,
        help="rows of the blob the 2D verifier time is taken on (9 = 1 MiB)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if args.sizes is not None:
        if not args.local:
            parser.error("--sizes needs --local")
        try:
            parse_sizes(args.sizes)
        except ValueError as error:
            parser.error(f"--sizes: {error}")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figures = trio.run(bench, args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    if args.two_d_only:
        print_two_d(figures["two_d"])
        return
    if args.sizes is not None:
        print_sizes(figures)
        return
    warm, cold = figures["warm"], figures["cold"]
    where = "in-process custodians" if args.local else "validators (devnet processes)"
    print(
        f"light client to {figures['target']} for a {figures['blob_mib']} MiB blob ({figures['rows']} rows), "
        f"{figures['custodians']} {where}, {figures['preset']} preset"
    )
    ms = {key: round(warm[key] * 1000) for key in ("median_s", "p99_s", "max_s")}
    print(
        f"  warm ({warm['checks']} checks, {warm['samples']:.0f} samples, "
        f"{warm['rounds_median']:.0f} round(s)): "
        f"median {ms['median_s']} ms, p99 {ms['p99_s']} ms, max {ms['max_s']} ms"
    )
    for kind in VERIFIERS:
        c = cold[kind]
        print(
            f"  cold, --verifier {kind} ({c['runs']} fresh `das light check` processes): median "
            f"{c['median_s']:.2f} s wall, max {c['max_s']:.2f} s; start-up {c['startup_median_s']:.2f} s, "
            f"check {c['in_process_median_s']:.2f} s (sampling {c['sampling_median_s']:.2f} s, of which "
            f"verification {c['verification_median_s']:.3f} s)"
        )
    v = figures["verification"]
    print(
        f"  verification of {v['cells']} cells in one batch: lean {v['lean_median_s'] * 1000:.1f} ms, "
        f"ckzg {v['ckzg_median_s'] * 1000:.1f} ms (ratio {v['ratio']:.2f}; median of {v['repeats']})"
    )

    follow = figures.get("follow")
    if follow is not None:
        print(
            f"  follow ({follow['roots']} certified blobs at once, {follow['workers']} workers): "
            f"{follow['checks_per_s']:.2f} checks/s, {follow['available']}/{follow['roots']} available, "
            f"{follow['per_root_median_s']:.2f} s per root (median)"
        )
    print_two_d(figures["two_d"])


if __name__ == "__main__":
    main()
