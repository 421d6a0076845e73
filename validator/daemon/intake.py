"""The sequencer flow of a node. A posted blob is size-checked and admitted while the encode-and-
disperse queue has room and its account (the paying one, or the client's address) holds less than
its fair share of it (otherwise `NodeBusy`: HTTP 429 with Retry-After; `validator.daemon.admission`);
its header is computed from the row commitments alone, and it is recorded durably as `received` with
the quorum and threshold the core assigns; the POST answers then. One background task encodes the
queued blobs, round-robin across accounts (in the encoder pool, or a worker thread), and hands each
to dispersal, which runs while the next one encodes. With payments on, a post's promise is checked
before its body is read and again once its root is known, and recorded with the blob in one
transaction (`validator.daemon.payments`).
After a restart, blobs that were not certified are queued or dispersed again from what was stored,
each under its own epoch's quorum (learnt from the registry first) while that epoch is within the
availability window.

The intake owns its tasks (the encoder loop and one dispersal per blob) in its own nursery, and
reaches the core only through the `CoreDriver`."""

from __future__ import annotations

import collections
import contextlib
import math
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import structlog
import trio

from da import EncodedBlob, compute_blob_header, compute_data_root, encode_blob
from da.errors import BlobTooLarge, EmptyBlob, InvalidUpload
from da.packing import validate_blob_size
from da.types import BlobHeader, DataRoot
from da.upload import bytes_to_upload, compute_max_upload_bytes, validate_upload
from validator.core import BlobDispersing, DutyFailed, DutyFailure
from validator.daemon.admission import (
    ANONYMOUS_ACCOUNT,
    RESUMED_ACCOUNT,
    AccountLedger,
    AccountWeights,
    AdmissionPolicy,
    EqualWeights,
    FairQueue,
    Refusal,
    compute_admission,
    compute_upload_memory_bytes,
    compute_verifying_bytes_refusal,
)
from validator.daemon.context import NodeContext
from validator.daemon.driver import CoreDriver
from validator.daemon.extensions import Extensions
from validator.daemon.payments import PaymentGate
from validator.daemon.restart import is_within_availability_window
from validator.daemon.retention import DEFAULT_RETENTION_EPOCHS
from validator.daemon.store import BlobFailure, BlobRecord, BlobStatus, HeldPayment, HeldPromiseChanged
from validator.daemon.turns import AccountTurns
from validator.errors import InsufficientStorage, NodeBusy, RegistryError, ValidatorError
from validator.payments.promise import SignedPromise
from validator.types import Epoch, QuorumIndex

if TYPE_CHECKING:
    from trio_typing import TaskStatus  # libp2p's trio-typing stubs shadow trio's own (see service.py)

log = structlog.get_logger(__name__)

