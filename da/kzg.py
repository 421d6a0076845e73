"""KZG cell operations behind small Protocols, with the ckzg (c-kzg-4844) backend and its trusted setup.

Callers depend on the narrow Protocol they need (`CellProver`, `CellVerifier`, `CellRecoverer`), so a
reference oracle or a future Merkle-only scheme plugs in without touching them. The trusted setup is
heavy (2-3 s, ~100 MiB with precomputation): `load_ckzg_backend` loads it once per process and
callers pass the backend in.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import ckzg

from da.constants import BYTES_PER_ROW
from da.errors import InvalidKZGInput
from da.types import Cell, ColumnIndex, KZGCommitment, KZGProof, RowBytes

PRECOMPUTE_FOR_PROVING = 8
"""ckzg precomputation level for processes that compute proofs (faster proofs, ~100 MiB more)."""
PRECOMPUTE_FOR_VERIFYING = 0
"""ckzg precomputation level for processes that only verify or recover."""


class CellProver(Protocol):
    """Commits to a row and computes its 128 cells with their KZG proofs."""

    def compute_row_commitment(self, row: RowBytes) -> KZGCommitment:
        """The KZG commitment to a row (an EIP-4844 blob)."""

    def compute_cells_and_proofs(self, row: RowBytes) -> tuple[list[Cell], list[KZGProof]]:
        """The row's extended cells and one proof per cell."""


