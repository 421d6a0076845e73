"""The forked KZG verifier answers exactly as the in-process backend, and fails loudly when gone."""

from __future__ import annotations

import dataclasses
import os
import signal

import pytest

from da import CkzgBackend, EncodedBlob, verify_samples
from da.errors import InvalidKZGInput
from da.types import Cell, CellCoordinate, ColumnIndex, KZGProof, RowIndex
from sampling.client.errors import VerifierFailed
from sampling.client.verifier import ProcessCellVerifier


def test_the_child_verifies_like_the_backend(
    verifying_setup: CkzgBackend, two_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    blob = two_row_blob[1]
    samples = blob.get_samples(
        CellCoordinate(RowIndex(r), ColumnIndex(c)) for r in (0, 1) for c in range(0, 128, 9)
    )
    flipped = dataclasses.replace(
        samples[3], cell=Cell(bytes([samples[3].cell[0] ^ 1]) + samples[3].cell[1:])
    )
    with ProcessCellVerifier() as verifier:
        assert verify_samples(blob.data_root, samples, verifier) is True
        assert verify_samples(blob.data_root, [*samples[:3], flipped], verifier) is False
        assert verify_samples(blob.data_root, samples, verifying_setup) is True
        bad_point = KZGProof(b"\x01" * 48)
        with pytest.raises(InvalidKZGInput):
            verifier.verify_cell_proof_batch(
                [samples[0].commitment], [samples[0].column], [samples[0].cell], [bad_point]
            )
        assert (
            verify_samples(blob.data_root, [dataclasses.replace(samples[0], proof=bad_point)], verifier)
            is False
        )
    verifier.close()  # idempotent


def test_a_dead_child_raises_instead_of_judging_samples_false(
    two_row_blob: tuple[bytes, EncodedBlob],
) -> None:
    blob = two_row_blob[1]
    sample = blob.get_sample(CellCoordinate(RowIndex(0), ColumnIndex(5)))
    verifier = ProcessCellVerifier()
    try:
        assert verify_samples(blob.data_root, [sample], verifier)
        pid = verifier._process.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        verifier._process.join(5)
        with pytest.raises(VerifierFailed):
            verify_samples(blob.data_root, [sample], verifier)
    finally:
        verifier.close()


def test_the_child_exits_when_the_parent_end_closes() -> None:
    verifier = ProcessCellVerifier()
    try:
        verifier._connection.close()  # what the parent's death does: the child must see EOF
        verifier._process.join(10)
        assert verifier._process.exitcode == 0
    finally:
        verifier._closed = True
        verifier._process.close()
