"""Fixtures of a fuzz world built once per process: keys and encoded one-row blobs (real ckzg).

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
BLOB_COUNT = 2


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


@functools.cache
def get_blobs() -> tuple[EncodedBlob, ...]:
    """A few distinct one-row blobs."""
    kzg = get_kzg()
    return tuple(
        encode_blob(random.Random(seed).randbytes(USABLE_BYTES_PER_ROW // 4), kzg)
        for seed in range(BLOB_COUNT)
    )