class CellVerifier(Protocol):
    """Checks many cell proofs at once."""

    def verify_cell_proof_batch(
        self,
        commitments: Sequence[KZGCommitment],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """True iff every cell is the evaluation its proof claims under its commitment."""


class CellRecoverer(Protocol):
    """Rebuilds a row's 128 cells (and proofs) from any half of them."""

    def recover_cells_and_proofs(
        self, columns: Sequence[ColumnIndex], cells: Sequence[Cell]
    ) -> tuple[list[Cell], list[KZGProof]]:
        """All cells and proofs of a row from at least half of its cells."""


def default_trusted_setup_path() -> Path:
    """Path of the mainnet trusted setup shipped as package data."""
    resource = importlib.resources.files("da") / "trusted_setup.txt"
    return Path(str(resource))


class CkzgBackend:
    """`CellProver`, `CellVerifier` and `CellRecoverer` over ckzg with one loaded trusted setup."""

    def __init__(self, settings: ckzg.KZGSettings, precompute: int) -> None:
        self._settings = settings
        self.precompute = precompute

    def compute_row_commitment(self, row: RowBytes) -> KZGCommitment:
        """The KZG commitment to a row; raises `InvalidKZGInput` for a non-canonical row."""
        _check_length("blob_to_kzg_commitment", "row", row, BYTES_PER_ROW)
        try:
            return KZGCommitment(ckzg.blob_to_kzg_commitment(row, self._settings))
        except (RuntimeError, ValueError, TypeError) as error:
            raise InvalidKZGInput("blob_to_kzg_commitment", str(error)) from error

    def compute_cells(self, row: RowBytes) -> list[Cell]:
        """The row's 128 extended cells without proofs."""
        _check_length("compute_cells", "row", row, BYTES_PER_ROW)
        try:
            return [Cell(cell) for cell in ckzg.compute_cells(row, self._settings)]
        except (RuntimeError, ValueError, TypeError) as error:
            raise InvalidKZGInput("compute_cells", str(error)) from error

    def compute_cells_and_proofs(self, row: RowBytes) -> tuple[list[Cell], list[KZGProof]]:
        """The row's 128 extended cells and their proofs."""
        _check_length("compute_cells_and_kzg_proofs", "row", row, BYTES_PER_ROW)
        try:
            cells, proofs = ckzg.compute_cells_and_kzg_proofs(row, self._settings)
        except (RuntimeError, ValueError, TypeError) as error:
            raise InvalidKZGInput("compute_cells_and_kzg_proofs", str(error)) from error
        return [Cell(cell) for cell in cells], [KZGProof(proof) for proof in proofs]

    def verify_cell_proof_batch(
        self,
        commitments: Sequence[KZGCommitment],
        columns: Sequence[ColumnIndex],
        cells: Sequence[Cell],
        proofs: Sequence[KZGProof],
    ) -> bool:
        """One batched check of many cells; raises `InvalidKZGInput` for bytes that are not points."""
        try:
            return bool(
                ckzg.verify_cell_kzg_proof_batch(
                    list(commitments), list(columns), list(cells), list(proofs), self._settings
                )
            )
        except (RuntimeError, ValueError, TypeError, OverflowError) as error:
            raise InvalidKZGInput("verify_cell_kzg_proof_batch", str(error)) from error

    def recover_cells_and_proofs(
        self, columns: Sequence[ColumnIndex], cells: Sequence[Cell]
    ) -> tuple[list[Cell], list[KZGProof]]:
        """All 128 cells and proofs of a row from at least 64 distinct cells."""
        try:
            all_cells, all_proofs = ckzg.recover_cells_and_kzg_proofs(
                list(columns), list(cells), self._settings
            )
        except (RuntimeError, ValueError, TypeError, OverflowError) as error:
            raise InvalidKZGInput("recover_cells_and_kzg_proofs", str(error)) from error
        return [Cell(cell) for cell in all_cells], [KZGProof(proof) for proof in all_proofs]


def _check_length(operation: str, what: str, value: bytes, expected: int) -> None:
    if len(value) != expected:
        raise InvalidKZGInput(operation, f"{what} is {len(value)} bytes, {expected} expected")


TRUSTED_SETUP_SHA256 = "d39b9f2d047cc9dca2de58f264b6a09448ccd34db967881a6713eacacf0f26b7"
"""SHA-256 of the mainnet KZG ceremony's setup in c-kzg-4844's text form (`trusted_setup.txt`).

ckzg does not check every point of a setup it loads (a file with one G1 point altered loads), and
every commitment and proof of the network depends on the setup, so a file is checked against this
digest before it is parsed: any other setup is refused (specs/das-core.md, "Trusted setup")."""


def read_trusted_setup(path: Path) -> bytes:
    """The setup file's bytes, after checking them against `TRUSTED_SETUP_SHA256`; raises
    `InvalidKZGInput` for a file that cannot be read or is not the mainnet setup."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InvalidKZGInput("load_trusted_setup", f"{path}: {error}") from error
    digest = hashlib.sha256(raw).hexdigest()
    if digest != TRUSTED_SETUP_SHA256:
        wrong = f"{path}: SHA-256 {digest} is not the mainnet setup's {TRUSTED_SETUP_SHA256}"
        raise InvalidKZGInput("load_trusted_setup", wrong)
    return raw


@functools.cache
def _load_settings(path: str, precompute: int) -> ckzg.KZGSettings:
    read_trusted_setup(Path(path))
    try:
        return ckzg.load_trusted_setup(path, precompute)
    except (RuntimeError, ValueError, OSError) as error:
        raise InvalidKZGInput("load_trusted_setup", f"{path}: {error}") from error


def load_ckzg_backend(
    precompute: int = PRECOMPUTE_FOR_VERIFYING, trusted_setup: Path | None = None
) -> CkzgBackend:
    """The ckzg backend for this process; the trusted setup is parsed once per (path, precompute)."""
    path = trusted_setup if trusted_setup is not None else default_trusted_setup_path()
    return CkzgBackend(_load_settings(str(path), precompute), precompute)


__all__ = [
    "PRECOMPUTE_FOR_PROVING",
    "PRECOMPUTE_FOR_VERIFYING",
    "TRUSTED_SETUP_SHA256",
    "CellProver",
    "CellRecoverer",
    "CellVerifier",
    "CkzgBackend",
    "default_trusted_setup_path",
    "load_ckzg_backend",
    "read_trusted_setup",
]
