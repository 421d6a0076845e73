"""The sequencer's side of a pre-encoded upload: encode a blob on this machine's cores, then lay it
out for `POST /v1/blobs` (`da.upload`). The node then only verifies (~15 x less work than encoding).

ckzg's FK20 proofs are the cost: ~0.2 s per row at precompute 8 on one core, so rows are spread over
worker processes (`da.pool.EncoderPool`), at most one per row; a one-row blob is encoded in this
process. The precompute level trades memory for speed (measured on a 2-vCPU box, ckzg 2.1.8, per
row: 0: 359 ms; 8: 205 ms, ~100 MiB more per process; 10: 183 ms, +388 MiB; 12: 172 ms, +1.5 GiB;
the FK20 floor is ~100 ms whatever the level), so 8 is the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from da.config import DAConfig
from da.encoding import ProgressCallback, encode_blob
from da.errors import InvalidConfig
from da.kzg import PRECOMPUTE_FOR_PROVING, load_ckzg_backend
from da.packing import validate_blob_size
from da.pool import EncoderPool
from da.row_count import compute_row_count
from da.upload import compute_upload, upload_to_bytes

MAX_PRECOMPUTE = 15
"""ckzg's largest precomputation level (its tables grow as 2**level)."""
MAX_ENCODER_WORKERS = 64


@dataclass(frozen=True, slots=True)
class EncoderSettings:
    """How a sequencer encodes: `workers` processes (None: one per core; never more than the blob's
    rows) at ckzg precomputation level `precompute`."""

    workers: int | None = None
    precompute: int = PRECOMPUTE_FOR_PROVING

    def validate(self) -> EncoderSettings:
        """Return self if every field is in range, else raise `InvalidConfig` naming the field."""
        if self.workers is not None and not 1 <= self.workers <= MAX_ENCODER_WORKERS:
            raise InvalidConfig(
                "workers", self.workers, f"must be 1..{MAX_ENCODER_WORKERS} (or one per core)"
            )
        if not 0 <= self.precompute <= MAX_PRECOMPUTE:
            raise InvalidConfig("precompute", self.precompute, f"must be 0..{MAX_PRECOMPUTE}")
        return self

    def workers_for(self, byte_length: int) -> int:
        """The worker processes a blob of `byte_length` bytes is encoded on (1: this process)."""
        wanted = self.workers if self.workers is not None else max(1, os.cpu_count() or 1)
        return max(1, min(wanted, compute_row_count(byte_length)))


def encode_upload(
    data: bytes,
    settings: EncoderSettings | None = None,
    config: DAConfig | None = None,
    progress: ProgressCallback | None = None,
) -> bytes:
    """The pre-encoded upload of `data` (its body for `POST /v1/blobs`), encoded here: rows spread
    over `settings.workers_for(len(data))` processes. Raises `EmptyBlob` / `BlobTooLarge` first."""
    settings = (settings or EncoderSettings()).validate()
    config = (config or DAConfig()).validate()
    validate_blob_size(len(data), config)
    workers = settings.workers_for(len(data))
    if workers == 1:
        encoded = encode_blob(data, load_ckzg_backend(settings.precompute), config, progress)
    else:
        with EncoderPool(workers, config, precompute=settings.precompute) as pool:
            encoded = pool.encode_blob(data, progress)
    return upload_to_bytes(compute_upload(data, encoded))
