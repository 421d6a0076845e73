"""pytest entry for the scrambling sequencer: the node's check of pre-encoded uploads keeps S7."""

from da import DAConfig, InvalidCellProof, bytes_to_upload, compute_upload, upload_to_bytes
from da.types import KZGProof
from fuzz.uploads import _check_named, check_s7_upload, fuzz_uploads, get_honest_uploads


def test_a_scrambling_sequencer_never_gets_an_inconsistent_encoding_taken() -> None:
    fuzz_uploads(examples=60)


def test_the_check_catches_a_node_that_names_the_wrong_cell() -> None:
    """S7's check can fail: a refusal naming a cell other than the first bad one is a violation."""
    data, honest = get_honest_uploads()[1]
    upload = compute_upload(data, honest)
    proofs = [list(row) for row in upload.proofs]
    proofs[1][9] = KZGProof(proofs[0][9])
    body = upload_to_bytes(
        type(upload)(
            upload.data, upload.data_root, upload.row_commitments, tuple(tuple(row) for row in proofs)
        )
    )
    assert check_s7_upload(body, honest, data) == []
    wrong = InvalidCellProof(1, 10)
    assert _check_named(bytes_to_upload(body, DAConfig()), honest, data, wrong) == [
        "S7: refused cell (1, 10), but the first bad one is (1, 9)"
    ]
