"""The sequencer flow of a node. A posted blob is size-checked and admitted while the encode-and-
disperse queue has room (otherwise `NodeBusy`: HTTP 429 with Retry-After); its header is computed from
the row commitments alone, and it is recorded durably as `received` with the quorum and threshold the
core assigns; the POST answers then. One background task encodes the queued blobs in order (in the
encoder pool, or a worker thread) and hands each to dispersal, which runs while the next one encodes.
After a restart, blobs that were not certified are queued or dispersed again from what was stored.

The intake owns its tasks (the encoder loop and one dispersal per blob) in its own nursery, and
reaches the core only through the `CoreDriver`."""

from __future__ import annotations

import collections
import math
import sqlite3
import statistics
import time
from typing import TYPE_CHECKING

import structlog
import trio

from da import EncodedBlob, compute_blob_header, compute_data_root, encode_blob
from da.packing import validate_blob_size
from da.types import BlobHeader, DataRoot
from validator.core import BlobDispersing, DutyFailed, DutyFailure
from validator.daemon.admission import AdmissionPolicy, compute_retry_after
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver
from validator.daemon.extensions import Extensions
from validator.daemon.store import BlobRecord, BlobStatus
from validator.errors import InsufficientStorage, NodeBusy, ValidatorError
from validator.types import Epoch, QuorumIndex

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

ENCODE_TIMES_KEPT = 8
"""Recent encoding times the Retry-After estimate averages."""
FAILURE_RECORD_ATTEMPTS = 40
"""Tries to record a blob failed by a full disk (about 18 minutes with waits doubling to 30 s)."""


