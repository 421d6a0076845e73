"""The sequencer flow of a node: a posted blob is size-checked, encoded (in the encoder pool or a worker
thread), recorded durably with the quorum and threshold the core assigns, and dispersed; after a
restart, blobs that were not certified are resumed from their stored extension."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
import trio

from da import DAConfig, EncodedBlob, compute_data_root, encode_blob
from da.packing import validate_blob_size
from da.types import BlobHeader
from validator.core import BlobDispersing, DutyFailed
from validator.daemon.store import BlobRecord, BlobStatus
from validator.errors import ValidatorError
from validator.types import Epoch, QuorumIndex

if TYPE_CHECKING:
    from validator.daemon.node import Node

log = structlog.get_logger(__name__)


class BlobIntake:
    """Blobs posted to one node."""

    def __init__(self, node: Node, da_config: DAConfig) -> None:
        self._node = node
        self._da_config = da_config

    @property
    def da_config(self) -> DAConfig:
        """Size limits and packing of the blobs this node takes."""
        return self._da_config

    async def submit_blob(self, data: bytes) -> BlobRecord:
        """Accept a sequencer's blob: encode, record, disperse; posting the same bytes again is a no-op."""
        validate_blob_size(len(data), self._da_config)
        existing = await trio.to_thread.run_sync(self._node.store.find_blob_by_content, data)
        if existing is not None:
            return existing
        started = time.perf_counter()
        encoded = await trio.to_thread.run_sync(self._encode, data)
        self._node.metrics.encode_seconds.observe(time.perf_counter() - started)
        epoch = await trio.to_thread.run_sync(self._node.registry.current_epoch)
        await self._node.ensure_epoch_known(epoch)
        assignment = self._node.core.assign_blob(encoded.data_root, epoch)
        if assignment is None:
            raise ValidatorError(f"epoch {epoch} has no quorum: no validator has stake and a ballot")
        quorum = assignment.quorum
        record = await trio.to_thread.run_sync(
            self._node.store.add_blob,
            data,
            encoded.header,
            encoded.data_root,
            epoch,
            quorum,
            assignment.threshold,
            encoded.rows,
        )
        self._node.metrics.blobs_accepted.inc()
        self._node.encoded[encoded.data_root] = encoded
        self._node.spawn(self._disperse, encoded.header, epoch, quorum)
        log.info(
            "blob accepted", data_root=encoded.data_root.hex(), bytes=len(data), epoch=epoch, quorum=quorum
        )
        return record

    def _encode(self, data: bytes) -> EncodedBlob:
        if self._node.pool is not None:
            return self._node.pool.encode_blob(data)
        return encode_blob(data, self._node.kzg, self._da_config)

    async def _disperse(self, header: BlobHeader, epoch: Epoch, quorum: QuorumIndex) -> None:
        outputs = await self._node.process(BlobDispersing(header, epoch, quorum))
        if any(isinstance(o, DutyFailed) for o in outputs):
            await trio.to_thread.run_sync(
                lambda: self._node.store.update_blob(
                    compute_data_root(header), BlobStatus.FAILED, error="dispersal failed"
                )
            )

    async def resume_blob(self, record: BlobRecord) -> None:
        """After a restart: encode a blob that was not certified again and disperse it again."""
        data = await trio.to_thread.run_sync(self._node.store.get_blob_data, record.data_root)
        if data is None:
            return
        encoded = await trio.to_thread.run_sync(self._node.store.get_extension, record.data_root)
        if encoded is None:  # stored before extensions were kept
            encoded = await trio.to_thread.run_sync(self._encode, data)
        self._node.encoded[encoded.data_root] = encoded
        log.info("resuming blob", data_root=record.data_root.hex(), status=record.status.value)
        await self._disperse(encoded.header, record.epoch, record.quorum)
