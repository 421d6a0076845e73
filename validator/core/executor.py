"""The one executor of the core's outputs. The daemon, the fuzz simulation and the in-process test
cluster differ only in their `Transport`: how a message reaches another validator, how sample requests
are answered, where custody is stored. What each output means is decided here, once.

`execute` carries out one output and returns the inputs it causes on this same node (a custody push
or an attestation addressed to oneself, `CustodyStored` once custody is stored); `run_until_quiet`
feeds an input and everything it causes locally through one core. A `PushCustody` goes out in chunks
of whole rows (`compute_custody_chunks`), each its own `CustodyReceived`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from da.header import compute_data_root
from da.types import Sample
from validator.core.inputs import AttestationReceived, CustodyReceived, CustodyStored, Input
from validator.core.machine import ValidatorCore
from validator.core.outputs import (
    Output,
    PublishCertificate,
    PushCustody,
    RequestSamples,
    SendAttestation,
    StoreCustody,
)
from validator.core.state import MAX_CUSTODY_CELLS_PER_PUSH
from validator.errors import CoreDidNotSettle
from validator.types import ValidatorIndex


class Transport(Protocol):
    """What a shell provides to execute a validator's outputs."""

    def custody_samples(self, sender: ValidatorIndex, push: PushCustody) -> tuple[Sample, ...] | None:
        """The cells of `push.columns` (every row) of the blob `sender` disperses; None to send nothing."""

    def store_custody(self, node: ValidatorIndex, output: StoreCustody) -> None:
        """Durably store `node`'s verified custody cells (returns once they are stored)."""

    def send(self, sender: ValidatorIndex, to: ValidatorIndex, message: Input) -> None:
        """Deliver `message` from `sender` to validator `to` (now or later, or never on a lossy net)."""

    def request_samples(self, sender: ValidatorIndex, request: RequestSamples) -> None:
        """Ask `request.to` for cells; its answer comes back to `sender` as `SamplesReceived`."""

    def publish_certificate(self, sender: ValidatorIndex, output: PublishCertificate) -> None:
        """Announce a fresh certificate to the network."""

    def record(self, node: ValidatorIndex, output: Output) -> None:
        """Any output at all, after it was executed: events to count, log or check invariants on."""


def compute_custody_chunks(
    samples: Iterable[Sample], column_count: int, max_cells: int = MAX_CUSTODY_CELLS_PER_PUSH
) -> list[tuple[Sample, ...]]:
    """`samples` (a member's custody cells over `column_count` columns) cut into chunks of whole rows,
    `max(1, max_cells // column_count)` rows each, rows ascending (each row's cells in their order)."""
    by_row: dict[int, list[Sample]] = {}
    for sample in samples:
        by_row.setdefault(sample.row, []).append(sample)
    rows_per_push = max(1, max_cells // max(1, column_count))
    rows = sorted(by_row)
    return [
        tuple(sample for row in rows[start : start + rows_per_push] for sample in by_row[row])
        for start in range(0, len(rows), rows_per_push)
    ]


def execute(
    me: ValidatorIndex,
    output: Output,
    transport: Transport,
    *,
    max_cells_per_push: int = MAX_CUSTODY_CELLS_PER_PUSH,
) -> list[Input]:
    """Carry out one output of validator `me`; the inputs it causes on `me` itself. A custody push
    goes out as chunks of whole rows of at most `max_cells_per_push` cells (one row at least)."""
    follow_ups: list[Input] = []
    if isinstance(output, StoreCustody):
        transport.store_custody(me, output)
        follow_ups.append(CustodyStored(compute_data_root(output.header), output.rows))
    elif isinstance(output, PushCustody):
        samples = transport.custody_samples(me, output)
        for chunk in compute_custody_chunks(samples or (), len(output.columns), max_cells_per_push):
            push = CustodyReceived(me, output.header, output.epoch, output.quorum, chunk)
            follow_ups += _deliver(me, output.to, push, transport)
    elif isinstance(output, RequestSamples):
        transport.request_samples(me, output)
    elif isinstance(output, SendAttestation):
        follow_ups += _deliver(me, output.to, AttestationReceived(output.attestation), transport)
    elif isinstance(output, PublishCertificate):
        transport.publish_certificate(me, output)
    transport.record(me, output)
    return follow_ups


def _deliver(me: ValidatorIndex, to: ValidatorIndex, message: Input, transport: Transport) -> list[Input]:
    if to == me:
        return [message]
    transport.send(me, to, message)
    return []


def run_until_quiet(
    core: ValidatorCore,
    first: Input,
    transport: Transport,
    *,
    max_steps: int = 10_000,
    step: Callable[[Input], list[Output]] | None = None,
) -> list[Output]:
    """Feed `first` and the local inputs it causes to `core`, executing every output; all outputs.

    `step` replaces `core.step` (a shell may wrap it, for example to time it); bounded by `max_steps`.
    """
    run = step or core.step
    produced: list[Output] = []
    queue: list[Input] = [first]
    for _ in range(max_steps):
        if not queue:
            return produced
        for output in run(queue.pop(0)):
            produced.append(output)
            queue += execute(
                core.me, output, transport, max_cells_per_push=core.config.max_custody_cells_per_push
            )
    raise CoreDidNotSettle(core.me, max_steps)