ENCODE_TIMES_KEPT = 8
"""Recent encoding times the Retry-After estimate averages."""
REGISTRY_RETRY_SECONDS = 1.0
MAX_REGISTRY_RETRY_SECONDS = 30.0
"""A dispersal waiting for the registry asks again after 1 s, doubling up to 30 s."""
RECORD_PAYMENT_ATTEMPTS = 3
"""Checks of a promise against the held one when other posts of its account were recorded first."""
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
        window_epochs: int = DEFAULT_RETENTION_EPOCHS,
        payments: PaymentGate | None = None,
        weights: AccountWeights | None = None,
    ) -> None:
        """`window_epochs`: the availability window (a blob is dispersed while its epoch is in it);
        `payments`: the gate every post's promise passes (None: posts are not paid); `weights`: each
        account's weight in the fair shares of the queues (None: all equal)."""
        self._window_epochs = window_epochs
        self._payments = payments
        self._context = context
        self._store = context.store
        self._metrics = context.metrics
        self._driver = driver
        self._extensions = extensions
        self._da_config = context.da_config
        self.policy = policy or AdmissionPolicy()
        self._nursery: trio.Nursery | None = None
        self._send, self._receive = trio.open_memory_channel[None](math.inf)
        """One token per blob pushed to `_order`: the encoder loop wakes once for each."""
        self._order: FairQueue[DataRoot] = FairQueue(weights)
        """Queued blobs in the order they are encoded: round-robin across accounts."""
        self._queued: dict[DataRoot, str] = {}
        """Accepted and not yet handed to dispersal, with the account holding its place."""
        self._weights = weights or EqualWeights()
        self._raw = AccountLedger(self.policy.max_queued, weights)
        """Places of the raw queue per account: blobs queued and posts admitted still being recorded
        (counted too, so concurrent posts cannot overshoot)."""
        self._header_turns = AccountTurns()
        """One header computation per account at a time (each waiter holds a place of `_raw`)."""
        self._encode_times: collections.deque[float] = collections.deque(maxlen=ENCODE_TIMES_KEPT)
        self._verifying = AccountLedger(self.policy.max_verifying, weights)
        """Pre-encoded uploads being checked, per account (bounded by `policy.max_verifying`)."""
        self._verifying_bytes = 0
        """What the uploads being checked hold (`compute_upload_memory_bytes` of each declared body),
        bounded by `policy.max_verifying_bytes`."""
        self._verify_times: collections.deque[float] = collections.deque(maxlen=ENCODE_TIMES_KEPT)
        self._recording: set[DataRoot] = set()
        """Checked uploads being recorded (at most `max_verifying`): the same blob twice at once is
        recorded and dispersed once."""

    @property
    def queued(self) -> int:
        """Blobs accepted (or being accepted) and not yet handed to dispersal."""
        return self._raw.total

    async def submit_blob(
        self, data: bytes, payment: SignedPromise | None = None, account: str | None = None
    ) -> BlobRecord:
        """Accept a sequencer's blob: durably `received` when this returns, with its promise
        (`payment`) when payments are on (posting the same bytes again returns the same record, and
        takes no payment); raises `NodeBusy` when the queue is full or `account` (the paying
        account, or the client's address; None: `ANONYMOUS_ACCOUNT`) holds its fair share, a
        `PaymentError` (nothing stored) for a promise that does not pay for it."""
        validate_blob_size(len(data), self._da_config)
        if self._payments is not None:
            self._payments.require(payment)
        existing = await self._posted_before(data)
        if existing is not None:
            return existing
        await self.check_disk()
        account = account or ANONYMOUS_ACCOUNT
        self.check_admission(None, account)
        self._raw.take(account)
        queued = False
        try:
            with self._disk_full_refused():
                record = await self._accept(data, account, payment)
            queued = self._enqueue(record.data_root, account)
            return record
        finally:
            if not queued:  # refused on the way, or the same blob is queued already under its poster
                self._raw.release(account)

    async def _posted_before(self, data: bytes) -> BlobRecord | None:
        """The record of the same bytes posted before; None when there is none, or when it failed
        for a reason a new post clears (`STORE_WRITE_FAILED`, `EPOCH_EXPIRED`: it is forgotten, and
        this post is a new blob)."""
        existing = await trio.to_thread.run_sync(self._store.find_blob_by_content, data)
        if existing is None or existing.status is not BlobStatus.FAILED:
            return existing
        if not await trio.to_thread.run_sync(self._store.forget_failed_blob, existing.data_root):
            return existing
        log.info(
            "failed blob posted again",
            data_root=existing.data_root.hex(),
            failure=None if existing.failure is None else existing.failure.value,
        )
        return None

    @contextlib.contextmanager
    def _disk_full_refused(self) -> Iterator[None]:
        """A write that failed for lack of space becomes `InsufficientStorage` (HTTP 507)."""
        try:
            yield
        except (sqlite3.OperationalError, OSError) as error:
            if self._context.disk is None or not self._context.disk.disk_full(error):
                raise
            log.error("blob not recorded: disk full", error=str(error))
            raise InsufficientStorage(None, self._context.disk.min_free_bytes, str(error)) from error

    async def check_disk(self) -> None:
        """Raise `InsufficientStorage` (HTTP 507) while free disk is below the node's threshold."""
        if self._context.disk is not None:
            await trio.to_thread.run_sync(self._context.disk.check)

    def check_size(self, byte_length: int | None, pre_encoded: bool) -> None:
        """Raise `BlobTooLarge` / `EmptyBlob` for a blob (`pre_encoded`: an upload) of `byte_length`
        bytes that is never taken, whoever pays for it (None: not declared, nothing to check)."""
        if byte_length is None:
            return
        if not pre_encoded:
            validate_blob_size(byte_length, self._da_config)
            return
        largest = compute_max_upload_bytes(self._da_config.max_blob_bytes)
        if byte_length > largest:
            raise BlobTooLarge(byte_length, largest)

    def check_admission(self, byte_length: int | None, account: str | None = None) -> None:
        """Raise `BlobTooLarge` / `EmptyBlob` for a size never taken (`byte_length`, when known) and
        `NodeBusy` when the queue is full or `account` holds its fair share of it
        (`admission.compute_admission`); the API asks this before it reads a posted body."""
        if byte_length is not None:
            validate_blob_size(byte_length, self._da_config)
        account = account or ANONYMOUS_ACCOUNT
        mean = statistics.fmean(self._encode_times) if self._encode_times else 0.0
        refusal = self._raw.refusal(account, mean)
        self._refuse_if_busy(refusal, mean, "blob refused", account, queued=self.queued)

    async def _accept(self, data: bytes, account: str, payment: SignedPromise | None) -> BlobRecord:
        async with self._header_turns.turn(account):  # the pool serves in arrival order
            header = await trio.to_thread.run_sync(self._header, data)
        data_root = compute_data_root(header)
        checked = await self._check_payment(payment, len(data), data_root)
        epoch = await trio.to_thread.run_sync(self._context.registry.current_epoch)
        assignment = await self._driver.assign_blob(data_root, epoch)
        if assignment is None:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        record = await self._record_paid(
            lambda paid: self._store.add_blob(
                data, header, data_root, epoch, assignment.quorum, assignment.threshold, payment=paid
            ),
            checked,
            len(data),
            data_root,
        )
        self._metrics.blobs_accepted.inc()
        log.info(
            "blob accepted",
            data_root=data_root.hex(),
            bytes=len(data),
            epoch=epoch,
            quorum=assignment.quorum,
            queued=self.queued,
        )
        return record

    async def _check_payment(
        self, payment: SignedPromise | None, byte_length: int, data_root: DataRoot
    ) -> HeldPayment | None:
        """The promise checked in full now that the blob's root is known (None: payments are off)."""
        if self._payments is None:
            return None
        return await trio.to_thread.run_sync(self._payments.check, payment, byte_length, data_root)

    async def _record_paid(
        self,
        write: Callable[[HeldPayment | None], BlobRecord],
        checked: HeldPayment | None,
        byte_length: int,
        data_root: DataRoot,
    ) -> BlobRecord:
        """Run `write` (the store's `add_blob`, recording the blob with `checked`) in a worker thread;
        when another promise of the account was recorded since the check, check this one again
        against it (a few times) before refusing it."""
        for _ in range(RECORD_PAYMENT_ATTEMPTS - 1):
            try:
                return await trio.to_thread.run_sync(write, checked)
            except HeldPromiseChanged:
                if checked is None or self._payments is None:
                    raise
                checked = await self._check_payment(checked.signed, byte_length, data_root)
        return await trio.to_thread.run_sync(write, checked)

    def _enqueue(self, data_root: DataRoot, account: str) -> bool:
        """Queue `data_root` for encoding in `account`'s turn; False (nothing done) when it is
        queued already. The place `account` took in `_raw` is the blob's until it is encoded."""
        if data_root in self._queued:
            return False
        self._queued[data_root] = account
        self._order.push(account, data_root)
        self._gauge_queues()
        self._send.send_nowait(None)
        return True

    async def submit_upload(
        self, body: bytes, payment: SignedPromise | None = None, account: str | None = None
    ) -> BlobRecord:
        """Accept a sequencer's pre-encoded upload (`da.upload`): checked first (in the encoder pool,
        or a worker thread), then recorded durably as `encoded` with its extension and handed to
        dispersal at once: it never waits in the encode queue. An inconsistent upload raises its
        `InvalidUpload` (or `EmptyBlob` / `BlobTooLarge`) and nothing is stored; `NodeBusy` when
        `max_verifying` uploads are being checked already, or `account` (None: `ANONYMOUS_ACCOUNT`)
        has its fair share of them being checked. With payments on, the promise is checked against
        the upload's claimed root and size before its cells are verified."""
        account = account or ANONYMOUS_ACCOUNT
        self.check_upload_admission(len(body), account)
        self._verifying.take(account)
        cost = compute_upload_memory_bytes(len(body))
        self._verifying_bytes += cost
        self._gauge_queues()
        try:
            started = time.perf_counter()
            try:
                if self._payments is not None:
                    claimed = await trio.to_thread.run_sync(bytes_to_upload, body, self._da_config)
                    await self._check_payment(payment, len(claimed.data), claimed.data_root)
                encoded = await trio.to_thread.run_sync(self._verify_upload, body)
            except (InvalidUpload, EmptyBlob, BlobTooLarge) as error:
                self._metrics.uploads_refused.labels(reason=type(error).__name__).inc()
                log.info("upload refused", reason=type(error).__name__, error=str(error), bytes=len(body))
                raise
            seconds = time.perf_counter() - started
            self._verify_times.append(seconds)
            self._metrics.verify_seconds.observe(seconds)
            data = body[len(body) - encoded.header.byte_length :]
            return await self._accept_encoded(data, encoded, seconds, payment, account)
        finally:
            self._verifying.release(account)
            self._verifying_bytes -= cost
            self._gauge_queues()

    def check_upload_admission(self, byte_length: int | None, account: str | None = None) -> None:
        """Raise `BlobTooLarge` for an upload larger than the largest blob's (`byte_length`, when
        known) and `NodeBusy` when `max_verifying` uploads are being checked or `account` has its
        fair share of them; the API asks this before it reads a posted upload."""
        largest = compute_max_upload_bytes(self._da_config.max_blob_bytes)
        if byte_length is not None and byte_length > largest:
            raise BlobTooLarge(byte_length, largest)
        account = account or ANONYMOUS_ACCOUNT
        mean = statistics.fmean(self._verify_times) if self._verify_times else 0.0
        refusal = self._verifying.refusal(account, mean)
        if refusal is None and byte_length is not None:
            refusal = compute_verifying_bytes_refusal(
                self._verifying_bytes, self._verifying.total, byte_length, self.policy, mean
            )
        self._refuse_if_busy(refusal, mean, "upload refused", account, verifying=self._verifying.total)

    def _gauge_queues(self) -> None:
        """The queue and how many accounts hold places in each bound (no per-account labels)."""
        self._metrics.blob_queue.set(self.queued)
        self._metrics.admission_accounts.labels(queue="raw").set(self._raw.accounts)
        self._metrics.admission_accounts.labels(queue="upload").set(self._verifying.accounts)

    def _memory_refusal(self, account: str, mean: float) -> Refusal | None:
        """The refusal of `account` by the bound of encoded blobs held while dispersing, counting
        every post taken or being checked, each for its account: `memory_share` past the account's
        fair share of it (its own backlog), `memory_full` when it is full (retry after `mean`)."""
        held = collections.Counter(self._extensions.dispersing_per_account())
        held.update(self._raw.held())
        held.update(self._verifying.held())
        refusal = compute_admission(account, held, self._extensions.max_dispersing, mean, self._weights)
        if refusal is None:
            return None
        if refusal.reason == "account_share":
            return Refusal("memory_share", refusal.retry_after, refusal.held, refusal.share)
        return Refusal("memory_full", max(1, math.ceil(mean)), refusal.held, refusal.share)

    def _refuse_if_busy(
        self, refusal: Refusal | None, mean: float, event: str, account: str, **waiting: int
    ) -> None:
        """Raise `NodeBusy` (counted by reason, logged as `event` with the one count in `waiting`)
        when the post's own queue refused it, or when the encoded blobs held for dispersal, counting
        every post taken or being checked, have no room (`memory_full`: retry after `mean`, the last
        checks' or encodings' mean)."""
        if refusal is None:
            refusal = self._memory_refusal(account, mean)
        if refusal is not None:
            self._metrics.blobs_refused.inc()
            self._metrics.admission_refused.labels(reason=refusal.reason).inc()
            log.info(
                event,
                reason=refusal.reason,
                retry_after=refusal.retry_after,
                account=account,
                account_held=refusal.held,
                account_share=refusal.share,
                **waiting,
            )
            share = refusal.share if refusal.reason in ("account_share", "memory_share") else None
            raise NodeBusy(sum(waiting.values()), refusal.retry_after, share)

    def _verify_upload(self, body: bytes) -> EncodedBlob:
        """Decode and check an upload on an encoder worker when there are any (ckzg holds the GIL for
        the whole batch), else in this worker thread."""
        if self._context.pool is not None:
            return self._context.pool.verify_upload(body)
        return validate_upload(bytes_to_upload(body, self._da_config), self._context.kzg, self._da_config)

    async def _accept_encoded(
        self, data: bytes, encoded: EncodedBlob, seconds: float, payment: SignedPromise | None, account: str
    ) -> BlobRecord:
        """Record a checked upload with its extension (`encoded`) and disperse it; the same bytes
        posted before (raw or encoded) return that record, and while they are being recorded by
        another post the answer is `NodeBusy` (retry in 1 s: then that record)."""
        data_root = encoded.data_root
        if data_root in self._recording:
            raise NodeBusy(self._verifying.total, 1)
        self._recording.add(data_root)
        try:
            return await self._record_upload(data, encoded, seconds, payment, account)
        finally:
            self._recording.discard(data_root)

    async def _record_upload(
        self, data: bytes, encoded: EncodedBlob, seconds: float, payment: SignedPromise | None, account: str
    ) -> BlobRecord:
        existing = await self._posted_before(data)
        if existing is not None:
            return existing
        data_root = encoded.data_root
        checked = await self._check_payment(payment, len(data), data_root)
        epoch = await trio.to_thread.run_sync(self._context.registry.current_epoch)
        assignment = await self._driver.assign_blob(data_root, epoch)
        if assignment is None:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        with self._disk_full_refused():
            record = await self._record_paid(
                lambda paid: self._store.add_blob(
                    data,
                    encoded.header,
                    data_root,
                    epoch,
                    assignment.quorum,
                    assignment.threshold,
                    encoded.rows,
                    payment=paid,
                ),
                checked,
                len(data),
                data_root,
            )
        self._metrics.blobs_accepted.inc()
        self._extensions.hold(data_root, account)  # its extension is stored: dispersal reads it there
        log.info(
            "upload accepted",
            data_root=data_root.hex(),
            bytes=len(data),
            verify_seconds=round(seconds, 3),
            epoch=epoch,
            quorum=assignment.quorum,
        )
        self._spawn_dispersal(encoded.header, epoch, assignment.quorum)
        return record

    async def run(self, *, task_status: TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Until cancelled: resume the blobs a previous run left unfinished, then encode queued
        blobs one after another, each handed to dispersal (a task of this intake) at once."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for record in await trio.to_thread.run_sync(self._store.unfinished_blobs):
                nursery.start_soon(self._resume_blob, record)
            task_status.started()
            async for _ in self._receive:
                account, data_root = self._order.pop()
                try:
                    await self._encode_and_disperse(data_root, account)
                except (sqlite3.OperationalError, OSError) as error:  # a full disk fails the blob only
                    await self._fail_blob(data_root, error)
                finally:
                    del self._queued[data_root]
                    self._raw.release(account)
                    self._gauge_queues()

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
                    lambda: self._store.update_blob(
                        data_root, BlobStatus.FAILED, error=message, failure=BlobFailure.STORE_WRITE_FAILED
                    )
                )
                return
            except (sqlite3.OperationalError, OSError) as again:
                log.warning("blob failure not recorded yet", data_root=data_root.hex(), error=str(again))
            await trio.sleep(wait)
            wait = min(2 * wait, 30.0)
        log.error("blob failure never recorded", data_root=data_root.hex())

    def _spawn_dispersal(self, header: BlobHeader, epoch: Epoch, quorum: QuorumIndex) -> None:
        if self._nursery is None:
            raise RuntimeError("the intake is not running")
        self._nursery.start_soon(self._disperse, header, epoch, quorum)

    async def _encode_and_disperse(self, data_root: DataRoot, account: str) -> None:
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
            detail = f"encoding changed the data root to 0x{encoded.data_root.hex()}"
            await self._fail(data_root, BlobFailure.ENCODING_MISMATCH, detail)
            return
        await trio.to_thread.run_sync(store.put_extension, data_root, encoded.rows)
        del encoded  # stored: dispersal and serving read it from the store
        self._extensions.hold(data_root, account)
        log.info("blob encoded", data_root=data_root.hex(), seconds=round(seconds, 3), queued=self.queued - 1)
        self._spawn_dispersal(record.header, record.epoch, record.quorum)

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
        """Disperse under the blob's own epoch's quorum, learning that epoch first (a node restarted
        in a later epoch has not had it yet). The blob fails only for a reason that cannot clear:
        its epoch left the availability window, or has no such quorum. The core's other failures
        (this node's own duty on the blob) rest and resume; they do not fail the blob."""
        data_root = compute_data_root(header)
        if not await self._learn_epoch_of(data_root, epoch):
            self._extensions.release(data_root)
            return
        outputs = await self._driver.process(BlobDispersing(header, epoch, quorum))
        unknown = next(
            (
                o
                for o in outputs
                if isinstance(o, DutyFailed)
                and o.data_root == data_root
                and o.reason is DutyFailure.UNKNOWN_QUORUM
            ),
            None,
        )
        if unknown is not None:
            self._extensions.release(data_root)  # the core keeps no dispersal of it
            await self._fail(data_root, BlobFailure.NO_SUCH_QUORUM, unknown.detail)

    async def _learn_epoch_of(self, data_root: DataRoot, epoch: Epoch) -> bool:
        """Have the core learn `epoch` for a dispersal; False (and the blob failed) once `epoch` is
        outside the availability window. While the registry does not answer, try again with a
        doubling pause: that clears."""
        pause = REGISTRY_RETRY_SECONDS
        while True:
            try:
                current = await trio.to_thread.run_sync(self._context.registry.current_epoch)
                if not is_within_availability_window(epoch, current, self._window_epochs):
                    detail = f"epoch {epoch} left the availability window uncertified (now epoch {current})"
                    await self._fail(data_root, BlobFailure.EPOCH_EXPIRED, detail)
                    return False
                await self._driver.ensure_epoch_known(epoch)
                return True
            except RegistryError as error:
                log.warning(
                    "dispersal waits for the registry",
                    data_root=data_root.hex(),
                    epoch=epoch,
                    error=str(error),
                    retry_in=pause,
                )
                await trio.sleep(pause)
                pause = min(2 * pause, MAX_REGISTRY_RETRY_SECONDS)

    async def _fail(self, data_root: DataRoot, failure: BlobFailure, detail: str) -> None:
        """Mark a posted blob `failed` for good, with its typed reason."""
        log.error("blob failed", data_root=data_root.hex(), failure=failure.value, detail=detail)
        try:
            await trio.to_thread.run_sync(
                lambda: self._store.update_blob(data_root, BlobStatus.FAILED, error=detail, failure=failure)
            )
        except (sqlite3.OperationalError, OSError) as error:  # a full disk: the failure is not recorded
            self._metrics.errors.labels(kind="store_write").inc()
            log.error("blob failure not recorded", data_root=data_root.hex(), error=str(error))

    async def _resume_blob(self, record: BlobRecord) -> None:
        """After a restart: a blob still `received` is queued for encoding; one encoded before is
        dispersed again from its stored extension."""
        if not await trio.to_thread.run_sync(self._store.has_extension, record.data_root):
            log.info("resuming blob: encoding", data_root=record.data_root.hex(), status=record.status.value)
            self._raw.take(RESUMED_ACCOUNT)  # admitted before the restart: never refused now
            if not self._enqueue(record.data_root, RESUMED_ACCOUNT):
                self._raw.release(RESUMED_ACCOUNT)
            return
        self._extensions.hold(record.data_root, RESUMED_ACCOUNT)
        log.info("resuming blob: dispersing", data_root=record.data_root.hex(), status=record.status.value)
        await self._disperse(record.header, record.epoch, record.quorum)
