"""Fixtures of the 2D extension's tests: rows of random field elements, encoded once per session, and
the grids of their first R rows (R = 1, 2, 8, 9 share the same nine rows)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from da import CkzgBackend, ExtendedBlob, compute_extended_blob
from da.constants import FIELD_ELEMENTS_PER_ROW, LENGTH_PREFIX_BYTES, USABLE_BYTES_PER_ROW
from da.encoding import EncodedRow, assemble_encoded_blob, encode_row
from da.row_domain import BLS_MODULUS
from da.types import RowBytes

GRID_ROWS = 9
"""Rows encoded for the grids at first use: enough for R = 9 (1 MiB), the largest R the default tests
use (slow tests encode more)."""


def random_row(rng: random.Random) -> RowBytes:
    """A row of uniformly random canonical field elements (not only the packed ones below 2^248, so
    the field arithmetic meets values close to r)."""
    return RowBytes(
        b"".join(rng.randrange(BLS_MODULUS).to_bytes(32, "big") for _ in range(FIELD_ELEMENTS_PER_ROW))
    )


@pytest.fixture(scope="session")
def make_grid(kzg: CkzgBackend) -> Callable[[int], ExtendedBlob]:
    """The grid of the first R of one sequence of encoded random rows, built once per R (the rows
    are encoded on first need: nine, about 2.5 s of ckzg, serve R = 1, 2, 8 and 9). Its header's byte
    length is the most R rows hold: the header is valid and its data root binds the rows, but the
    rows are not a packed blob."""
    rng = random.Random(30)
    rows: list[EncodedRow] = []
    grids: dict[int, ExtendedBlob] = {}

    def make(row_count: int) -> ExtendedBlob:
        while len(rows) < max(row_count, GRID_ROWS):
            rows.append(encode_row(kzg, random_row(rng)))
        if row_count not in grids:
            byte_length = row_count * USABLE_BYTES_PER_ROW - LENGTH_PREFIX_BYTES
            blob = assemble_encoded_blob(byte_length, rows[:row_count])
            grids[row_count] = compute_extended_blob(blob)
        return grids[row_count]

    return make
