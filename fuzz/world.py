"""Fixtures of a fuzz world built once per process: keys and encoded blobs (real ckzg).

Encoding costs ~0.3 s per row and loading the trusted setup ~2.5 s, so examples share these.
"""

from __future__ import annotations

import functools
import hashlib
import random

from da import CkzgBackend, EncodedBlob, encode_blob, load_ckzg_backend
from da.constants import USABLE_BYTES_PER_ROW
from validator.keys import SecretKey

MAX_VALIDATORS = 12


@functools.cache
def get_kzg() -> CkzgBackend:
    """The real ckzg backend (proving precomputation: the disperser computes proofs)."""
    return load_ckzg_backend(8)


@functools.cache
def get_keys() -> tuple[SecretKey, ...]:
    """Deterministic validator keys (index i has key i) so every failure replays exactly."""
    return tuple(
        SecretKey.from_seed(hashlib.sha256(b"tessera-fuzz-%d" % i).digest())
        for i in range(MAX_VALIDATORS + 1)
    )


BLOB_ROWS = (1, 3)
"""Rows of each blob: a one-row blob, and one of three rows whose custody goes out in several
chunks of whole rows when the world's `max_custody_cells_per_push` is small."""


@functools.cache
def get_blobs() -> tuple[EncodedBlob, ...]:
    """A few distinct blobs, of `BLOB_ROWS` rows."""
    kzg = get_kzg()
    return tuple(
        encode_blob(random.Random(seed).randbytes(_blob_bytes(rows)), kzg)
        for seed, rows in enumerate(BLOB_ROWS)
    )


def _blob_bytes(rows: int) -> int:
    """A byte length that fills `rows` rows (the last one in part)."""
    return USABLE_BYTES_PER_ROW // 4 if rows == 1 else (rows - 1) * USABLE_BYTES_PER_ROW + 1000
