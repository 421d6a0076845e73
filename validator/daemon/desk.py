"""The validator's blob desk: what the HTTP API asks of the node about blobs, answered on the trio
side (a `validator.daemon.api.BlobDesk`). Store reads run in worker threads, never on the asyncio
thread of the API."""

from __future__ import annotations

import trio

from da.header import header_to_bytes
from da.types import BlobHeader, DataRoot
from validator.certificate import certificate_to_bytes
from validator.daemon.api.port import BlobView, EncoderStatus, PaymentView, RegistryView
from validator.daemon.context import NodeContext
from validator.daemon.intake import BlobIntake
from validator.daemon.payments import PaymentGate
from validator.daemon.retrieval import BlobRetrieval
from validator.daemon.store import BlobRecord, NodeStore
from validator.errors import BlobExpired
from validator.payments.promise import SignedPromise, decode_payment_header
from validator.types import Epoch, QuorumIndex


def _posted_view(record: BlobRecord) -> BlobView:
    return BlobView(
        data_root=record.data_root,
        status=record.status.value,
        posted=True,
        epoch=record.epoch,
        quorum=record.quorum,
        signed_slots=record.signed_slots,
        threshold=record.threshold,
        byte_length=record.header.byte_length,
        error=record.error,
        failure=None if record.failure is None else record.failure.value,
    )


def read_blob_view(store: NodeStore, data_root: DataRoot) -> BlobView | None:
    """Where `data_root` stands in `store` (blocking): a posted blob's record, else what its custody
    header and certificate say; None when the store holds nothing of it."""
    record = store.get_blob(data_root)
    if record is not None:
        return _posted_view(record)
    certificate = store.get_certificate(data_root)
    known = store.get_header(data_root)
    if known is not None:
        header, epoch, quorum = known
        return BlobView(
            data_root=data_root,
            status="certified" if certificate is not None else "custody",
            posted=False,
            epoch=epoch,
            quorum=quorum,
            signed_slots=None if certificate is None else certificate.signed_slots,
            byte_length=header.byte_length,
        )
    if certificate is not None:
        return BlobView(
            data_root=data_root,
            status="certified",
            posted=False,
            epoch=certificate.epoch,
            quorum=certificate.quorum,
            signed_slots=certificate.signed_slots,
        )
    return None


class NodeDesk:
    """Posts go to the intake; reads to the store; a blob's bytes, if not held whole, to retrieval."""

    def __init__(
        self,
        context: NodeContext,
        intake: BlobIntake,
        retrieval: BlobRetrieval,
        payments: PaymentGate | None = None,
    ) -> None:
        self._context = context
        self._store = context.store
        self._intake = intake
        self._retrieval = retrieval
        self._payments = payments

    async def admit_blob(
        self, byte_length: int | None, pre_encoded: bool = False, payment: str | None = None
    ) -> None:
        """Refuse early what the intake would refuse: a size never taken, the promise (all but its
        root; a raw post's declared length is its size), then `BlobIntake.check_admission`
        (`check_upload_admission` for a pre-encoded upload), then the free disk."""
        self._intake.check_size(byte_length, pre_encoded)
        signed = self._promise(payment)
        if self._payments is not None:
            await trio.to_thread.run_sync(
                self._payments.check, signed, None if pre_encoded else byte_length, None
            )
        account = None if signed is None else signed.promise.account
        if pre_encoded:
            self._intake.check_upload_admission(byte_length, account=account)
        else:
            self._intake.check_admission(byte_length, account=account)
        await self._intake.check_disk()

    async def submit_blob(self, data: bytes, payment: str | None = None) -> BlobView:
        """Accept a posted blob (see `BlobIntake.submit_blob`)."""
        return _posted_view(await self._intake.submit_blob(data, self._promise(payment)))

    async def submit_upload(self, body: bytes, payment: str | None = None) -> BlobView:
        """Check and accept a pre-encoded upload (see `BlobIntake.submit_upload`)."""
        return _posted_view(await self._intake.submit_upload(body, self._promise(payment)))

    def _promise(self, header: str | None) -> SignedPromise | None:
        """The promise of a `Tessera-Payment` header (`MalformedPayment` if it does not parse); None
        without one, or when payments are off (the header is then ignored)."""
        if header is None or self._payments is None:
            return None
        return decode_payment_header(header)

    async def payment_terms(self, account: str | None) -> PaymentView:
        """Whether posts are paid; the price, domain and payee; what is held from `account`."""
        if self._payments is None:
            return PaymentView(enabled=False)
        terms = await trio.to_thread.run_sync(self._payments.terms, account)
        return PaymentView(
            True,
            terms.payee,
            terms.domain.chain_id,
            terms.domain.verifying_contract,
            terms.price_per_byte,
            terms.min_billed_bytes,
            terms.held,
            terms.settled,
        )

    async def blob_status(self, data_root: DataRoot) -> BlobView | None:
        """A posted blob's record, else what custody and certificates say of it."""
        return await trio.to_thread.run_sync(read_blob_view, self._store, data_root)

    async def certificate(self, data_root: DataRoot) -> bytes | None:
        """The SSZ certificate, once formed or received."""
        certificate = await trio.to_thread.run_sync(self._store.get_certificate, data_root)
        return None if certificate is None else certificate_to_bytes(certificate)

    async def header(self, data_root: DataRoot) -> bytes | None:
        """The SSZ header of a blob this node took or holds custody of."""
        known = await trio.to_thread.run_sync(self._store.get_header, data_root)
        return None if known is None else header_to_bytes(known[0])

    async def blob_data(self, data_root: DataRoot) -> bytes | None:
        """The posted bytes (or unpacked from this node's extension), or the blob rebuilt from
        custody (cached, once for concurrent readers; raises `NotEnoughCells`, or `RetrievalBusy`
        past the cap); raises `BlobExpired` once its data was pruned; None when this node knows no
        header of it."""
        held = await trio.to_thread.run_sync(self._read_held, data_root)
        if held is None or isinstance(held, bytes):
            return held
        header, epoch, quorum = held
        return await self._retrieval.get_blob(data_root, header, epoch, quorum)

    def _read_held(self, data_root: DataRoot) -> bytes | tuple[BlobHeader, Epoch, QuorumIndex] | None:
        """In one worker thread: the posted bytes, else the header and the quorum (the certificate's,
        when there is one) to rebuild the blob from, else None."""
        expiry = self._store.get_expiry(data_root)
        if expiry is not None:
            raise BlobExpired("0x" + data_root.hex(), expiry.epoch, expiry.expired_at)
        data = self._store.get_blob_data(data_root)
        if data is not None:
            return data
        known = self._store.get_header(data_root)
        if known is None:
            return None
        certificate = self._store.get_certificate(data_root)
        if certificate is None:
            return known
        return known[0], certificate.epoch, certificate.quorum

    def metrics(self) -> bytes:
        """The Prometheus text exposition."""
        return self._context.metrics.render()

    def registry_health(self) -> RegistryView | None:
        """Whether the registry answers (a snapshot of `RegistryHealth`, thread-safe)."""
        health = self._context.registry_health
        if health is None:
            return None
        status = health.status()
        return RegistryView(status.stale, status.stale_seconds, status.error)

    def encoder_status(self) -> EncoderStatus:
        """The encoder pool's workers and whether they are ready (no pool: the node's own thread,
        ready since the setup was loaded at start)."""
        pool = self._context.pool
        return EncoderStatus(0, True) if pool is None else EncoderStatus(pool.workers, pool.ready)
