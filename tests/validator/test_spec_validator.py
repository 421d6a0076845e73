"""specs/validator.md and specs/consensus.md agree with the code.

From validator.md: the Presets table against `validator.presets.MAINNET` / `DEVNET` (every field of
`Preset` except `name`, both directions), the Domains table against `validator.signing`, and every
other `| Name | Value | Description |` table against `validator.certificate`, `validator.keys`,
`validator.keystore`, `validator.registry` (whose STAKE_ACTIVATION_DELAY_EPOCHS must be listed) and
the payments modules (`validator.payments.promise`, `.sqlite_escrow`, `validator.daemon.payments`),
fair admission's `validator.daemon.admission` and `validator.daemon.api.accounts`.
From consensus.md: every `log2 bound` figure is recomputed with
`compute_custody_failure_bound`, the 2D table's with the columns the 2D grid's decoder needs (and a
coverage chain of its own), and every invariant id has a heading or a bold label.

Values are evaluated with the safe integer evaluator of tests/test_spec_das_core.py (literals and
+ - * // ** only, never `eval`); a leading minus sign is handled here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

from da.constants import CELLS_NEEDED_TO_RECOVER_ROW, CELLS_PER_ROW
from tests.da.test_spec_das_core import evaluate_integer_expression
from tests.sampling.grid2d import Grid, cell_functionals, is_determined
from validator import certificate, keys, keystore, registry, signing
from validator.daemon import admission
from validator.daemon import payments as node_payments
from validator.daemon.api import accounts
from validator.payments import promise, sqlite_escrow
from validator.presets import DEVNET, MAINNET, PRESETS, Preset, get_preset
from validator.security import compute_custody_failure_bound

SPECS = Path(__file__).resolve().parents[2] / "specs"
VALIDATOR_SPEC = SPECS / "validator.md"
CONSENSUS_SPEC = SPECS / "consensus.md"

PRESET_HEADER = ("Name", "mainnet", "devnet", "Description")
CONSTANT_HEADER = ("Name", "Value", "Description")
BOUND_HEADER = ("Preset", "Q", "C", "t", "max a", "log2 bound")
SIZE_HEADER = ("Preset", "Q", "t", "max a", "log2 bound")
INVARIANT_IDS = ("S1", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9", "L1", "L2")
CONSTANT_MODULES: tuple[ModuleType, ...] = (
    certificate,
    keys,
    keystore,
    registry,
    promise,
    sqlite_escrow,
    node_payments,
    admission,
    accounts,
)
"""Where the names of validator.md's constant tables (other than DOMAIN_*) are defined."""
CERTIFICATE_CONSTANTS = ("MAX_QUORUM_SLOTS", "CERTIFICATE_FIXED_BYTES", "MAX_CERTIFICATE_SSZ_BYTES")
REGISTRY_CONSTANTS = ("STAKE_ACTIVATION_DELAY_EPOCHS",)
PRESET_OBJECTS = {"mainnet": MAINNET, "devnet": DEVNET}


# --- Parsing ---------------------------------------------------------------------------------------


def read_spec(path: Path) -> str:
    if not path.is_file():
        pytest.fail(f"{path} is missing")
    return path.read_text(encoding="utf-8")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _unquote(cell: str) -> str:
    return cell.strip().strip("`").strip()


def _is_separator(cells: list[str]) -> bool:
    return all(set(cell) <= set("-: ") for cell in cells)


