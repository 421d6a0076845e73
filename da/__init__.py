"""Tessera's DA layer: blob packing, KZG cells (EIP-7594 layout), the data root, samples and recovery.

Pure and synchronous; imports nothing else of Tessera's and no I/O framework.

Names are loaded on first use (PEP 562): `from da import verify_samples` imports `da.samples` and
what it needs, not numpy or the encoder pool, so a light client starts faster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names for type checkers (a test keeps them equal to _MODULES)
    from da.config import DAConfig as DAConfig
    from da.encoding import EncodedBlob as EncodedBlob
    from da.encoding import EncodedRow as EncodedRow
    from da.encoding import compute_blob_header as compute_blob_header
    from da.encoding import encode_blob as encode_blob
    from da.encoding import encode_row as encode_row
    from da.errors import BlobTooLarge as BlobTooLarge
    from da.errors import CommitmentMismatch as CommitmentMismatch
    from da.errors import DAError as DAError
    from da.errors import DataRootMismatch as DataRootMismatch
    from da.errors import EmptyBlob as EmptyBlob
    from da.errors import EncoderPoolBroken as EncoderPoolBroken
    from da.errors import InvalidBlobEncoding as InvalidBlobEncoding
    from da.errors import InvalidCellProof as InvalidCellProof
    from da.errors import InvalidConfig as InvalidConfig
    from da.errors import InvalidKZGInput as InvalidKZGInput
    from da.errors import InvalidUpload as InvalidUpload
    from da.errors import MalformedHeader as MalformedHeader
    from da.errors import MalformedSample as MalformedSample
    from da.errors import MalformedUpload as MalformedUpload
    from da.errors import NotEnoughCells as NotEnoughCells
    from da.errors import RowCountMismatch as RowCountMismatch
    from da.errors import UploadTruncated as UploadTruncated
    from da.extension import compute_extended_column_cells as compute_extended_column_cells
    from da.extension import compute_extended_column_proofs as compute_extended_column_proofs
    from da.extension import compute_extended_commitments as compute_extended_commitments
    from da.grid import ExtendedBlob as ExtendedBlob
    from da.grid import compute_extended_blob as compute_extended_blob
    from da.grid import extend_rows as extend_rows
    from da.grid_samples import compute_grid_commitments as compute_grid_commitments
    from da.grid_samples import validate_grid_sample as validate_grid_sample
    from da.grid_samples import verify_grid_samples as verify_grid_samples
    from da.header import bytes_to_header as bytes_to_header
    from da.header import compute_data_root as compute_data_root
    from da.header import header_to_bytes as header_to_bytes
    from da.header import validate_header as validate_header
    from da.kzg import CellProver as CellProver
    from da.kzg import CellRecoverer as CellRecoverer
    from da.kzg import CellVerifier as CellVerifier
    from da.kzg import CkzgBackend as CkzgBackend
    from da.kzg import load_ckzg_backend as load_ckzg_backend
    from da.pool import EncoderPool as EncoderPool
    from da.recovery import recover_blob as recover_blob
    from da.recovery import recover_row as recover_row
    from da.recovery2d import recover_grid_blob as recover_grid_blob
    from da.recovery2d import recover_grid_rows as recover_grid_rows
    from da.samples import bytes_to_sample as bytes_to_sample
    from da.samples import compute_sample_validity as compute_sample_validity
    from da.samples import compute_verified_coordinates as compute_verified_coordinates
    from da.samples import sample_to_bytes as sample_to_bytes
    from da.samples import validate_sample as validate_sample
    from da.samples import verify_samples as verify_samples
    from da.types import BlobHeader as BlobHeader
    from da.types import Bytes32 as Bytes32
    from da.types import Cell as Cell
    from da.types import CellCoordinate as CellCoordinate
    from da.types import ColumnIndex as ColumnIndex
    from da.types import DataRoot as DataRoot
    from da.types import GridSample as GridSample
    from da.types import KZGCommitment as KZGCommitment
    from da.types import KZGProof as KZGProof
    from da.types import RowBytes as RowBytes
    from da.types import RowIndex as RowIndex
    from da.types import Sample as Sample
    from da.types import SampleValidity as SampleValidity
    from da.upload import EncodedUpload as EncodedUpload
    from da.upload import bytes_to_upload as bytes_to_upload
    from da.upload import compute_upload as compute_upload
    from da.upload import upload_to_bytes as upload_to_bytes
    from da.upload import validate_upload as validate_upload

_MODULES: dict[str, tuple[str, ...]] = {
    "da.config": ("DAConfig",),
    "da.encoding": ("EncodedBlob", "EncodedRow", "compute_blob_header", "encode_blob", "encode_row"),
    "da.errors": (
        "BlobTooLarge",
        "CommitmentMismatch",
        "DAError",
        "DataRootMismatch",
        "EmptyBlob",
        "EncoderPoolBroken",
        "InvalidBlobEncoding",
        "InvalidCellProof",
        "InvalidConfig",
        "InvalidKZGInput",
        "InvalidUpload",
        "MalformedHeader",
        "MalformedSample",
        "MalformedUpload",
        "NotEnoughCells",
        "RowCountMismatch",
        "UploadTruncated",
    ),
    "da.extension": (
        "compute_extended_column_cells",
        "compute_extended_column_proofs",
        "compute_extended_commitments",
    ),
    "da.grid": ("ExtendedBlob", "compute_extended_blob", "extend_rows"),
    "da.grid_samples": ("compute_grid_commitments", "validate_grid_sample", "verify_grid_samples"),
    "da.header": ("bytes_to_header", "compute_data_root", "header_to_bytes", "validate_header"),
    "da.kzg": ("CellProver", "CellRecoverer", "CellVerifier", "CkzgBackend", "load_ckzg_backend"),
    "da.pool": ("EncoderPool",),
    "da.recovery": ("recover_blob", "recover_row"),
    "da.recovery2d": ("recover_grid_blob", "recover_grid_rows"),
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
        "GridSample",
        "KZGCommitment",
        "KZGProof",
        "RowBytes",
        "RowIndex",
        "Sample",
        "SampleValidity",
    ),
    "da.upload": ("EncodedUpload", "bytes_to_upload", "compute_upload", "upload_to_bytes", "validate_upload"),
}
"""Each module and the public names it defines: the one table that `__all__`, `dir(da)` and the
lazy loader are built from."""

_HOME = {name: module for module, names in _MODULES.items() for name in names}
"""The defining module of each public name."""

__all__ = sorted(_HOME)  # noqa: PLE0605 - built from _MODULES, the one table of names


def __dir__() -> list[str]:
    """The module's own names and every lazy one, so `dir(da)`, `help(da)` and completion show them."""
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    """Import the module that defines `name` the first time it is asked for."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'da' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
