"""Sampling rounds over libp2p: the I/O around `sampling.Sampler`.

One round: the sampler plans one request per custodian (at most `MAX_SAMPLES_PER_REQUEST` cells
each); the requests go out in parallel (a trio nursery, at most `parallel` at once), unverified;
every sample that came back in the round is then checked in ONE batched KZG call
(`network.sample_fetch.verify_answers`, in a worker thread). Only when that batch fails is it
bisected to find the bad cells, so the good cells still count and the bad ones are retried at
another custodian. Given the blob's header, the runner samples the 2D grid: requests go out on
`/tessera/samples/2` and the answers are checked against the header (`verify_grid_answers`; the
lean verifier folds the extended rows into one batch). A peer that times out, cannot be reached,
or served invalid data is abandoned for the rest of the run (invalid data also bans it:
`network.scoring`). A cell whose custodians all failed is asked from the quorum's other members
(its fallbacks). Rounds repeat until every drawn cell is settled or the deadline passes (then open
cells count as missing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
import trio

from da.kzg import CellVerifier
from da.types import BlobHeader, CellCoordinate, ColumnIndex, DataRoot
from network.constants import MAX_SAMPLES_PER_REQUEST
from network.errors import (
    InvalidResponse,
    MalformedMessage,
    MessageTooLarge,
    NetworkError,
    PeerBanned,
    PeerDisconnected,
    PeerTimeout,
    PeerUnreachable,
)
from network.messages import GridSamplesResponse, SamplesResponse
from network.sample_fetch import (
    GridSamplesAnswer,
    SamplesAnswer,
    VerifiedAnswers,
    VerifiedGridAnswers,
    verify_answers,
    verify_grid_answers,
)
from network.service import NetworkService
from network.types import PeerName, VerifiedGridSamples, VerifiedSamples
from sampling.client.defaults import DEFAULT_PARALLEL_REQUESTS
from sampling.client.directory import CustodyDirectory
from sampling.sampler import Outcome, Sampler, SamplingSummary

log = structlog.get_logger(__name__)

ProgressCallback = Callable[[SamplingSummary, "SamplingStats"], None]


@dataclass
class SamplingStats:
    """What a run did on the network (for reports and the status API)."""

    rounds: int = 0
    requests: int = 0
    kzg_batches: int = 0
    """KZG batch verifications: one per round, more only in rounds where some sample was invalid."""
    peers_asked: set[PeerName] = field(default_factory=set)
    abandoned: dict[PeerName, str] = field(default_factory=dict)
    """Peers given up on during the run, with the reason."""
    deadline_hit: bool = False
    retries: int = 0
    """Requests sent again after a failed stream (see `RoundRunner._request`)."""
    verify_seconds: float = 0.0
    """Wall seconds spent in KZG batch verification."""


@dataclass(frozen=True, slots=True)
class _Failed:
    """A request that got no usable answer: every cell it asked for gets `outcome`."""

    peer: PeerName
    coordinates: tuple[CellCoordinate, ...]
    outcome: Outcome


class RoundRunner:
    """Runs sampling rounds of one blob against its custodians."""

    def __init__(
        self,
        service: NetworkService,
        directory: CustodyDirectory,
        verifier: CellVerifier,
        *,
        parallel: int = DEFAULT_PARALLEL_REQUESTS,
        progress: ProgressCallback | None = None,
        header: BlobHeader | None = None,
    ) -> None:
        """`header`: the blob's header (checked against its root); with it the runner asks and
        verifies cells of the 2D grid (`/tessera/samples/2`), without it original rows only."""
        self._header = header
        self._service = service
        self._directory = directory
        self._verifier = verifier
        self._limiter = trio.CapacityLimiter(parallel)
        self._progress = progress
        self.data_root: DataRoot = directory.assignment.data_root
        self.stats = SamplingStats()

    def _usable(self, peers: list[PeerName]) -> list[PeerName]:
        guard = self._service.guard
        return [peer for peer in peers if peer not in self.stats.abandoned and not guard.is_banned(peer)]

    def _custodians_of(self, column: ColumnIndex) -> list[PeerName]:
        return self._usable(self._directory.custodians_of(column))

    def _fallbacks_of(self, column: ColumnIndex) -> list[PeerName]:
        return self._usable(self._directory.fallbacks_of(column))

    async def run(self, sampler: Sampler, deadline: float | None = None) -> SamplingSummary:
        """Sample until every cell is settled, or until `deadline` (trio clock) leaves open cells missing."""
        with trio.move_on_at(deadline if deadline is not None else float("inf")) as scope:
            while not sampler.finished:
                batches = sampler.plan(
                    self._custodians_of, limit=MAX_SAMPLES_PER_REQUEST, fallbacks_of=self._fallbacks_of
                )
                if not batches:  # `plan` settled every cell that had no custodian left
                    sampler.give_up()  # nothing is open any more; a no-op kept as a loop guard
                    break
                await self._round(sampler, batches)
        if scope.cancelled_caught:
            self.stats.deadline_hit = True
            log.info("sampling deadline passed", data_root=self.data_root.hex(), open=sampler.give_up())
        summary = sampler.summary()
        if self._progress is not None:
            self._progress(summary, self.stats)
        return summary

    async def _round(self, sampler: Sampler, batches: dict[str, list[CellCoordinate]]) -> None:
        self.stats.rounds += 1
        answers: list[SamplesAnswer | GridSamplesAnswer] = []
        failed: list[_Failed] = []
        async with trio.open_nursery() as nursery:
            for peer, coordinates in batches.items():
                nursery.start_soon(self._ask, PeerName(peer), tuple(coordinates), answers, failed)
        for failure in failed:
            for coordinate in failure.coordinates:
                sampler.record(coordinate, failure.peer, failure.outcome)
        for result in await self._verify(answers):
            if result.invalid:  # the guard has penalized it (`verify_answers`)
                self.stats.abandoned.setdefault(result.peer, "InvalidSamples")
            outcomes = (
                dict.fromkeys(result.missing, Outcome.NOT_HELD)
                | dict.fromkeys(result.invalid, Outcome.INVALID)
                | dict.fromkeys((sample.coordinate for sample in result.samples), Outcome.VERIFIED)
            )
            for coordinate, outcome in outcomes.items():
                sampler.record(coordinate, result.peer, outcome)
        if self._progress is not None:
            self._progress(sampler.summary(), self.stats)

    async def _ask(
        self,
        peer: PeerName,
        coordinates: tuple[CellCoordinate, ...],
        answers: list[SamplesAnswer | GridSamplesAnswer],
        failed: list[_Failed],
    ) -> None:
        async with self._limiter:
            self.stats.requests += 1
            self.stats.peers_asked.add(peer)
            try:
                response = await self._request(peer, coordinates)
            except (PeerTimeout, PeerUnreachable, PeerDisconnected, PeerBanned) as error:
                self._abandon(peer, error)
                failed.append(_Failed(peer, coordinates, Outcome.TIMEOUT))
                return
            except (InvalidResponse, MalformedMessage, MessageTooLarge) as error:
                self._abandon(peer, error)  # the request client has already lowered its score
                failed.append(_Failed(peer, coordinates, Outcome.INVALID))
                return
            except NetworkError as error:  # RemoteError: busy or failing; try elsewhere, keep the peer
                log.info("sample request failed", peer=peer, error=str(error))
                failed.append(_Failed(peer, coordinates, Outcome.NOT_HELD))
                return
        if isinstance(response, GridSamplesResponse):
            answers.append(GridSamplesAnswer(peer, coordinates, response))
        else:
            answers.append(SamplesAnswer(peer, coordinates, response))

    async def _request(
        self, peer: PeerName, coordinates: tuple[CellCoordinate, ...]
    ) -> SamplesResponse | GridSamplesResponse:
        """The request, sent a second time on a fresh connection if the first could not open a
        stream or lost it (`NetworkService.on_fresh_connection`); a retry is counted and logged."""

        def retried(error: Exception) -> None:
            log.info("sample request retried", peer=peer, error=str(error))
            self.stats.retries += 1

        if self._header is not None:
            return await self._service.on_fresh_connection(
                peer, lambda: self._service.request_grid_samples(peer, self.data_root, coordinates), retried
            )
        return await self._service.on_fresh_connection(
            peer, lambda: self._service.request_samples(peer, self.data_root, coordinates), retried
        )

    def _abandon(self, peer: PeerName, error: Exception) -> None:
        if peer not in self.stats.abandoned:
            log.info("peer abandoned", peer=peer, reason=str(error))
            self.stats.abandoned[peer] = type(error).__name__

    async def _verify(
        self, answers: list[SamplesAnswer | GridSamplesAnswer]
    ) -> tuple[VerifiedSamples | VerifiedGridSamples, ...]:
        """The round's answers checked in one KZG batch (bisected only if it fails), in a thread."""
        started = time.perf_counter()
        guard = self._service.guard
        try:
            if self._header is not None:
                grid = [answer for answer in answers if isinstance(answer, GridSamplesAnswer)]
                checked: VerifiedGridAnswers | VerifiedAnswers = await verify_grid_answers(
                    self.data_root, self._header, grid, self._verifier, guard
                )
            else:
                plain = [answer for answer in answers if isinstance(answer, SamplesAnswer)]
                checked = await verify_answers(self.data_root, plain, self._verifier, guard)
        finally:
            self.stats.verify_seconds += time.perf_counter() - started
        self.stats.kzg_batches += checked.kzg_batches
        return checked.results
