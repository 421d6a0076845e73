"""The lean cell verifier (`da.lean_verifier`) against ckzg: random valid and corrupted batches get
the same answer from both (the official vectors run through both in `tests/da/test_vectors.py`),
and a setup file that is not the mainnet setup is refused."""

from __future__ import annotations

from pathlib import Path

import py_arkworks_bls12381 as ark
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import CkzgBackend, DAError, EncodedBlob, InvalidKZGInput
from da.kzg import default_trusted_setup_path
from da.lean_verifier import BLS_MODULUS, LeanCellVerifier, load_lean_verifier, load_verification_setup
from da.types import Cell, ColumnIndex, KZGProof
from tests.examples import examples


@pytest.fixture(scope="module")
def lean() -> LeanCellVerifier:
    return load_lean_verifier()


CORRUPTIONS = [
    "none",
    "swap-cells",
    "other-column",
    "other-proof",
    "field-element",
    "not-a-point",
    "non-canonical",
]


def _batch(blobs: list[EncodedBlob], picks: list[tuple[int, int, int]]) -> tuple[list, list, list, list]:
    commitments, columns, cells, proofs = [], [], [], []
    for blob_index, drawn_row, column in picks:
        blob = blobs[blob_index % len(blobs)]
        row = drawn_row % blob.header.row_count
        encoded = blob.rows[row]
        commitments.append(blob.header.row_commitments[row])
        columns.append(ColumnIndex(column))
        cells.append(encoded.cells[column])
        proofs.append(encoded.proofs[column])
    return commitments, columns, cells, proofs


def _corrupt(kind: str, at: int, batch: tuple[list, list, list, list]) -> None:
    _, columns, cells, proofs = batch
    at %= len(cells)
    other = (at + 1) % len(cells)
    if kind == "swap-cells":
        cells[at], cells[other] = cells[other], cells[at]
    elif kind == "other-column":
        columns[at] = ColumnIndex((columns[at] + 1) % 128)
    elif kind == "other-proof":
        proofs[at] = proofs[other]
    elif kind == "field-element":
        value = (int.from_bytes(cells[at][:32], "big") + 1) % BLS_MODULUS
        cells[at] = Cell(value.to_bytes(32, "big") + cells[at][32:])
    elif kind == "not-a-point":
        proofs[at] = KZGProof(bytes([proofs[at][0]]) + bytes(47))
    elif kind == "non-canonical":
        cells[at] = Cell(BLS_MODULUS.to_bytes(32, "big") + cells[at][32:])


def _verdict(verifier: object, batch: tuple[list, list, list, list]) -> object:
    try:
        return verifier.verify_cell_proof_batch(*batch)  # type: ignore[attr-defined]
    except DAError as error:
        return type(error)


@settings(max_examples=examples(25, 0.8), deadline=None)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 127)), min_size=1, max_size=24
    ),
    kind=st.sampled_from(CORRUPTIONS),
    at=st.integers(0, 23),
)
def test_lean_and_ckzg_agree_on_random_batches(
    kzg: CkzgBackend,
    lean: LeanCellVerifier,
    one_row_blob: tuple[bytes, EncodedBlob],
    two_row_blob: tuple[bytes, EncodedBlob],
    picks: list[tuple[int, int, int]],
    kind: str,
    at: int,
) -> None:
    batch = _batch([one_row_blob[1], two_row_blob[1]], picks)
    _corrupt(kind, at, batch)
    expected = _verdict(kzg, batch)
    assert _verdict(lean, batch) == expected
    if kind == "none":
        assert expected is True


def test_a_full_row_and_a_large_batch_verify(
    kzg: CkzgBackend, lean: LeanCellVerifier, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    batch = _batch([blob], [(0, row, column) for row in range(2) for column in range(128)])
    assert lean.verify_cell_proof_batch(*batch) is True
    batch[2][200] = batch[2][201]
    assert lean.verify_cell_proof_batch(*batch) is False is kzg.verify_cell_proof_batch(*batch)


def test_mismatched_lengths_are_a_typed_error(lean: LeanCellVerifier, one_row_blob) -> None:
    commitments, columns, cells, proofs = _batch([one_row_blob[1]], [(0, 0, 1), (0, 0, 2)])
    with pytest.raises(InvalidKZGInput, match="lengths must match"):
        lean.verify_cell_proof_batch(commitments, columns[:1], cells, proofs)
    with pytest.raises(InvalidKZGInput, match="cell index"):
        lean.verify_cell_proof_batch(commitments, [ColumnIndex(1), ColumnIndex(128)], cells, proofs)


def test_a_setup_that_is_not_the_mainnet_setup_is_refused(tmp_path: Path) -> None:
    text = default_trusted_setup_path().read_text()
    lines = text.split("\n")
    last = lines[-2] if lines[-1] == "" else lines[-1]
    tampered = tmp_path / "setup.txt"
    tampered.write_text(text.replace(last, last[:-1] + ("0" if last[-1] != "0" else "1")))
    with pytest.raises(InvalidKZGInput, match="SHA-256"):
        load_verification_setup(tampered)
    with pytest.raises(InvalidKZGInput, match="No such file"):
        load_verification_setup(tmp_path / "missing.txt")


def test_the_setup_points_are_the_ceremony_s(lean: LeanCellVerifier) -> None:
    """[s^0]_1 and [1]_2 are the generators; the equation then only holds for ckzg's proofs (above)
    if [s^j]_1 and [s^64]_2 are the ceremony's too."""
    setup = load_verification_setup(default_trusted_setup_path())
    assert setup.g1_monomial[0] == ark.G1Point()
    assert setup.g2_one == ark.G2Point()
    assert len(setup.g1_monomial) == 64
