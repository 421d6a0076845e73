"""Tessera's DA layer: blob packing, KZG cells (EIP-7594 layout), the data root, samples and recovery.

Pure and synchronous; imports nothing else of Tessera's and no I/O framework.

Names are loaded on first use (PEP 562): `from da import verify_samples` imports `da.samples` and
what it needs, not numpy or the encoder pool, so a light client starts faster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from da.config import DAConfig
    from da.encoding import EncodedBlob, EncodedRow, compute_blob_header, encode_blob, encode_row
    from da.errors import (
        BlobTooLarge,
        DAError,
        EmptyBlob,
        EncoderPoolBroken,
        InvalidBlobEncoding,
        InvalidConfig,
        InvalidKZGInput,
        MalformedHeader,
        MalformedSample,
        NotEnoughCells,
    )
    from da.header import bytes_to_header, compute_data_root, header_to_bytes, validate_header
    from da.kzg import CellProver, CellRecoverer, CellVerifier, CkzgBackend, load_ckzg_backend
    from da.pool import EncoderPool
    from da.recovery import recover_blob, recover_row
    from da.samples import (
        bytes_to_sample,
        compute_sample_validity,
        compute_verified_coordinates,
        sample_to_bytes,
        validate_sample,
        verify_samples,
    )
    from da.types import (
        BlobHeader,
        Bytes32,
        Cell,
        CellCoordinate,
        ColumnIndex,
        DataRoot,
        KZGCommitment,
        KZGProof,
        RowBytes,
        RowIndex,
        Sample,
        SampleValidity,
    )

_MODULES: dict[str, tuple[str, ...]] = {
    "da.config": ("DAConfig",),
    "da.encoding": ("EncodedBlob", "EncodedRow", "compute_blob_header", "encode_blob", "encode_row"),
    "da.errors": (
        "BlobTooLarge",
        "DAError",
        "EmptyBlob",
        "EncoderPoolBroken",
        "InvalidBlobEncoding",
        "InvalidConfig",
        "InvalidKZGInput",
        "MalformedHeader",
        "MalformedSample",
        "NotEnoughCells",
    ),
    "da.header": ("bytes_to_header", "compute_data_root", "header_to_bytes", "validate_header"),
    "da.kzg": ("CellProver", "CellRecoverer", "CellVerifier", "CkzgBackend", "load_ckzg_backend"),
    "da.pool": ("EncoderPool",),
    "da.recovery": ("recover_blob", "recover_row"),
    "da.samples": (
        "bytes_to_sample",
        "compute_sample_validity",
        "compute_verified_coordinates",
        "sample_to_bytes",
        "validate_sample",
        "verify_samples",
    ),
    "da.types": (
        "BlobHeader",
        "Bytes32",
        "Cell",
        "CellCoordinate",
        "ColumnIndex",
        "DataRoot",
        "KZGCommitment",
        "KZGProof",
        "RowBytes",
        "RowIndex",
        "Sample",
        "SampleValidity",
    ),
}
"""The module that defines each public name."""

_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BlobHeader",
    "BlobTooLarge",
    "Bytes32",
    "Cell",
    "CellCoordinate",
    "CellProver",
    "CellRecoverer",
    "CellVerifier",
    "CkzgBackend",
    "ColumnIndex",
    "DAConfig",
    "DAError",
    "DataRoot",
    "EmptyBlob",
    "EncodedBlob",
    "EncodedRow",
    "EncoderPool",
    "EncoderPoolBroken",
    "InvalidBlobEncoding",
    "InvalidConfig",
    "InvalidKZGInput",
    "KZGCommitment",
    "KZGProof",
    "MalformedHeader",
    "MalformedSample",
    "NotEnoughCells",
    "RowBytes",
    "RowIndex",
    "Sample",
    "SampleValidity",
    "bytes_to_header",
    "bytes_to_sample",
    "compute_blob_header",
    "compute_data_root",
    "compute_sample_validity",
    "compute_verified_coordinates",
    "encode_blob",
    "encode_row",
    "header_to_bytes",
    "load_ckzg_backend",
    "recover_blob",
    "recover_row",
    "sample_to_bytes",
    "validate_header",
    "validate_sample",
    "verify_samples",
]


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` the first time it is asked for."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'da' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
