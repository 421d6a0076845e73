"""specs/sampling.md agrees with the code: its constants, the client defaults, the sample-count table and
the 2D bound's table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from da.constants import MAX_ROWS_PER_BLOB
from da.row_count import compute_row_count
from sampling import confidence
from sampling.client import defaults
from tests.da.test_spec_das_core import evaluate_integer_expression, get_section, parse_constant_tables

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "sampling.md"


@pytest.fixture(scope="module")
def spec_text() -> str:
    if not SPEC_PATH.is_file():
        pytest.fail(f"{SPEC_PATH} is missing: it is the normative home of the sampling constants")
    return SPEC_PATH.read_text(encoding="utf-8")


def test_constants_match_the_code(spec_text: str) -> None:
    rows = parse_constant_tables(get_section(spec_text, "Constants"))
    assert rows, "no constants table"
    for name, text in rows.items():
        assert getattr(confidence, name) == evaluate_integer_expression(text), name
    assert set(rows) == {"MIN_CELLS_WITHHELD"}


def test_client_defaults_match_the_code_both_ways(spec_text: str) -> None:
    rows = parse_constant_tables(get_section(spec_text, "Client defaults"))
    in_code = {name for name in vars(defaults) if name.isupper()}
    assert set(rows) == in_code
    for name, text in rows.items():
        assert getattr(defaults, name) == ast.literal_eval(text), name


def test_the_sample_count_table_is_what_the_formula_gives(spec_text: str) -> None:
    section = get_section(spec_text, "The threat and the formula")
    lines = [line for line in section.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(lines) == 5
    for line in lines:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows = int(cells[0].split()[0])
        assert int(cells[1]) == rows * 128
        for target, text in zip((0.99, 0.9999, 1 - 1e-9), cells[2:], strict=True):
            assert confidence.compute_samples_needed(rows, target) == int(text), (rows, target)


def test_served_column_figures_in_the_prose(spec_text: str) -> None:
    assert "148 for\n`s = 128`, 164 for `s = 115`" in spec_text
    assert confidence.compute_samples_needed(9, 0.9999, 115) == 164
    assert confidence.compute_min_cells_withheld(128) == confidence.MIN_CELLS_WITHHELD


TWO_D_HEADER = (
    "blob size",
    "R",
    "grid cells `N`",
    "withheld `w`",
    "k for 0.9999",
    "k for 0.999999",
    "k for 0.9999, 115 of 128 columns served",
    "1D k for 0.9999",
    "1D k for 0.999999",
)
SIZE_UNITS = {"KiB": 1024, "MiB": 1024 * 1024}


def test_the_2d_table_is_what_the_code_gives(spec_text: str) -> None:
    """Every figure of "The 2D bound": R from the packing rule, N, w, and the samples for each target,
    2D and 1D, recomputed from `sampling.confidence` and `da.row_count`."""
    section = get_section(spec_text, "The 2D bound")
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = tuple(cell.strip() for cell in lines[0].strip("|").split("|"))
    assert header == TWO_D_HEADER
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[0] for row in rows] == ["128 KiB", "1 MiB", "8 MiB", "32 MiB"]
    for row in rows:
        number, unit = row[0].split()
        original_rows = compute_row_count(int(number) * SIZE_UNITS[unit])
        expected = [
            original_rows,
            2 * original_rows * 128,
            confidence.compute_min_cells_withheld_2d(original_rows),
            confidence.compute_samples_needed_2d(original_rows, 0.9999),
            confidence.compute_samples_needed_2d(original_rows, 0.999999),
            confidence.compute_samples_needed_2d(original_rows, 0.9999, served=115),
            confidence.compute_samples_needed(original_rows, 0.9999),
            confidence.compute_samples_needed(original_rows, 0.999999),
        ]
        assert [int(cell) for cell in row[1:]] == expected, row[0]


def test_the_2d_figures_in_the_prose(spec_text: str) -> None:
    section = get_section(spec_text, "The 2D bound")
    prose = " ".join(section.split())
    assert (
        "(`R = 64`: 31 and 47, and 36 with 115 columns served; `R = 512`, the largest row count "
        "(`MAX_ROWS_PER_BLOB`): 32 and 48, and 36 with 115 columns served; "
        "the limit of large `R`: 32 and 48.)" in prose
    )
    assert confidence.compute_samples_needed_2d(64, 0.9999) == 31
    assert confidence.compute_samples_needed_2d(64, 0.999999) == 47
    assert confidence.compute_samples_needed_2d(64, 0.9999, served=115) == 36
    assert MAX_ROWS_PER_BLOB == 512
    assert confidence.compute_samples_needed_2d(512, 0.9999) == 32
    assert confidence.compute_samples_needed_2d(512, 0.999999) == 48
    assert confidence.compute_samples_needed_2d(512, 0.9999, served=115) == 36
    assert confidence.compute_samples_needed_2d(10**6, 0.9999) == 32
    assert confidence.compute_samples_needed_2d(10**6, 0.999999) == 48
    assert "`(1 - 65/256)^k <= 10^-4` at `k = 32`" in prose
    assert (1 - 65 / 256) ** 32 <= 1e-4 < (1 - 65 / 256) ** 31
    assert "(13 for 0.9999)" in prose
    assert (
        confidence.compute_samples_needed_2d(1, 0.9999) == confidence.compute_samples_needed(1, 0.9999) == 13
    )
    # Every R up to 64, then a spread up to the limit: the 1D bound costs about a second per R near 512.
    for original_rows in (*range(2, 65), 128, 265, MAX_ROWS_PER_BLOB - 1, MAX_ROWS_PER_BLOB):
        for target in (0.99, 0.9999, 0.999999):
            two_d = confidence.compute_samples_needed_2d(original_rows, target)
            assert two_d <= confidence.compute_samples_needed(original_rows, target), (original_rows, target)
