"""Official c-kzg-4844 vectors run through Tessera's own KZG API (`da.CkzgBackend`, `da.recover_row`).

One test per function over `kzg/<function>/kzg-mainnet/<case>/data.yaml` (`tests/official_vectors.py`:
an unpacked tree, else the archive committed under `tests/vectors/`); `output: null` means the call must
fail with a typed `DAError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from da import CellVerifier, CkzgBackend, DAError, recover_row
from da.lean_verifier import load_lean_verifier
from da.types import Cell, ColumnIndex, KZGCommitment, KZGProof, RowBytes, RowIndex
from tests.environment import require_or_skip
from tests.official_vectors import (
    ARCHIVE,
    MISSING,
    compute_archive_sha256,
    find_vector_source,
    get_recorded_sha256,
)

SOURCE = find_vector_source()
FUNCTIONS = {
    "blob_to_kzg_commitment": 11,
    "compute_cells": 11,
    "compute_cells_and_kzg_proofs": 11,
    "verify_cell_kzg_proof_batch": 20,
    "recover_cells_and_kzg_proofs": 14,
}


def _cases(function: str) -> list[str]:
    return [] if SOURCE is None else SOURCE.cases(function)


def _params(function: str) -> list[Any]:
    """One parameter per case; a single `no-vectors` one when none is found, which the `vectors`
    fixture skips (or fails, under TESSERA_REQUIRE_ALL) and the test fails if vectors were found."""
    cases = _cases(function)
    if not cases:
        return [pytest.param(None, id="no-vectors")]
    return [pytest.param(case, id=Path(case).parent.name) for case in cases]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding `kzg/` (the archive is unpacked once per module per test process)."""
    if SOURCE is None:
        require_or_skip(MISSING)
    return SOURCE.unpack(tmp_path_factory.mktemp("vectors"))


@pytest.fixture
def case(vectors: Path, request: pytest.FixtureRequest) -> Path:
    """The parametrized case's `data.yaml`; a found source whose glob matched nothing fails here."""
    name: str | None = request.param
    if name is None:
        pytest.fail(f"no case of this function under {vectors}: has the layout changed?")
    return vectors / name


def _load(case: Path) -> tuple[dict[str, Any], Any]:
    document = yaml.safe_load(case.read_text())
    return document["input"], document["output"]


def _hex(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def test_the_archive_is_the_one_its_provenance_records() -> None:
    """A changed archive (or a changed digest in PROVENANCE.txt) fails here."""
    assert ARCHIVE.is_file(), f"{ARCHIVE} is missing"
    assert compute_archive_sha256() == get_recorded_sha256()


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_vector_glob_matches_every_case(function: str) -> None:
    """Guards the globs below: a moved folder must not turn every vector test into a no-op."""
    if SOURCE is None:
        require_or_skip(MISSING)
    assert len(_cases(function)) == FUNCTIONS[function]


@pytest.mark.parametrize("case", _params("blob_to_kzg_commitment"), indirect=True)
def test_blob_to_kzg_commitment(kzg: CkzgBackend, case: Path) -> None:
    given, expected = _load(case)
    blob = RowBytes(_hex(given["blob"]))
    if expected is None:
        with pytest.raises(DAError):
            kzg.compute_row_commitment(blob)
    else:
        assert kzg.compute_row_commitment(blob) == _hex(expected)


@pytest.mark.parametrize("case", _params("compute_cells"), indirect=True)
def test_compute_cells(kzg: CkzgBackend, case: Path) -> None:
    given, expected = _load(case)
    blob = RowBytes(_hex(given["blob"]))
    if expected is None:
        with pytest.raises(DAError):
            kzg.compute_cells(blob)
    else:
        assert kzg.compute_cells(blob) == [_hex(cell) for cell in expected]


@pytest.mark.parametrize("case", _params("compute_cells_and_kzg_proofs"), indirect=True)
def test_compute_cells_and_kzg_proofs(kzg: CkzgBackend, case: Path) -> None:
    given, expected = _load(case)
    blob = RowBytes(_hex(given["blob"]))
    if expected is None:
        with pytest.raises(DAError):
            kzg.compute_cells_and_proofs(blob)
    else:
        cells, proofs = kzg.compute_cells_and_proofs(blob)
        assert cells == [_hex(cell) for cell in expected[0]]
        assert proofs == [_hex(proof) for proof in expected[1]]


@pytest.mark.parametrize("verifier", ["ckzg", "lean"])
@pytest.mark.parametrize("case", _params("verify_cell_kzg_proof_batch"), indirect=True)
def test_verify_cell_kzg_proof_batch(kzg: CkzgBackend, case: Path, verifier: str) -> None:
    """Through ckzg and through the lean verifier (`da.lean_verifier`): the same verdicts, and a
    typed error for every case whose output is null."""
    backend: CellVerifier = kzg if verifier == "ckzg" else load_lean_verifier()
    given, expected = _load(case)
    arguments = (
        [KZGCommitment(_hex(c)) for c in given["commitments"]],
        [ColumnIndex(i) for i in given["cell_indices"]],
        [Cell(_hex(c)) for c in given["cells"]],
        [KZGProof(_hex(p)) for p in given["proofs"]],
    )
    if expected is None:
        with pytest.raises(DAError):
            backend.verify_cell_proof_batch(*arguments)
    else:
        assert backend.verify_cell_proof_batch(*arguments) is expected


@pytest.mark.parametrize("case", _params("recover_cells_and_kzg_proofs"), indirect=True)
def test_recover_cells_and_kzg_proofs(kzg: CkzgBackend, case: Path) -> None:
    given, expected = _load(case)
    columns = [ColumnIndex(i) for i in given["cell_indices"]]
    cells = [Cell(_hex(c)) for c in given["cells"]]
    if expected is None:
        with pytest.raises(DAError):
            kzg.recover_cells_and_proofs(columns, cells)
        return
    expected_cells = [_hex(cell) for cell in expected[0]]
    recovered_cells, recovered_proofs = kzg.recover_cells_and_proofs(columns, cells)
    assert recovered_cells == expected_cells
    assert recovered_proofs == [_hex(proof) for proof in expected[1]]
    # The same case through the row-level API that `recover_blob` uses.
    by_column = dict(zip(columns, cells, strict=True))
    assert recover_row(kzg, RowIndex(0), by_column) == expected_cells
