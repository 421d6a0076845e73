"""specs/das-core.md agrees with the code: its constant tables, wire sizes and the relations between them.

The Constants table is parsed out of the spec and each value is evaluated with a small AST
evaluator (integer literals and + - * // ** only, never `eval`), then compared with `da.constants`
in both directions. Relations between constants are asserted here rather than only stated in prose.
"""

from __future__ import annotations

import ast
import dataclasses
import operator
from collections.abc import Callable
from pathlib import Path

import pytest

from da import constants as da_constants
from da import header as da_header
from da import merkle as da_merkle
from da import samples as da_samples
from da.row_count import compute_row_count
from da.types import BlobHeader, RowIndex

SPEC_PATH = Path(__file__).resolve().parents[2] / "specs" / "das-core.md"
TABLE_HEADER = ("Name", "Value", "Description")
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001
"""The BLS12-381 scalar field modulus (EIP-4844 `BLS_MODULUS`)."""

_OPERATORS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Pow: operator.pow,
}
_MAX_EXPONENT = 256


# --- Parsing the spec -----------------------------------------------------------------------------


def evaluate_integer_expression(text: str) -> int:
    """Value of an integer expression of literals and + - * // ** (no names, calls or other operators)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"not an expression: {text!r}") from error
    return _evaluate_node(tree.body, text)


def _evaluate_node(node: ast.expr, text: str) -> int:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left = _evaluate_node(node.left, text)
        right = _evaluate_node(node.right, text)
        if isinstance(node.op, ast.Pow) and not 0 <= right <= _MAX_EXPONENT:
            raise ValueError(f"exponent {right} out of range in {text!r}")
        if isinstance(node.op, ast.FloorDiv) and right == 0:
            raise ValueError(f"division by zero in {text!r}")
        return _OPERATORS[type(node.op)](left, right)
    raise ValueError(f"unsupported element {ast.dump(node)} in {text!r}")


def read_spec() -> str:
    """The text of specs/das-core.md; fails the test clearly if it is missing."""
    if not SPEC_PATH.is_file():
        pytest.fail(f"{SPEC_PATH} is missing: it is the normative home of the DA constants")
    return SPEC_PATH.read_text(encoding="utf-8")


def get_section(text: str, title: str) -> str:
    """The body of the `## {title}` section (its ### subsections included), up to the next `## `."""
    lines = text.splitlines()
    heading = f"## {title}"
    try:
        start = next(index for index, line in enumerate(lines) if line.strip() == heading)
    except StopIteration:
        pytest.fail(f"{SPEC_PATH.name} has no '{heading}' section")
    body: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        body.append(line)
    return "\n".join(body)


def _split_row(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _unquote(cell: str) -> str:
    return cell.strip().strip("`").strip()


def parse_constant_tables(section: str) -> dict[str, str]:
    """Every `| Name | Value | Description |` row of the section, as name -> value text."""
    rows: dict[str, str] = {}
    in_table = False
    for line in section.splitlines():
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = _split_row(line)
        if tuple(cells[: len(TABLE_HEADER)]) == TABLE_HEADER:
            in_table = True
            continue
        if not in_table or all(set(cell) <= set("-: ") for cell in cells):
            continue
        if len(cells) != len(TABLE_HEADER):
            pytest.fail(f"constant row does not have {len(TABLE_HEADER)} columns: {line!r}")
        name, value = _unquote(cells[0]), _unquote(cells[1])
        if name in rows:
            pytest.fail(f"constant {name} appears twice in the spec")
        rows[name] = value
    return rows


@pytest.fixture(scope="module")
def spec_text() -> str:
    return read_spec()


@pytest.fixture(scope="module")
def spec_constants(spec_text: str) -> dict[str, int]:
    """The Constants tables of the spec, evaluated; fails if they are missing or empty."""
    rows = parse_constant_tables(get_section(spec_text, "Constants"))
    if not rows:
        pytest.fail(f"no '| Name | Value | Description |' rows found under '## Constants' in {SPEC_PATH}")
    values: dict[str, int] = {}
    for name, text in rows.items():
        try:
            values[name] = evaluate_integer_expression(text)
        except ValueError as error:
            pytest.fail(f"spec constant {name}: {error}")
    return values


@pytest.fixture(scope="module")
def spec_wire_sizes(spec_text: str) -> dict[str, int]:
    """The size table of the spec's Wire encoding section, evaluated."""
    rows = parse_constant_tables(get_section(spec_text, "Wire encoding"))
    if not rows:
        pytest.fail(f"no '| Name | Value | Description |' rows under '## Wire encoding' in {SPEC_PATH}")
    return {name: evaluate_integer_expression(text) for name, text in rows.items()}


def code_constants() -> dict[str, object]:
    """Every public UPPER_CASE name of `da.constants`."""
    return {
        name: value
        for name, value in vars(da_constants).items()
        if name.isupper() and not name.startswith("_")
    }


# --- The evaluator itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4096", 4096),
        ("2**21", 2_097_152),
        ("4096 * 31", 126_976),
        ("64 * 4096 * 31 - 8", 8_126_456),
        ("128 // 2", 64),
        ("(8 + 8) * 2", 32),
        ("2_048", 2048),
    ],
)
def test_evaluator_accepts_integer_arithmetic(text: str, expected: int) -> None:
    assert evaluate_integer_expression(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CELLS_PER_ROW",
        "__import__('os')",
        "2.0",
        "True",
        "1 / 2",
        "1 << 3",
        "-1",
        "2**100000",
        "1 // 0",
        "'7'",
        "[1]",
        "1,2",
        "",
    ],
)
def test_evaluator_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        evaluate_integer_expression(text)


