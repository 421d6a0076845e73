"""The 2D extension's row domain: extended rows are the column polynomial at R..2R-1, up to a known scale."""

from __future__ import annotations

from fractions import Fraction
from math import gcd, lcm

import pytest
from hypothesis import given
from hypothesis import strategies as st

from da.row_domain import BLS_MODULUS, compute_row_domain


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


@pytest.mark.parametrize("rows", [0, 65])
def test_row_counts_out_of_range_are_refused(rows: int) -> None:
    with pytest.raises(ValueError, match="original_rows"):
        compute_row_domain(rows)


def test_rows_outside_the_extension_are_refused() -> None:
    domain = compute_row_domain(4)
    with pytest.raises(ValueError, match="not an extended row"):
        domain.field_coefficients(3)
    with pytest.raises(ValueError, match="not an extended row"):
        domain.field_scale_inverse(8)


def _product_formula(rows: int, offset: int) -> tuple[tuple[int, ...], Fraction]:
    """Row R + offset of M and its scale from the Lagrange basis as a product of fractions (the
    definition; `compute_row_domain` uses a closed form)."""
    basis = []
    for k in range(rows):
        value = Fraction(1)
        for m in range(rows):
            if m != k:
                value *= Fraction(rows + offset - m, k - m)
        basis.append(value)
    multiple = lcm(*(value.denominator for value in basis))
    divisor = gcd(*(int(value * multiple) for value in basis))
    return tuple(int(value * multiple) // divisor for value in basis), Fraction(multiple, divisor)


@pytest.mark.parametrize("rows", [1, 2, 3, 9, 17, 33, 64])
def test_closed_form_matches_the_lagrange_product(rows: int) -> None:
    domain = compute_row_domain(rows)
    for offset in range(rows):
        coefficients, scale = _product_formula(rows, offset)
        assert domain.coefficients[offset] == coefficients
        assert domain.scales[offset] == scale