class BlobIntake:
    """Blobs posted to one node, from admission to dispersal."""

    def __init__(
        self,
        context: NodeContext,
        driver: CoreDriver,
        extensions: Extensions,
        policy: AdmissionPolicy | None = None,
    ) -> None:
        self._context = context
        self._store = context.store
        self._metrics = context.metrics
        self._driver = driver
        self._extensions = extensions
        self._da_config = context.da_config
        self.policy = policy or AdmissionPolicy()
        self._nursery: trio.Nursery | None = None
        self._send, self._receive = trio.open_memory_channel[DataRoot](math.inf)
        self._queued: set[DataRoot] = set()
        """Accepted and not yet handed to dispersal (the admission bound counts these)."""
        self._admitting = 0
        """Posts admitted and still being recorded (counted too, so concurrent posts cannot overshoot)."""
        self._encode_times: collections.deque[float] = collections.deque(maxlen=ENCODE_TIMES_KEPT)

    @property
    def queued(self) -> int:
        """Blobs accepted (or being accepted) and not yet handed to dispersal."""
        return len(self._queued) + self._admitting

    async def submit_blob(self, data: bytes) -> BlobRecord:
        """Accept a sequencer's blob: durably `received` when this returns (posting the same bytes
        again returns the same record); raises `NodeBusy` when the queue is full."""
        validate_blob_size(len(data), self._da_config)
        existing = await trio.to_thread.run_sync(self._store.find_blob_by_content, data)
        if existing is not None:
            return existing
        if self._context.disk is not None:
            await trio.to_thread.run_sync(self._context.disk.check)  # InsufficientStorage: HTTP 507
        mean = statistics.fmean(self._encode_times) if self._encode_times else 0.0
        retry_after = compute_retry_after(self.queued, self.policy, mean)
        if retry_after is None and not self._extensions.has_room(self.queued):
            retry_after = max(1, math.ceil(mean))  # memory: too many encoded blobs still dispersing
        if retry_after is not None:
            self._metrics.blobs_refused.inc()
            log.info("blob refused: queue full", queued=self.queued, retry_after=retry_after)
            raise NodeBusy(self.queued, retry_after)
        self._admitting += 1
        try:
            return await self._accept(data)
        except (sqlite3.OperationalError, OSError) as error:
            if self._context.disk is None or not self._context.disk.disk_full(error):
                raise
            log.error("blob not recorded: disk full", error=str(error))
            raise InsufficientStorage(None, self._context.disk.min_free_bytes, str(error)) from error
        finally:
            self._admitting -= 1

    async def _accept(self, data: bytes) -> BlobRecord:
        header = await trio.to_thread.run_sync(self._header, data)
        data_root = compute_data_root(header)
        epoch = await trio.to_thread.run_sync(self._context.registry.current_epoch)
        assignment = await self._driver.assign_blob(data_root, epoch)
        if assignment is None:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        record = await trio.to_thread.run_sync(
            self._store.add_blob, data, header, data_root, epoch, assignment.quorum, assignment.threshold
        )
        self._metrics.blobs_accepted.inc()
        self._enqueue(data_root)
        log.info(
            "blob accepted",
            data_root=data_root.hex(),
            bytes=len(data),
            epoch=epoch,
            quorum=assignment.quorum,
            queued=self.queued,
        )
        return record

    def _enqueue(self, data_root: DataRoot) -> None:
        if data_root in self._queued:
            return
        self._queued.add(data_root)
        self._metrics.blob_queue.set(self.queued)
        self._send.send_nowait(data_root)

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled: resume the blobs a previous run left unfinished, then encode queued
        blobs one after another, each handed to dispersal (a task of this intake) at once."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for record in await trio.to_thread.run_sync(self._store.unfinished_blobs):
                nursery.start_soon(self._resume_blob, record)
            task_status.started()
            async for data_root in self._receive:
                try:
                    await self._encode_and_disperse(data_root)
                except (sqlite3.Error, OSError) as error:  # a full disk fails this blob, not the node
                    await self._fail_blob(data_root, error)
                finally:
                    self._queued.discard(data_root)
                    self._metrics.blob_queue.set(self.queued)

    async def _fail_blob(self, data_root: DataRoot, error: sqlite3.Error | OSError) -> None:
        """A write for this blob failed: it is failed, the node goes on. While the disk is still
        full the failure itself may not be writable: it is retried in the background (doubling
        waits, `FAILURE_RECORD_ATTEMPTS` at most; a restart resumes a blob still `received`)."""
        if self._context.disk is not None:
            self._context.disk.disk_full(error)
        self._metrics.errors.labels(kind="store_write").inc()
        self._extensions.release(data_root)
        log.error("blob failed: store write failed", data_root=data_root.hex(), error=str(error))
        if self._nursery is not None:
            self._nursery.start_soon(self._record_failure, data_root, f"store write failed: {error}")

    async def _record_failure(self, data_root: DataRoot, message: str) -> None:
        wait = 1.0
        for _ in range(FAILURE_RECORD_ATTEMPTS):
            try:
                await trio.to_thread.run_sync(
                    lambda: self._store.update_blob(data_root, BlobStatus.FAILED, error=message)
                )
                return
            except (sqlite3.Error, OSError) as again:
                log.warning("blob failure not recorded yet", data_root=data_root.hex(), error=str(again))
            await trio.sleep(wait)
            wait = min(2 * wait, 30.0)
        log.error("blob failure never recorded", data_root=data_root.hex())

    def _spawn_dispersal(self, header: BlobHeader, epoch: Epoch, quorum: QuorumIndex) -> None:
        if self._nursery is None:
            raise RuntimeError("the intake is not running")
        self._nursery.start_soon(self._disperse, header, epoch, quorum)

    async def _encode_and_disperse(self, data_root: DataRoot) -> None:
        store = self._store
        record = await trio.to_thread.run_sync(store.get_blob, data_root)
        data = await trio.to_thread.run_sync(store.get_blob_data, data_root)
        if record is None or data is None:
            log.error("queued blob is not in the store", data_root=data_root.hex())
            return
        started = time.perf_counter()
        encoded = await trio.to_thread.run_sync(self._encode, data, record.header)
        seconds = time.perf_counter() - started
        self._encode_times.append(seconds)
        self._metrics.encode_seconds.observe(seconds)
        if encoded.data_root != data_root:  # the packing disagrees with the accepted header
            log.error(
                "encoding changed the data root", data_root=data_root.hex(), got=encoded.data_root.hex()
            )
            await trio.to_thread.run_sync(
                lambda: store.update_blob(
                    data_root, BlobStatus.FAILED, error="encoding changed the data root"
                )
            )
            return
        await trio.to_thread.run_sync(store.put_extension, data_root, encoded.rows)
        self._extensions.hold(encoded)
        log.info("blob encoded", data_root=data_root.hex(), seconds=round(seconds, 3), queued=self.queued - 1)
        self._spawn_dispersal(encoded.header, record.epoch, record.quorum)

    def _header(self, data: bytes) -> BlobHeader:
        """The blob's row commitments, on the encoder workers when there are any (ckzg holds the
        GIL: in this process they would stall the node for about 60 ms a row)."""
        if self._context.pool is not None:
            return self._context.pool.compute_blob_header(data)
        return compute_blob_header(data, self._context.kzg, self._da_config)

    def _encode(self, data: bytes, header: BlobHeader | None = None) -> EncodedBlob:
        """Encode in the pool or in this thread, reusing the accepted header's row commitments."""
        commitments = header.row_commitments if header is not None else None
        if self._context.pool is not None:
            return self._context.pool.encode_blob(data, commitments=commitments)
        return encode_blob(data, self._context.kzg, self._da_config, commitments=commitments)

    async def _disperse(self, header: BlobHeader, epoch: Epoch, quorum: QuorumIndex) -> None:
        data_root = compute_data_root(header)
        outputs = await self._driver.process(BlobDispersing(header, epoch, quorum))
        failures = [o for o in outputs if isinstance(o, DutyFailed)]
        if any(f.reason is DutyFailure.UNKNOWN_QUORUM for f in failures):
            self._extensions.release(data_root)  # the core keeps no dispersal of it
        if failures:
            await trio.to_thread.run_sync(
                lambda: self._store.update_blob(data_root, BlobStatus.FAILED, error="dispersal failed")
            )

    async def _resume_blob(self, record: BlobRecord) -> None:
        """After a restart: a blob still `received` is queued for encoding; one encoded before is
        dispersed again from its stored extension."""
        encoded = await trio.to_thread.run_sync(self._store.get_extension, record.data_root)
        if encoded is None:
            log.info("resuming blob: encoding", data_root=record.data_root.hex(), status=record.status.value)
            self._enqueue(record.data_root)
            return
        self._extensions.hold(encoded)
        log.info("resuming blob: dispersing", data_root=record.data_root.hex(), status=record.status.value)
        await self._disperse(encoded.header, record.epoch, record.quorum)
