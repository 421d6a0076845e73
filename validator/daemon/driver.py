"""The one owner of a daemon's validator core: every input goes through `process`, which holds one
lock, so the core sees its inputs one at a time; the core and the executor of its outputs run in a
worker thread, so KZG checks, BLS and storage never block the trio loop. Queries of the core (which
quorum takes a blob, who is in a quorum) take the same lock and return frozen values, so nothing
outside reads the core while it steps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable

import structlog
import trio

from da.types import DataRoot
from validator.core import BlobAssignment, CoreConfig, EpochContextKnown, Input, Output, ValidatorCore
from validator.core.executor import Transport, run_until_quiet
from validator.daemon.context import NodeContext
from validator.errors import UnknownEpoch
from validator.keys import SecretKey
from validator.types import Attestation, Epoch, Quorum, QuorumIndex

log = structlog.get_logger(__name__)

Process = Callable[[Input], Awaitable[list[Output]]]
"""Feed an input to the node's core (and execute what follows); what `CoreDriver.process` is."""


class CoreDriver:
    """Steps one `ValidatorCore` for the daemon; answers queries about it."""

    def __init__(
        self,
        context: NodeContext,
        secret_key: SecretKey,
        attested: list[Attestation],
        config: CoreConfig | None = None,
    ) -> None:
        """`attested`: the attestations this validator signed before a restart (from the store)."""
        self._context = context
        self._config = config or CoreConfig()
        self._core = ValidatorCore(
            context.me,
            secret_key,
            context.preset,
            context.kzg,
            nonce=secret_key.sign(b"tessera-sampling-nonce"),
            config=self._config,
            attested=attested,
        )
        self._lock = trio.Lock()
        self._transport: Transport | None = None
        self._epochs_known: set[Epoch] = set()

    def attach(self, transport: Transport) -> None:
        """Execute outputs through `transport` from now on (once: it needs the running node's tasks)."""
        if self._transport is not None:
            raise RuntimeError("the core driver already has a transport")
        self._transport = transport

    async def process(self, first: Input) -> list[Output]:
        """Feed one input (and the local inputs it causes) to the core, executing every output in the
        core's worker thread; return everything it produced."""
        transport = self._transport
        if transport is None:
            raise RuntimeError("the node is not running")
        async with self._lock:
            try:
                return await trio.to_thread.run_sync(lambda: run_until_quiet(self._core, first, transport))
            except (sqlite3.OperationalError, OSError) as error:
                # A write the outputs needed failed for lack of space: what followed it was not done
                # (no attestation leaves before it is recorded; custody not stored is never
                # acknowledged, the duty waits for a re-push). The node goes on.
                disk = self._context.disk
                if disk is None or not disk.disk_full(error):
                    raise
                self._context.metrics.errors.labels(kind="store_write").inc()
                log.error(
                    "core outputs not executed: disk full", input=type(first).__name__, error=str(error)
                )
                return []

    async def assign_blob(self, data_root: DataRoot, epoch: Epoch) -> BlobAssignment | None:
        """The quorum and threshold of a blob posted in `epoch` (None: the epoch has no quorum)."""
        await self.ensure_epoch_known(epoch)
        async with self._lock:
            return self._core.assign_blob(data_root, epoch)

    async def get_quorum(self, epoch: Epoch, index: QuorumIndex) -> Quorum | None:
        """Quorum `index` of `epoch` (learning that epoch's context first, so a blob of an earlier
        epoch is found after a restart); None for an epoch the registry does not know."""
        try:
            await self.ensure_epoch_known(epoch)
        except UnknownEpoch:
            return None
        async with self._lock:
            return self._core.get_quorum(epoch, index)

    def is_epoch_known(self, epoch: Epoch) -> bool:
        """Whether the core has had `epoch`'s context (thread-safe: one read of a set that only grows)."""
        return epoch in self._epochs_known

    async def ensure_epoch_known(self, epoch: Epoch) -> None:
        """Feed the core `epoch`'s context (read from the registry) if it has not had it yet."""
        if epoch in self._epochs_known:
            return
        context = await trio.to_thread.run_sync(self._context.registry.get_epoch_context, epoch)
        await self.process(EpochContextKnown(context))
        self._epochs_known.add(epoch)
        first_kept = max(self._epochs_known) - self._config.retention_epochs
        self._epochs_known = {e for e in self._epochs_known if e >= first_kept}  # as the core keeps them
        log.info("epoch known", epoch=epoch, validators=len(context.validators), ballots=len(context.ballots))