def test_parser_finds_tables_only_under_their_heading() -> None:
    text = "\n".join(
        [
            "## Constants",
            "",
            "| Name | Value | Description |",
            "| - | - | - |",
            "| `A` | `2**3` | a |",
            "",
            "### Sub",
            "| Name | Value | Description |",
            "| --- | :-: | --- |",
            "| `B` | `4 * 5` | b |",
            "## Other",
            "| Name | Value | Description |",
            "| - | - | - |",
            "| `C` | `1` | c |",
        ]
    )
    assert parse_constant_tables(get_section(text, "Constants")) == {"A": "2**3", "B": "4 * 5"}


# --- Spec <-> code, both directions ----------------------------------------------------------------


def test_spec_constants_equal_code(spec_constants: dict[str, int]) -> None:
    code = code_constants()
    missing = sorted(name for name in spec_constants if name not in code)
    assert not missing, f"constants in the spec but not in da.constants: {missing}"
    differing = {name: (value, code[name]) for name, value in spec_constants.items() if code[name] != value}
    assert not differing, f"spec value != code value (spec, code): {differing}"


def test_every_code_constant_is_in_the_spec(spec_constants: dict[str, int]) -> None:
    undocumented = sorted(set(code_constants()) - set(spec_constants))
    assert not undocumented, f"da.constants names missing from the spec's Constants table: {undocumented}"


def test_wire_sizes_equal_code(spec_wire_sizes: dict[str, int]) -> None:
    assert "SAMPLE_BYTES" in spec_wire_sizes, "the spec's Wire encoding table must state SAMPLE_BYTES"
    assert spec_wire_sizes["SAMPLE_BYTES"] == da_samples.SAMPLE_BYTES
    assert "MAX_HEADER_BYTES" in spec_wire_sizes, "the spec's Wire encoding table must state MAX_HEADER_BYTES"
    assert spec_wire_sizes["MAX_HEADER_BYTES"] == da_header.MAX_HEADER_BYTES


# --- Relations between constants -------------------------------------------------------------------


c = da_constants


