"""Types of the native module built from `_scalar_field.c` (see its comments for the algorithm)."""

def to_montgomery(values: bytes, /) -> bytes:
    """Each 32-byte little-endian canonical element x as x * 2^256 mod p; ValueError otherwise."""

def interpolate_cells(
    cells: bytes, columns: bytes, powers: bytes, twiddles: bytes, unshift: bytes, /
) -> bytes:
    """The 64 coefficients of sum_k powers[k] * I_k(X), 32-byte little-endian; ValueError for bad input."""

def combine_cells(cells: bytes, coefficients: bytes, /) -> bytes:
    """N cells, cell n = sum_k coefficients[n][k] * cells[k] (coefficients in Montgomery form, row n
    first); ValueError for no cells, a non-canonical value or inconsistent lengths."""

def extend_cells(cells: bytes, /) -> bytes:
    """K cells Q(K)..Q(2K-1) of a column from its K cells Q(0)..Q(K-1) (forward differences, element by
    element); ValueError for no cells, a bad length or a non-canonical value."""
