"""Tessera's DA layer: blob packing, KZG cells (EIP-7594 layout), the data root, samples and recovery.

Pure and synchronous; imports nothing else of Tessera's and no I/O framework.
"""

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
)

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
    "bytes_to_header",
    "bytes_to_sample",
    "compute_blob_header",
    "compute_data_root",
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