def test_cells_extend_a_row_at_rate_one_half() -> None:
    assert c.BYTES_PER_CELL == c.FIELD_ELEMENTS_PER_CELL * c.BYTES_PER_FIELD_ELEMENT
    assert c.BYTES_PER_ROW == c.FIELD_ELEMENTS_PER_ROW * c.BYTES_PER_FIELD_ELEMENT
    assert c.BYTES_PER_CELL * c.CELLS_PER_ROW == 2 * c.BYTES_PER_ROW
    assert c.CELLS_NEEDED_TO_RECOVER_ROW * c.FIELD_ELEMENTS_PER_CELL == c.FIELD_ELEMENTS_PER_ROW


def test_packing_keeps_every_element_canonical() -> None:
    assert c.USABLE_BYTES_PER_FIELD_ELEMENT == c.BYTES_PER_FIELD_ELEMENT - 1
    assert 256**c.USABLE_BYTES_PER_FIELD_ELEMENT < BLS_MODULUS
    assert c.USABLE_BYTES_PER_ROW == c.FIELD_ELEMENTS_PER_ROW * c.USABLE_BYTES_PER_FIELD_ELEMENT


def test_max_supported_blob_bytes_is_what_the_rows_hold() -> None:
    assert c.MAX_SUPPORTED_BLOB_BYTES == (
        c.MAX_ROWS_PER_BLOB * c.USABLE_BYTES_PER_ROW - c.LENGTH_PREFIX_BYTES
    )
    assert compute_row_count(c.MAX_SUPPORTED_BLOB_BYTES) == c.MAX_ROWS_PER_BLOB
    assert compute_row_count(c.MAX_SUPPORTED_BLOB_BYTES + 1) == c.MAX_ROWS_PER_BLOB + 1
    assert c.MAX_SUPPORTED_BLOB_BYTES < 2 ** (8 * c.LENGTH_PREFIX_BYTES)
    assert 1 <= c.DEFAULT_MAX_BLOB_BYTES <= c.MAX_SUPPORTED_BLOB_BYTES


def test_branch_depth_follows_from_the_header_shape() -> None:
    rows = c.MAX_ROWS_PER_BLOB
    assert rows > 0
    assert rows & (rows - 1) == 0, "MAX_ROWS_PER_BLOB must be a power of two (get_commitment_gindex)"
    ceil_log2_fields = (c.BLOB_HEADER_FIELD_COUNT - 1).bit_length()
    log2_rows = rows.bit_length() - 1
    assert ceil_log2_fields + 1 + log2_rows == c.COMMITMENT_BRANCH_DEPTH


def test_header_field_count_and_position_match_the_container() -> None:
    names = [field.name for field in dataclasses.fields(BlobHeader)]
    assert len(names) == c.BLOB_HEADER_FIELD_COUNT
    assert names.index("row_commitments") == da_merkle.ROW_COMMITMENTS_FIELD_INDEX


def test_commitment_gindex_is_6144_plus_row_at_branch_depth() -> None:
    assert da_merkle.get_commitment_gindex(RowIndex(0)) == 6144
    for row in range(c.MAX_ROWS_PER_BLOB):
        gindex = da_merkle.get_commitment_gindex(RowIndex(row))
        assert gindex == 6144 + row
        assert gindex.bit_length() - 1 == c.COMMITMENT_BRANCH_DEPTH


def test_wire_sizes_follow_from_the_constants(spec_wire_sizes: dict[str, int]) -> None:
    sample_bytes = (
        8
        + 8
        + c.BYTES_PER_CELL
        + c.BYTES_PER_PROOF
        + c.BYTES_PER_COMMITMENT
        + c.COMMITMENT_BRANCH_DEPTH * c.BYTES_PER_ROOT
    )
    assert spec_wire_sizes["SAMPLE_BYTES"] == sample_bytes
    assert spec_wire_sizes["MAX_HEADER_BYTES"] == 8 + 8 + 4 + c.MAX_ROWS_PER_BLOB * c.BYTES_PER_COMMITMENT
