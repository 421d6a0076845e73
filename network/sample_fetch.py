"""Fetching samples from peers and verifying them: the one path every requester takes.

A request goes out through the caller's `RequestSamples` (`NetworkService.request_samples`, or a
wrapper of it that adds a limiter, a timeout or a retry). What came back is checked against the data
root by `da.samples.compute_sample_validity` in a worker thread (ckzg holds the GIL): one batched KZG
call, bisected only when it fails, so a bad cell costs only itself. Several peers' answers (a light
client's round) share that one batch through `verify_answers`; `fetch_verified_samples` is one
request and its check. Given a `PeerGuard`, a peer whose samples all verified is rewarded and one that
served invalid data is penalized (`Offence.INVALID_DATA`, which bans it: `network.scoring`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

import structlog
import trio

from da.grid_samples import compute_grid_sample_validity
from da.kzg import CellVerifier
from da.samples import compute_sample_validity
from da.types import BlobHeader, CellCoordinate, DataRoot, GridSample, Sample
from network.messages import GridSamplesResponse, SamplesResponse
from network.peers import PeerGuard
from network.scoring import Offence
from network.types import PeerName, VerifiedGridSamples, VerifiedSamples

log = structlog.get_logger(__name__)

RequestSamples = Callable[[PeerName, DataRoot, Sequence[CellCoordinate]], Awaitable[SamplesResponse]]
"""Sends one samples request and returns the peer's unverified answer (`NetworkService.request_samples`)."""

RequestGridSamples = Callable[[PeerName, DataRoot, Sequence[CellCoordinate]], Awaitable[GridSamplesResponse]]
"""Sends one `/tessera/samples/2` request (`NetworkService.request_grid_samples`)."""


@dataclass(frozen=True, slots=True)
class SamplesAnswer:
    """One peer's answer to a samples request, not yet verified."""

    peer: PeerName
    coordinates: tuple[CellCoordinate, ...]
    response: SamplesResponse


@dataclass(frozen=True, slots=True)
class VerifiedAnswers:
    """The answers of `verify_answers`, each sorted into verified, missing and invalid."""

    results: tuple[VerifiedSamples, ...]
    """One per answer, in the order given."""
    kzg_batches: int
    """Batched KZG checks made: 1 when every sample verified (0 when none was served)."""


async def verify_answers(
    data_root: DataRoot,
    answers: Sequence[SamplesAnswer],
    verifier: CellVerifier,
    guard: PeerGuard | None = None,
) -> VerifiedAnswers:
    """Check every sample of every answer against `data_root` in one batch (in a worker thread),
    bisected only when it fails; tell `guard` how each peer did. Raises `MalformedSample` only for a
    malformed `data_root`."""
    held = [sample for answer in answers for sample in answer.response.results if sample is not None]
    if not held:
        return VerifiedAnswers(tuple(_sort(answer, iter(())) for answer in answers), kzg_batches=0)
    validity = await trio.to_thread.run_sync(compute_sample_validity, data_root, held, verifier)
    verdicts = iter(validity.valid)
    results = tuple(_sort(answer, verdicts) for answer in answers)
    if guard is not None:
        for result in results:
            _tell(guard, result)
    return VerifiedAnswers(results, validity.batches)


async def fetch_verified_samples(
    request: RequestSamples,
    peer: PeerName,
    data_root: DataRoot,
    coordinates: Sequence[CellCoordinate],
    verifier: CellVerifier,
    guard: PeerGuard | None = None,
) -> VerifiedSamples:
    """`peer`'s samples at `coordinates`, checked against `data_root`: those that verified, the
    coordinates it does not hold, and those it served invalid. Raises what `request` raises (a
    `NetworkError`, or whatever the caller's wrapper adds)."""
    response = await request(peer, data_root, coordinates)
    answer = SamplesAnswer(peer, tuple(coordinates), response)
    (result,) = (await verify_answers(data_root, [answer], verifier, guard)).results
    return result