def parse_tables(text: str, header: tuple[str, ...]) -> list[list[list[str]]]:
    """Every markdown table whose header row is exactly `header`, as lists of unquoted rows."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            current = None
            continue
        cells = _cells(line)
        if tuple(cells) == header:
            current = []
            tables.append(current)
            continue
        if current is None or _is_separator(cells):
            continue
        if len(cells) != len(header):
            pytest.fail(f"table row does not have {len(header)} columns: {line!r}")
        current.append([_unquote(cell) for cell in cells])
    return tables


def evaluate_signed(text: str) -> int:
    """An integer expression, optionally preceded by one minus sign (e.g. `-40`)."""
    stripped = text.strip()
    if stripped.startswith("-"):
        return -evaluate_integer_expression(stripped[1:])
    return evaluate_integer_expression(stripped)


def rows_by_name(rows: list[list[str]], what: str) -> dict[str, list[str]]:
    named: dict[str, list[str]] = {}
    for row in rows:
        if row[0] in named:
            pytest.fail(f"{what}: {row[0]} appears twice")
        named[row[0]] = row
    return named


@pytest.fixture(scope="module")
def validator_spec() -> str:
    return read_spec(VALIDATOR_SPEC)


@pytest.fixture(scope="module")
def consensus_spec() -> str:
    return read_spec(CONSENSUS_SPEC)


@pytest.fixture(scope="module")
def preset_rows(validator_spec: str) -> dict[str, list[str]]:
    tables = parse_tables(validator_spec, PRESET_HEADER)
    if len(tables) != 1:
        pytest.fail(f"expected exactly one '| {' | '.join(PRESET_HEADER)} |' table, found {len(tables)}")
    if not tables[0]:
        pytest.fail("the Presets table of validator.md has no rows")
    return rows_by_name(tables[0], "Presets table")


@pytest.fixture(scope="module")
def constant_rows(validator_spec: str) -> dict[str, str]:
    rows = [row for table in parse_tables(validator_spec, CONSTANT_HEADER) for row in table]
    if not rows:
        pytest.fail(f"no '| {' | '.join(CONSTANT_HEADER)} |' rows in {VALIDATOR_SPEC}")
    return {name: row[1] for name, row in rows_by_name(rows, "constant tables").items()}


def _bound_rows(consensus_spec: str, header: tuple[str, ...]) -> list[list[str]]:
    tables = parse_tables(consensus_spec, header)
    if len(tables) != 1 or not tables[0]:
        pytest.fail(f"expected one non-empty '| {' | '.join(header)} |' table in {CONSENSUS_SPEC}")
    return tables[0]


def _log2_figure(bound: Fraction) -> float:
    return round(math.log2(bound), 1)


_BOUNDS: dict[tuple[str, int], Fraction] = {}


def custody_bound(preset: Preset, quorum_slots: int) -> Fraction:
    """compute_custody_failure_bound, memoised (mainnet takes seconds)."""
    key = (preset.name, quorum_slots)
    if key not in _BOUNDS:
        _BOUNDS[key] = compute_custody_failure_bound(preset, quorum_slots)
    return _BOUNDS[key]


# --- The parsers themselves ------------------------------------------------------------------------


def test_parser_finds_only_tables_with_the_exact_header() -> None:
    text = "\n".join(
        [
            "| Name | Value | Description |",
            "| - | - | - |",
            "| `A` | `2**3` | a |",
            "",
            "| Name | SSZ equivalent | Description |",
            "| - | - | - |",
            "| `B` | `uint64` | b |",
            "",
            "| Name | Value | Description |",
            "| --- | :-: | --- |",
            "| `C` | `-4` | c |",
        ]
    )
    tables = parse_tables(text, CONSTANT_HEADER)
    assert tables == [[["A", "2**3", "a"]], [["C", "-4", "c"]]]
    assert evaluate_signed("-4") == -4
    assert evaluate_signed("32 * 10**9") == 32_000_000_000
    for bad in ("--4", "- -4", "x", "-2.0"):
        with pytest.raises(ValueError, match=r"."):
            evaluate_signed(bad)


# --- validator.md: Presets -------------------------------------------------------------------------


def test_presets_table_names_every_preset_field_and_nothing_else(preset_rows: dict[str, list[str]]) -> None:
    fields = {field.name for field in dataclasses.fields(Preset)} - {"name"}
    missing = sorted(fields - set(preset_rows))
    extra = sorted(set(preset_rows) - fields)
    assert not missing, f"Preset fields missing from validator.md's Presets table: {missing}"
    assert not extra, f"rows of validator.md's Presets table that are not Preset fields: {extra}"


@pytest.mark.parametrize("column", [1, 2], ids=["mainnet", "devnet"])
def test_presets_table_values_equal_the_code(preset_rows: dict[str, list[str]], column: int) -> None:
    preset = PRESET_OBJECTS[PRESET_HEADER[column]]
    differing = {}
    for name, row in preset_rows.items():
        try:
            value = evaluate_signed(row[column])
        except ValueError as error:
            pytest.fail(f"Presets table, {name} ({preset.name}): {error}")
        if value != getattr(preset, name):
            differing[name] = (value, getattr(preset, name))
    assert not differing, f"{preset.name}: spec value != code value (spec, code): {differing}"


def test_presets_table_covers_every_preset() -> None:
    assert set(PRESET_HEADER[1:3]) == set(PRESETS), "the Presets table needs one column per preset"


# --- validator.md: Domains and constants -----------------------------------------------------------


def test_domains_table_equals_validator_signing(constant_rows: dict[str, str]) -> None:
    code = {name: value for name, value in vars(signing).items() if name.startswith("DOMAIN_")}
    assert code, "validator.signing defines no DOMAIN_* constant"
    spec = {name: text for name, text in constant_rows.items() if name.startswith("DOMAIN_")}
    assert set(spec) == set(code), f"domains: spec {sorted(spec)} != code {sorted(code)}"
    for name, text in spec.items():
        assert re.fullmatch(r"0x[0-9a-fA-F]{8}", text), f"{name}: {text!r} is not 0x + 4 hex bytes"
        assert bytes.fromhex(text[2:]) == code[name], f"{name}: spec {text} != code 0x{code[name].hex()}"


def _code_value(name: str) -> object:
    for module in CONSTANT_MODULES:
        if hasattr(module, name):
            return getattr(module, name)
    pytest.fail(f"validator.md names {name}, which none of {[m.__name__ for m in CONSTANT_MODULES]} defines")


def test_constant_tables_equal_the_code(constant_rows: dict[str, str]) -> None:
    checked = {name: text for name, text in constant_rows.items() if not name.startswith("DOMAIN_")}
    assert checked, "validator.md has no constant rows besides the domains"
    differing = {}
    for name, text in checked.items():
        try:
            value = evaluate_signed(text)
        except ValueError as error:
            pytest.fail(f"constant {name}: {error}")
        if value != _code_value(name):
            differing[name] = (value, _code_value(name))
    assert not differing, f"spec value != code value (spec, code): {differing}"


def test_certificate_constants_are_all_in_the_spec(constant_rows: dict[str, str]) -> None:
    missing = [name for name in CERTIFICATE_CONSTANTS if name not in constant_rows]
    assert not missing, f"validator.md's Constants table lacks {missing}"
    upper = sorted(name for name in vars(certificate) if name.isupper() and not name.startswith("_"))
    assert set(upper) <= set(constant_rows), f"validator.certificate constants not in the spec: {upper}"


def test_registry_constants_are_in_the_spec_with_the_code_value(constant_rows: dict[str, str]) -> None:
    for name in REGISTRY_CONSTANTS:
        assert name in constant_rows, f"validator.md's constant tables lack {name}"
        value = evaluate_signed(constant_rows[name])
        assert value == getattr(registry, name), f"{name}: spec {value}, code {getattr(registry, name)}"
    upper = sorted(name for name in vars(registry) if name.isupper() and not name.startswith("_"))
    assert set(upper) <= set(constant_rows), f"validator.registry constants not in the spec: {upper}"


def test_certificate_sizes_follow_from_the_layout() -> None:
    assert certificate.CERTIFICATE_FIXED_BYTES == 32 + 8 + 8 + 4 + keys.BLS_SIGNATURE_BYTES
    assert certificate.MAX_CERTIFICATE_SSZ_BYTES == (
        certificate.CERTIFICATE_FIXED_BYTES + certificate.MAX_QUORUM_SLOTS // 8 + 1
    )
    for preset in PRESETS.values():
        assert 2 * preset.QUORUM_SLOTS - 1 <= certificate.MAX_QUORUM_SLOTS, preset.name
        assert preset.MAX_QUORUM_SLOTS <= certificate.MAX_QUORUM_SLOTS, preset.name


# --- consensus.md ----------------------------------------------------------------------------------


def test_every_invariant_has_a_heading_or_bold_label(consensus_spec: str) -> None:
    for invariant in INVARIANT_IDS:
        heading = re.search(rf"^#{{2,6}}\s+`?{invariant}\b", consensus_spec, re.MULTILINE)
        bold = re.search(rf"\*\*`?{invariant}\b", consensus_spec)
        assert heading or bold, f"consensus.md has no heading or bold label for {invariant}"


def test_bound_table_matches_compute_custody_failure_bound(consensus_spec: str) -> None:
    rows = rows_by_name(_bound_rows(consensus_spec, BOUND_HEADER), "bound table")
    assert set(rows) == set(PRESETS), f"bound table rows {sorted(rows)} != presets {sorted(PRESETS)}"
    for name, row in rows.items():
        preset = get_preset(name)
        quorum_slots, columns, threshold, adversarial = (int(cell) for cell in row[1:5])
        assert quorum_slots == preset.QUORUM_SLOTS, name
        assert columns == preset.CUSTODY_COLUMNS_PER_SLOT, name
        assert threshold == preset.certificate_threshold(quorum_slots), name
        assert adversarial == quorum_slots // 3, name
        bound = custody_bound(preset, quorum_slots)
        assert float(row[5]) == _log2_figure(bound), f"{name}: spec {row[5]}, code {_log2_figure(bound)}"
        assert math.log2(bound) < preset.CUSTODY_FAILURE_LOG2_MAX, name


def _size_rows(consensus_spec: str) -> list[list[str]]:
    rows = _bound_rows(consensus_spec, SIZE_HEADER)
    presets = {row[0] for row in rows}
    assert presets == set(PRESETS), f"quorum-size table covers {sorted(presets)}, not {sorted(PRESETS)}"
    return rows


def _check_size_row(row: list[str]) -> None:
    preset = get_preset(row[0])
    quorum_slots, threshold, adversarial = (int(cell) for cell in row[1:4])
    assert threshold == preset.certificate_threshold(quorum_slots), row
    assert adversarial == quorum_slots // 3, row
    figure = _log2_figure(custody_bound(preset, quorum_slots))
    assert float(row[4]) == figure, f"{row[0]} Q={quorum_slots}: spec {row[4]}, code {figure}"


def test_quorum_size_table_small_quorums(consensus_spec: str) -> None:
    """Rows that are cheap to recompute: devnet sizes and each preset's own QUORUM_SLOTS."""
    rows = [
        row
        for row in _size_rows(consensus_spec)
        if row[0] == DEVNET.name or int(row[1]) == get_preset(row[0]).QUORUM_SLOTS
    ]
    assert rows, "no devnet rows in the quorum-size table"
    for row in rows:
        _check_size_row(row)


