"""Slow, pure-Python (py_ecc) reference for the EIP-7594 KZG cell functions.

It exists only as a test oracle: tests run it side by side with ckzg so that a bug in
our use of the fast library (or in the library itself) shows up as a disagreement.
The algorithms follow the consensus-specs `polynomial-commitments-sampling` design but
are written independently and favour clarity over speed.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Final, TypeVar

from py_ecc.bls.g2_primitives import subgroup_check
from py_ecc.bls.point_compression import decompress_G1, decompress_G2
from py_ecc.bls.typing import G1Compressed, G1Uncompressed, G2Compressed, G2Uncompressed
from py_ecc.fields import optimized_bls12_381_FQ12 as FQ12
from py_ecc.optimized_bls12_381.optimized_curve import add, curve_order, multiply, neg
from py_ecc.optimized_bls12_381.optimized_pairing import final_exponentiate, pairing

from da.errors import InvalidKZGInput

BLS_MODULUS: Final = curve_order
PRIMITIVE_ROOT_OF_UNITY: Final = 7
FIELD_ELEMENTS_PER_BLOB: Final = 4096
FIELD_ELEMENTS_PER_EXT_BLOB: Final = 2 * FIELD_ELEMENTS_PER_BLOB
FIELD_ELEMENTS_PER_CELL: Final = 64
CELLS_PER_EXT_BLOB: Final = FIELD_ELEMENTS_PER_EXT_BLOB // FIELD_ELEMENTS_PER_CELL
BYTES_PER_FIELD_ELEMENT: Final = 32
BYTES_PER_BLOB: Final = FIELD_ELEMENTS_PER_BLOB * BYTES_PER_FIELD_ELEMENT
BYTES_PER_CELL: Final = FIELD_ELEMENTS_PER_CELL * BYTES_PER_FIELD_ELEMENT
BYTES_PER_G1: Final = 48
BYTES_PER_G2: Final = 96
NUM_G2_POINTS: Final = 65

_T = TypeVar("_T")


def _bit_reverse(index: int, bits: int) -> int:
    """Reverse the lowest ``bits`` bits of ``index``."""
    return int(format(index, f"0{bits}b")[::-1], 2) if bits else 0


def bit_reversal_permutation(values: Sequence[_T]) -> list[_T]:
    """Reorder a power-of-two-length sequence by bit-reversed index (an involution)."""
    n = len(values)
    if n & (n - 1):
        raise ValueError("length must be a power of two")
    bits = n.bit_length() - 1
    return [values[_bit_reverse(i, bits)] for i in range(n)]


def compute_roots_of_unity(order: int) -> tuple[int, ...]:
    """Return [w^0, ..., w^(order-1)] for the spec's primitive ``order``-th root of unity w."""
    if (BLS_MODULUS - 1) % order:
        raise ValueError("order must divide r - 1")
    w = pow(PRIMITIVE_ROOT_OF_UNITY, (BLS_MODULUS - 1) // order, BLS_MODULUS)
    powers = [1]
    for _ in range(order - 1):
        powers.append(powers[-1] * w % BLS_MODULUS)
    return tuple(powers)


def fft_field(values: Sequence[int], roots: Sequence[int], *, inv: bool = False) -> list[int]:
    """Evaluate (or, with ``inv``, interpolate) over the natural-order domain ``roots``.

    Forward: out[k] = sum_j values[j] * roots[k]^j. Inverse maps those evaluations back to
    coefficients. Iterative radix-2 Cooley-Tukey, O(n log n); needed because an
    8192-point extension by Horner's rule would take minutes in pure Python.
    """
    n = len(values)
    if len(roots) != n or n & (n - 1):
        raise ValueError("values and roots must have the same power-of-two length")
    if inv:
        # The inverse transform uses w^-1 = w^(n-1), i.e. the roots in reverse order.
        roots = [roots[0], *reversed(roots[1:])]
    out = bit_reversal_permutation([v % BLS_MODULUS for v in values])
    half = 1
    while half < n:
        stride = n // (2 * half)
        for start in range(0, n, 2 * half):
            for j in range(half):
                u = out[start + j]
                t = out[start + j + half] * roots[j * stride] % BLS_MODULUS
                out[start + j] = (u + t) % BLS_MODULUS
                out[start + j + half] = (u - t) % BLS_MODULUS
        half *= 2
    if inv:
        n_inv = pow(n, -1, BLS_MODULUS)
        out = [v * n_inv % BLS_MODULUS for v in out]
    return out


def _bytes_to_field_elements(data: bytes, count: int, what: str) -> list[int]:
    """Split ``data`` into ``count`` canonical big-endian scalars, rejecting values >= r."""
    if len(data) != count * BYTES_PER_FIELD_ELEMENT:
        raise ValueError(f"{what} must be {count * BYTES_PER_FIELD_ELEMENT} bytes, got {len(data)}")
    out = []
    for i in range(count):
        chunk = data[i * BYTES_PER_FIELD_ELEMENT : (i + 1) * BYTES_PER_FIELD_ELEMENT]
        value = int.from_bytes(chunk, "big")
        if value >= BLS_MODULUS:
            raise ValueError(f"{what} field element {i} is not below the BLS modulus")
        out.append(value)
    return out


def _field_elements_to_bytes(values: Sequence[int]) -> bytes:
    """Serialise scalars as concatenated 32-byte big-endian words."""
    return b"".join(v.to_bytes(BYTES_PER_FIELD_ELEMENT, "big") for v in values)


def _parse_g1(data: bytes, what: str, *, check_subgroup: bool = True) -> G1Uncompressed:
    """Decode a compressed G1 point (infinity allowed, as in KZG); ValueError if invalid."""
    if len(data) != BYTES_PER_G1:
        raise ValueError(f"{what} must be {BYTES_PER_G1} bytes, got {len(data)}")
    try:
        point = decompress_G1(G1Compressed(int.from_bytes(data, "big")))
    except ValueError as exc:
        raise ValueError(f"{what} is not a valid G1 point: {exc}") from exc
    if check_subgroup and not subgroup_check(point):
        raise ValueError(f"{what} is not in the G1 subgroup")
    return point


def _parse_g2(data: bytes, what: str) -> G2Uncompressed:
    """Decode a compressed G2 point (trusted-setup input; no subgroup check)."""
    if len(data) != BYTES_PER_G2:
        raise ValueError(f"{what} must be {BYTES_PER_G2} bytes, got {len(data)}")
    z1 = int.from_bytes(data[:48], "big")
    z2 = int.from_bytes(data[48:], "big")
    return decompress_G2(G2Compressed((z1, z2)))


def _hex_bytes(line: str) -> bytes:
    """Decode one hex line of the trusted setup file (an optional 0x prefix is tolerated)."""
    text = line.strip()
    return bytes.fromhex(text[2:] if text.startswith("0x") else text)


class PyEccCellReference:
    """Reference (slow, pure-Python) implementation of the EIP-7594 cell functions.

    Used as a test oracle next to ckzg; every heavy constant is built once here.
    """

    def __init__(self, trusted_setup_path: pathlib.Path) -> None:
        """Load only the setup points the cell functions need (64 G1 monomials, [1]_2, [s^64]_2).

        The 4096 Lagrange and the remaining monomial G1 points are skipped because
        decompressing them with py_ecc would take far longer than every check we run.
        """
        lines = [ln for ln in trusted_setup_path.read_text().splitlines() if ln.strip()]
        if len(lines) < 2:
            raise ValueError("trusted setup file is truncated")
        n_g1, n_g2 = int(lines[0]), int(lines[1])
        if n_g1 != FIELD_ELEMENTS_PER_BLOB or n_g2 != NUM_G2_POINTS:
            raise ValueError(f"unexpected trusted setup sizes: {n_g1} G1, {n_g2} G2")
        g2_start = 2 + n_g1
        g1_monomial_start = g2_start + n_g2
        if len(lines) < g1_monomial_start + n_g1:
            raise ValueError("trusted setup file is missing the G1 monomial points")
        self._g1_monomial: tuple[G1Uncompressed, ...] = tuple(
            _parse_g1(_hex_bytes(lines[g1_monomial_start + i]), "setup G1", check_subgroup=False)
            for i in range(FIELD_ELEMENTS_PER_CELL)
        )
        self._g2_one: G2Uncompressed = _parse_g2(_hex_bytes(lines[g2_start]), "setup [1]_2")
        self._g2_s_cell: G2Uncompressed = _parse_g2(
            _hex_bytes(lines[g2_start + FIELD_ELEMENTS_PER_CELL]), "setup [s^64]_2"
        )
        self._roots_ext = compute_roots_of_unity(FIELD_ELEMENTS_PER_EXT_BLOB)
        self._roots_blob = self._roots_ext[::2]
        self._roots_cell = self._roots_ext[:: FIELD_ELEMENTS_PER_EXT_BLOB // FIELD_ELEMENTS_PER_CELL]
        self._roots_ext_brp = tuple(bit_reversal_permutation(self._roots_ext))

    def coset_shift(self, cell_index: int) -> int:
        """Return h such that cell ``cell_index`` lives on the coset h * brp(roots_64)."""
        if not 0 <= cell_index < CELLS_PER_EXT_BLOB:
            raise ValueError(f"cell index {cell_index} out of range")
        return self._roots_ext_brp[cell_index * FIELD_ELEMENTS_PER_CELL]

    def compute_cells(self, blob: bytes) -> list[bytes]:
        """Return the 128 cells of the rate-1/2 Reed-Solomon extension of ``blob`` (as ckzg)."""
        evals_brp = _bytes_to_field_elements(blob, FIELD_ELEMENTS_PER_BLOB, "blob")
        coeffs = fft_field(bit_reversal_permutation(evals_brp), self._roots_blob, inv=True)
        padded = coeffs + [0] * (FIELD_ELEMENTS_PER_EXT_BLOB - FIELD_ELEMENTS_PER_BLOB)
        ext_brp = bit_reversal_permutation(fft_field(padded, self._roots_ext))
        return [
            _field_elements_to_bytes(ext_brp[i * FIELD_ELEMENTS_PER_CELL : (i + 1) * FIELD_ELEMENTS_PER_CELL])
            for i in range(CELLS_PER_EXT_BLOB)
        ]

    def interpolate_cell(self, cell_index: int, cell: bytes) -> list[int]:
        """Return the monomial coefficients (degree < 64) of the cell's interpolation polynomial.

        Coset point j is h * w64^brp(j), so undoing the bit reversal gives evaluations of
        J(x) = I(h x) on the plain 64th roots; an inverse FFT yields J, and I_m = J_m / h^m.
        """
        shift = self.coset_shift(cell_index)
        ys = _bytes_to_field_elements(cell, FIELD_ELEMENTS_PER_CELL, "cell")
        j_coeffs = fft_field(bit_reversal_permutation(ys), self._roots_cell, inv=True)
        shift_inv = pow(shift, -1, BLS_MODULUS)
        out, factor = [], 1
        for c in j_coeffs:
            out.append(c * factor % BLS_MODULUS)
            factor = factor * shift_inv % BLS_MODULUS
        return out

    def verify_cell_kzg_proof(self, commitment: bytes, cell_index: int, cell: bytes, proof: bytes) -> bool:
        """Check e(proof, [s^64 - h^64]_2) == e(C - [I(s)]_1, [1]_2) for one cell.

        Returns False for a proof that does not verify; raises ValueError for malformed input.
        """
        coeffs = self.interpolate_cell(cell_index, cell)  # validates index and cell first
        c_point = _parse_g1(commitment, "commitment")
        pi_point = _parse_g1(proof, "proof")
        shift = self.coset_shift(cell_index)

        interp_at_s = multiply(self._g1_monomial[0], 0)  # point at infinity
        for point, coeff in zip(self._g1_monomial, coeffs, strict=True):
            if coeff:
                interp_at_s = add(interp_at_s, multiply(point, coeff))
        vanishing_at_s = add(
            self._g2_s_cell,
            neg(multiply(self._g2_one, pow(shift, FIELD_ELEMENTS_PER_CELL, BLS_MODULUS))),
        )
        lhs_g1 = add(c_point, neg(interp_at_s))
        # e(pi, Z(s)) * e(-(C - I(s)), 1) == 1, sharing one final exponentiation.
        product = pairing(vanishing_at_s, pi_point, final_exponentiate=False) * pairing(
            self._g2_one, neg(lhs_g1), final_exponentiate=False
        )
        return bool(final_exponentiate(product) == FQ12.one())

    def verify_cell_proof_batch(
        self,
        commitments: Sequence[bytes],
        columns: Sequence[int],
        cells: Sequence[bytes],
        proofs: Sequence[bytes],
    ) -> bool:
        """`da.kzg.CellVerifier` over single-cell checks, so the oracle can stand in for ckzg.

        Raises `InvalidKZGInput` for malformed input, as the ckzg backend does.
        """
        if not len(commitments) == len(columns) == len(cells) == len(proofs):
            raise InvalidKZGInput("verify_cell_proof_batch", "argument lengths differ")
        try:
            return all(
                self.verify_cell_kzg_proof(commitment, column, cell, proof)
                for commitment, column, cell, proof in zip(commitments, columns, cells, proofs, strict=True)
            )
        except ValueError as error:
            raise InvalidKZGInput("verify_cell_proof_batch", str(error)) from error
