"""specs/sampling.md agrees with the code: its constants, the client defaults and the sample-count table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