@pytest.mark.slow
def test_quorum_size_table_large_mainnet_quorums(consensus_spec: str) -> None:
    rows = [
        row
        for row in _size_rows(consensus_spec)
        if row[0] != DEVNET.name and int(row[1]) != get_preset(row[0]).QUORUM_SLOTS
    ]
    assert rows, "no mainnet rows beyond QUORUM_SLOTS in the quorum-size table"
    for row in rows:
        _check_size_row(row)


# --- The 2D extension: the bound recomputed on the 2R x 128 grid --------------------------------

TWO_D_HEADER = ("Preset", "Q", "C", "t", "max a", "whole columns needed in the 2R x 128 grid", "log2 bound")
TWO_D_ROW_COUNTS = (1, 2, 9, 64, 265)
"""Original row counts whose 2D grids are decoded: 1, 2 rows, 1 MiB, today's largest, 32 MiB."""


def _whole_columns_needed(original_rows: int) -> int:
    """Fewest whole columns (all 2R cells each) from which row/column decoding rebuilds the grid;
    every count below fails and every count from it on succeeds (checked)."""
    grid = Grid(original_rows, CELLS_NEEDED_TO_RECOVER_ROW)
    everything = (1 << grid.cells) - 1
    held, rebuilt = 0, []
    for column in range(grid.columns + 1):
        rebuilt.append(grid.stuck(everything & ~held) == 0)
        if column < grid.columns:
            held |= grid.column_masks[column]
    needed = rebuilt.index(True)
    assert all(rebuilt[needed:]), f"R={original_rows}: more columns lost the grid again"
    return needed


