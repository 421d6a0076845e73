"""The native scalar field part of the lean verifier and the 2D extension (`da._scalar_field`) against
plain Python: the interpolation is checked against the Lagrange formula written out independently of
the FFT, its result is checked to take each cell's values at its coset, the column extension against
the Lagrange formula and the extension matrix, and bad input is a ValueError."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from da import EncodedBlob, InvalidKZGInput, _scalar_field
from da.extension import _extension_matrix
from da.lean_verifier import BLS_MODULUS, LeanCellVerifier, _domain, load_lean_verifier
from da.types import Cell, ColumnIndex
from tests.examples import examples

P = BLS_MODULUS
W_8192 = pow(7, (P - 1) // 8192, P)
W_64 = pow(W_8192, 128, P)


def _reverse(value: int, bits: int) -> int:
    return int(format(value, f"0{bits}b")[::-1], 2)


def _coset_point(column: int, t: int) -> int:
    """Where cell value t of `column` sits (EIP-7594: coset h_c * <w_64>, values bit-reversed)."""
    shift = pow(W_8192, _reverse(64 * column, 13), P)
    return shift * pow(W_64, _reverse(t, 6), P) % P


def _reference(cells: list[list[int]], columns: list[int], powers: list[int]) -> list[int]:
    """sum_k powers[k] I_k(X) by Lagrange over a coset of size 64: L_x(X) = (1/64) sum_j (X/x)^j."""
    inverse_64 = pow(64, P - 2, P)
    coefficients = [0] * 64
    for values, column, power in zip(cells, columns, powers, strict=True):
        for t, value in enumerate(values):
            inverse_point = pow(_coset_point(column, t), P - 2, P)
            weight, term = power * value * inverse_64 % P, 1
            for j in range(64):
                coefficients[j] = (coefficients[j] + weight * term) % P
                term = term * inverse_point % P
    return coefficients


def _native(cells: list[list[int]], columns: list[int], powers: list[int]) -> list[int]:
    domain = _domain()
    packed = _scalar_field.interpolate_cells(
        b"".join(v.to_bytes(32, "big") for values in cells for v in values),
        bytes(columns),
        _scalar_field.to_montgomery(b"".join(p.to_bytes(32, "little") for p in powers)),
        domain.twiddles,
        domain.unshift,
    )
    return [int.from_bytes(packed[i : i + 32], "little") for i in range(0, 64 * 32, 32)]


field_elements = st.one_of(st.integers(0, P - 1), st.sampled_from([0, 1, 2, P - 2, P - 1]))


@settings(max_examples=examples(30), deadline=None)
@given(
    cells=st.lists(st.lists(field_elements, min_size=64, max_size=64), min_size=1, max_size=4),
    data=st.data(),
)
def test_interpolation_matches_the_lagrange_formula(cells: list[list[int]], data: st.DataObject) -> None:
    columns = data.draw(st.lists(st.integers(0, 127), min_size=len(cells), max_size=len(cells)))
    powers = data.draw(st.lists(field_elements, min_size=len(cells), max_size=len(cells)))
    assert _native(cells, columns, powers) == _reference(cells, columns, powers)


def test_cells_of_one_column_are_combined_before_interpolating() -> None:
    rng = random.Random(5)
    cells = [[rng.randrange(P) for _ in range(64)] for _ in range(3)]
    columns, powers = [9, 9, 100], [rng.randrange(P) for _ in range(3)]
    assert _native(cells, columns, powers) == _reference(cells, columns, powers)


@pytest.mark.parametrize("column", [0, 1, 64, 127])
def test_one_cell_s_polynomial_takes_its_values_at_its_coset(column: int) -> None:
    values = [random.Random(column).randrange(P) for _ in range(64)]
    coefficients = _native([values], [column], [1])
    for t, value in enumerate(values):
        point = _coset_point(column, t)
        assert sum(c * pow(point, j, P) for j, c in enumerate(coefficients)) % P == value


def test_to_montgomery_multiplies_by_two_to_the_256() -> None:
    values = [0, 1, 12345, P - 1, random.Random(1).randrange(P)]
    packed = _scalar_field.to_montgomery(b"".join(v.to_bytes(32, "little") for v in values))
    assert [int.from_bytes(packed[i : i + 32], "little") for i in range(0, len(packed), 32)] == [
        v * 2**256 % P for v in values
    ]


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (P.to_bytes(32, "little"), "value 0 is not a canonical field element"),
        (bytes(32) + (2**256 - 1).to_bytes(32, "little"), "value 1 is not a canonical field element"),
        (bytes(31), "32-byte little-endian field elements"),
    ],
)
def test_to_montgomery_refuses_what_is_not_a_canonical_element(payload: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        _scalar_field.to_montgomery(payload)


@pytest.mark.parametrize("position", [0, 63, 64 + 17, 127])
def test_a_value_at_or_above_the_modulus_anywhere_in_a_cell_is_refused(position: int) -> None:
    cells = [[1] * 64, [2] * 64]
    cells[position // 64][position % 64] = P
    why = f"cell {position // 64} holds a field element that is not canonical"
    with pytest.raises(ValueError, match=why):
        _native(cells, [3, 4], [1, 1])


def test_inconsistent_inputs_are_refused() -> None:
    domain = _domain()
    one = _scalar_field.to_montgomery((1).to_bytes(32, "little"))
    cell = bytes(2048)
    with pytest.raises(ValueError, match="below 128"):
        _scalar_field.interpolate_cells(cell, bytes([128]), one, domain.twiddles, domain.unshift)
    with pytest.raises(ValueError, match="one 2048-byte cell"):
        _scalar_field.interpolate_cells(cell + b"\x00", bytes([1]), one, domain.twiddles, domain.unshift)
    with pytest.raises(ValueError, match="one 2048-byte cell"):
        _scalar_field.interpolate_cells(cell, bytes([1, 2]), one, domain.twiddles, domain.unshift)
    with pytest.raises(ValueError, match="twiddles"):
        _scalar_field.interpolate_cells(cell, bytes([1]), one, domain.twiddles[:-32], domain.unshift)


@pytest.fixture(scope="module")
def lean() -> LeanCellVerifier:
    return load_lean_verifier()


def test_the_verifier_reports_a_late_non_canonical_value_as_invalid_input(
    lean: LeanCellVerifier, one_row_blob: tuple[bytes, EncodedBlob]
) -> None:
    _, blob = one_row_blob
    row = blob.rows[0]
    cells = [row.cells[0], Cell(row.cells[1][:-32] + P.to_bytes(32, "big"))]
    with pytest.raises(InvalidKZGInput, match="cell 1 holds a field element that is not canonical"):
        lean.verify_cell_proof_batch(
            [blob.header.row_commitments[0]] * 2,
            [ColumnIndex(0), ColumnIndex(1)],
            cells,
            [row.proofs[0], row.proofs[1]],
        )


def _evaluate_column(values: list[list[int]], x: int) -> list[int]:
    """Q(x) element by element, Q of degree < K through values[k] at k = 0..K-1 (Lagrange, plainly)."""
    count = len(values)
    weights = []
    for k in range(count):
        numerator, denominator = 1, 1
        for m in range(count):
            if m != k:
                numerator, denominator = numerator * (x - m) % P, denominator * (k - m) % P
        weights.append(numerator * pow(denominator, P - 2, P) % P)
    return [sum(w * cell[t] for w, cell in zip(weights, values, strict=True)) % P for t in range(64)]


def _cell_bytes(values: list[int]) -> bytes:
    return b"".join(value.to_bytes(32, "big") for value in values)


@settings(max_examples=examples(20), deadline=None)
@given(st.integers(min_value=1, max_value=12), st.randoms(use_true_random=False))
def test_extend_cells_evaluates_the_column_polynomial_at_k_to_2k(count: int, rng: random.Random) -> None:
    values = [[rng.choice([0, 1, P - 1, rng.randrange(P)]) for _ in range(64)] for _ in range(count)]
    extended = _scalar_field.extend_cells(b"".join(_cell_bytes(cell) for cell in values))
    assert extended == b"".join(_cell_bytes(_evaluate_column(values, x)) for x in range(count, 2 * count))


@pytest.mark.parametrize("count", [1, 9, 64, 67, 265])
def test_extend_cells_equals_the_extension_matrix(count: int) -> None:
    rng = random.Random(count)
    cells = b"".join(_cell_bytes([rng.randrange(P) for _ in range(64)]) for _ in range(count))
    assert _scalar_field.extend_cells(cells) == _scalar_field.combine_cells(cells, _extension_matrix(count))


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "one or more 2048-byte cells"),
        (b"\x00" * 2047, "one or more 2048-byte cells"),
        (b"\x00" * 2048 + P.to_bytes(32, "big") + b"\x00" * 2016, "cell 1 .*not canonical"),
    ],
)
def test_extend_cells_refuses_bad_input(payload: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        _scalar_field.extend_cells(payload)
