"""The py_ecc reference oracle side by side with the ckzg fast path on the same cases.

py_ecc computes cells with its own FFTs and checks single-cell proofs with real pairings (~0.7 s
each), so a bug in how Tessera drives ckzg, or in ckzg itself, shows up as a disagreement.
"""

from __future__ import annotations

import pytest

from da import CellCoordinate, CkzgBackend, ColumnIndex, EncodedBlob, RowIndex, verify_samples
from da.kzg import default_trusted_setup_path
from da.reference_kzg import PyEccCellReference
from da.types import Cell

pytestmark = pytest.mark.oracle


@pytest.fixture(scope="module")
def oracle() -> PyEccCellReference:
    return PyEccCellReference(default_trusted_setup_path())


def test_reference_cells_equal_ckzg_cells(
    oracle: PyEccCellReference, kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = one_row_blob
    row = b"".join(encoded.rows[0].cells[:64])  # the systematic half is the packed row itself
    assert oracle.compute_cells(row) == list(encoded.rows[0].cells)
    assert kzg.compute_cells(row) == list(encoded.rows[0].cells)


@pytest.mark.parametrize("column", [0, 63, 64, 127])
def test_single_cell_proofs_agree(
    oracle: PyEccCellReference, kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob], column: int
) -> None:
    _data, encoded = one_row_blob
    sample = encoded.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(column)))
    assert verify_samples(encoded.data_root, [sample], oracle)
    assert verify_samples(encoded.data_root, [sample], kzg)
    wrong_cell = Cell(bytes([sample.cell[0], sample.cell[1] ^ 1]) + sample.cell[2:])
    assert not oracle.verify_cell_kzg_proof(sample.commitment, column, wrong_cell, sample.proof)
    assert not kzg.verify_cell_proof_batch([sample.commitment], [sample.column], [wrong_cell], [sample.proof])


def test_proof_of_another_cell_is_rejected_by_both(
    oracle: PyEccCellReference, kzg: CkzgBackend, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _data, encoded = one_row_blob
    row = encoded.rows[0]
    args = ([row.commitment], [ColumnIndex(5)], [row.cells[5]], [row.proofs[6]])
    assert oracle.verify_cell_proof_batch(*args) is False
    assert kzg.verify_cell_proof_batch(*args) is False