def _bound_from_threshold(preset: Preset, quorum_slots: int, needed: int) -> Fraction:
    """max over a of comb(Q - a, t - a) * P(t - a random C-subsets cover < `needed` columns), with
    the coverage chain run once up to t slots (an independent recomputation of the figure)."""
    threshold = preset.certificate_threshold(quorum_slots)
    columns, total = preset.CUSTODY_COLUMNS_PER_SLOT, CELLS_PER_ROW
    draws = math.comb(total, columns)
    distribution = [Fraction(0)] * (total + 1)
    distribution[0] = Fraction(1)
    undercovered = [Fraction(1)]  # after 0 slots nothing is covered
    for _ in range(threshold):
        following = [Fraction(0)] * (total + 1)
        for covered, probability in enumerate(distribution):
            if probability:
                for new in range(max(0, columns - covered), min(columns, total - covered) + 1):
                    ways = math.comb(total - covered, new) * math.comb(covered, columns - new)
                    following[covered + new] += probability * Fraction(ways, draws)
        distribution = following
        undercovered.append(sum(distribution[:needed], Fraction(0)))
    worst = max(
        math.comb(quorum_slots - a, threshold - a) * undercovered[threshold - a]
        for a in range(quorum_slots // 3 + 1)
    )
    return min(worst, Fraction(1))


def test_2d_whole_column_custody_needs_64_columns_at_every_row_count() -> None:
    for original_rows in TWO_D_ROW_COUNTS:
        assert _whole_columns_needed(original_rows) == CELLS_NEEDED_TO_RECOVER_ROW, original_rows


@pytest.mark.parametrize(("original_rows", "half_width"), [(1, 2), (2, 2), (3, 1), (2, 3)])
def test_whole_columns_determine_a_small_2d_grid_iff_half_of_them_are_held(
    original_rows: int, half_width: int
) -> None:
    """By rank over the BLS12-381 field with `da.row_domain`'s coefficients (not the decoder)."""
    grid = Grid(original_rows, half_width)
    forms = cell_functionals(grid)
    for subset in range(1 << grid.columns):
        held = 0
        for column in range(grid.columns):
            if subset >> column & 1:
                held |= grid.column_masks[column]
        assert is_determined(forms, held) == (subset.bit_count() >= half_width), bin(subset)


def test_any_r_cells_of_half_the_columns_determine_a_small_2d_grid() -> None:
    """Partial-column custody: R of each column's 2R cells in m of the 2m columns suffice."""
    grid = Grid(2, 2)
    forms = cell_functionals(grid)
    row_choices = list(itertools.combinations(range(grid.rows), grid.original_rows))
    for columns in itertools.combinations(range(grid.columns), grid.half_width):
        for rows in itertools.product(row_choices, repeat=len(columns)):
            held = sum(
                1 << (row * grid.columns + column)
                for column, chosen in zip(columns, rows, strict=True)
                for row in chosen
            )
            assert is_determined(forms, held), (columns, rows)
            assert grid.stuck(((1 << grid.cells) - 1) & ~held) == 0


def test_the_2d_bound_table_is_recomputed_on_the_grid(consensus_spec: str) -> None:
    rows = rows_by_name(_bound_rows(consensus_spec, TWO_D_HEADER), "2D bound table")
    assert set(rows) == set(PRESETS), f"2D bound table rows {sorted(rows)} != presets {sorted(PRESETS)}"
    needed = {_whole_columns_needed(r) for r in TWO_D_ROW_COUNTS}
    assert len(needed) == 1, f"columns needed depend on R: {needed}"
    (columns_needed,) = needed
    for name, row in rows.items():
        preset = get_preset(name)
        quorum_slots, columns, threshold, adversarial, spec_needed = (int(cell) for cell in row[1:6])
        assert quorum_slots == preset.QUORUM_SLOTS, name
        assert columns == preset.CUSTODY_COLUMNS_PER_SLOT, name
        assert threshold == preset.certificate_threshold(quorum_slots), name
        assert adversarial == quorum_slots // 3, name
        assert spec_needed == columns_needed, name
        bound = _bound_from_threshold(preset, quorum_slots, columns_needed)
        assert float(row[6]) == _log2_figure(bound), (
            f"{name}: spec {row[6]}, recomputed {_log2_figure(bound)}"
        )
        assert math.log2(bound) < preset.CUSTODY_FAILURE_LOG2_MAX, name
        if columns_needed == CELLS_NEEDED_TO_RECOVER_ROW:  # then it is the 1D bound, exactly
            assert bound == custody_bound(preset, quorum_slots), name