@dataclass(frozen=True, slots=True)
class GridSamplesAnswer:
    """One peer's answer to a grid samples request, not yet verified."""

    peer: PeerName
    coordinates: tuple[CellCoordinate, ...]
    response: GridSamplesResponse


@dataclass(frozen=True, slots=True)
class VerifiedGridAnswers:
    """The answers of `verify_grid_answers`, each sorted into verified, missing and invalid."""

    results: tuple[VerifiedGridSamples, ...]
    kzg_batches: int


async def verify_grid_answers(
    data_root: DataRoot,
    header: BlobHeader,
    answers: Sequence[GridSamplesAnswer],
    verifier: CellVerifier,
    guard: PeerGuard | None = None,
) -> VerifiedGridAnswers:
    """Check every grid sample of every answer against `header` (whose hash must be `data_root`; the
    caller checked it when it fetched the header) in one batch in a worker thread, bisected only when
    it fails; tell `guard` how each peer did. Raises `MalformedSample` for a malformed root and
    `MalformedHeader` for an invalid header."""
    held = [sample for answer in answers for sample in answer.response.results if sample is not None]
    if not held:
        return VerifiedGridAnswers(tuple(_sort_grid(answer, iter(())) for answer in answers), kzg_batches=0)
    validity = await trio.to_thread.run_sync(compute_grid_sample_validity, data_root, header, held, verifier)
    verdicts = iter(validity.valid)
    results = tuple(_sort_grid(answer, verdicts) for answer in answers)
    if guard is not None:
        for result in results:
            _tell(guard, result)
    return VerifiedGridAnswers(results, validity.batches)


async def fetch_verified_grid_samples(
    request: RequestGridSamples,
    peer: PeerName,
    data_root: DataRoot,
    header: BlobHeader,
    coordinates: Sequence[CellCoordinate],
    verifier: CellVerifier,
    guard: PeerGuard | None = None,
) -> VerifiedGridSamples:
    """`peer`'s cells of the 2D grid at `coordinates`, checked against `header` (the root's): those
    that verified, those it does not hold, and those it served invalid. Raises what `request` raises."""
    response = await request(peer, data_root, coordinates)
    answer = GridSamplesAnswer(peer, tuple(coordinates), response)
    (result,) = (await verify_grid_answers(data_root, header, [answer], verifier, guard)).results
    return result


def _sort_grid(answer: GridSamplesAnswer, verdicts: Iterator[bool]) -> VerifiedGridSamples:
    samples: list[GridSample] = []
    missing: list[CellCoordinate] = []
    invalid: list[CellCoordinate] = []
    for coordinate, sample in zip(answer.coordinates, answer.response.results, strict=True):
        if sample is None:
            missing.append(coordinate)
        elif next(verdicts):
            samples.append(sample)
        else:
            invalid.append(coordinate)
    return VerifiedGridSamples(answer.peer, tuple(samples), tuple(missing), tuple(invalid))


def _sort(answer: SamplesAnswer, verdicts: Iterator[bool]) -> VerifiedSamples:
    """Split one answer by the verdicts of its held samples (consumed in order from `verdicts`)."""
    samples: list[Sample] = []
    missing: list[CellCoordinate] = []
    invalid: list[CellCoordinate] = []
    for coordinate, sample in zip(answer.coordinates, answer.response.results, strict=True):
        if sample is None:
            missing.append(coordinate)
        elif next(verdicts):
            samples.append(sample)
        else:
            invalid.append(coordinate)
    return VerifiedSamples(answer.peer, tuple(samples), tuple(missing), tuple(invalid))


def _tell(guard: PeerGuard, result: VerifiedSamples | VerifiedGridSamples) -> None:
    if result.invalid:
        log.warning(
            "peer served invalid samples",
            peer=result.peer,
            invalid=len(result.invalid),
            of=len(result.invalid) + len(result.samples),
        )
        guard.penalize(result.peer, Offence.INVALID_DATA)
    elif result.samples:
        guard.reward(result.peer)
