"""The 2D extension's row domain: extended rows are the column polynomial at R..2R-1, up to a known scale."""

from __future__ import annotations

from fractions import Fraction
from math import gcd, prod

import pytest
from hypothesis import given
from hypothesis import strategies as st

from da import row_domain
from da.constants import MAX_ROWS_PER_BLOB
from da.row_domain import (
    BLS_MODULUS,
    ROW_TABLE_CACHE_SIZE,
    compute_field_row,
    compute_lagrange_integers,
    compute_row_domain,
)


def _evaluate(coefficients: list[int], x: int) -> int:
    return sum(c * pow(x, power, BLS_MODULUS) for power, c in enumerate(coefficients)) % BLS_MODULUS


@given(st.data(), st.integers(min_value=1, max_value=20))
def test_extended_rows_evaluate_the_column_polynomial(data: st.DataObject, rows: int) -> None:
    polynomial = data.draw(st.lists(st.integers(0, BLS_MODULUS - 1), min_size=rows, max_size=rows))
    domain = compute_row_domain(rows)
    originals = [_evaluate(polynomial, x) for x in range(rows)]
    for extended in range(rows, 2 * rows):
        combined = sum(c * v for c, v in zip(domain.field_coefficients(extended), originals, strict=True))
        assert combined * domain.field_scale_inverse(extended) % BLS_MODULUS == _evaluate(
            polynomial, extended
        )


@pytest.mark.parametrize(("rows", "bits"), [(8, 18), (17, 44), (64, 183)])
def test_coefficients_are_small_coprime_integers(rows: int, bits: int) -> None:
    domain = compute_row_domain(rows)
    assert max(abs(c) for row in domain.coefficients for c in row).bit_length() == bits
    for row in domain.coefficients:
        divisor = 0
        for value in row:
            divisor = gcd(divisor, value)
        assert divisor == 1


@pytest.mark.parametrize("rows", [0, MAX_ROWS_PER_BLOB + 1])
def test_row_counts_out_of_range_are_refused(rows: int) -> None:
    with pytest.raises(ValueError, match="original_rows"):
        compute_row_domain(rows)


def test_rows_outside_the_extension_are_refused() -> None:
    domain = compute_row_domain(4)
    with pytest.raises(ValueError, match="not an extended row"):
        domain.field_coefficients(3)
    with pytest.raises(ValueError, match="not an extended row"):
        domain.field_scale_inverse(8)


# --- The integer extension coefficients, against the rational Lagrange basis ---------------------


def _lagrange_reference(count: int, x: int) -> list[Fraction]:
    """L_k(x) over the points 0..count-1 straight from its definition, prod (x - m) / (k - m), exactly."""
    return [
        Fraction(
            prod(x - m for m in range(count) if m != k),
            prod(k - m for m in range(count) if m != k),
        )
        for k in range(count)
    ]


SPREAD = (*range(1, 65), 128, 265, MAX_ROWS_PER_BLOB - 1, MAX_ROWS_PER_BLOB)


@pytest.mark.parametrize("rows", SPREAD)
def test_coefficients_are_the_lagrange_basis_unscaled(rows: int) -> None:
    """M[i][k] = L_k(R + i) exactly (s_i = 1): every row up to 64, four rows of each larger R."""
    domain = compute_row_domain(rows)
    assert set(domain.scales) == {1}
    offsets = range(rows) if rows <= 64 else sorted({0, 1, rows // 2, rows - 1})
    coefficients = domain.coefficients
    for offset in offsets:
        reference = _lagrange_reference(rows, rows + offset)
        assert list(coefficients[offset]) == reference, (rows, offset)
        assert domain.field_coefficients(rows + offset) == tuple(value % BLS_MODULUS for value in reference)


@pytest.mark.slow
def test_no_row_count_needs_a_scale() -> None:
    """Every R to MAX_ROWS_PER_BLOB (about 20 s): each L_k(R + i) is an integer (the recurrence's
    divisions are exact) and each row sums to 1, so its gcd is 1 and s_i = 1 (specs/das-core.md)."""
    for rows in range(1, MAX_ROWS_PER_BLOB + 1):
        for offset in range(rows):
            assert sum(compute_lagrange_integers(rows, rows + offset)) == 1, (rows, offset)


def test_the_lagrange_recurrence_refuses_points_inside_the_domain() -> None:
    with pytest.raises(ValueError, match="count <= x"):
        compute_lagrange_integers(4, 3)
    with pytest.raises(ValueError, match="count <= x"):
        compute_lagrange_integers(0, 3)


def test_the_domain_cache_is_bounded() -> None:
    """A peer naming many row counts leaves at most ROW_TABLE_CACHE_SIZE domains cached."""
    row_domain._row_domain.cache_clear()
    for rows in range(1, 41):
        compute_row_domain(rows)
    info = row_domain._row_domain.cache_info()
    assert info.maxsize == ROW_TABLE_CACHE_SIZE
    assert info.currsize == ROW_TABLE_CACHE_SIZE
    assert info.misses == 40


@pytest.mark.parametrize("rows", [1, 2, 9, 67, 265])
def test_a_single_field_row_is_that_row_of_the_domain(rows: int) -> None:
    """What the lean verifier folds (`compute_field_row`) is the domain's row, without the table."""
    domain = compute_row_domain(rows)
    for extended in sorted({rows, rows + rows // 2, 2 * rows - 1}):
        assert compute_field_row(rows, extended) == domain.field_coefficients(extended)


@pytest.mark.parametrize(
    ("rows", "extended", "why"),
    [
        (4, 3, "not an extended row"),
        (4, 8, "not an extended row"),
        (0, 0, "original_rows"),
        (MAX_ROWS_PER_BLOB + 1, MAX_ROWS_PER_BLOB + 1, "original_rows"),
    ],
)
def test_a_single_field_row_outside_the_extension_is_refused(rows: int, extended: int, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        compute_field_row(rows, extended)
