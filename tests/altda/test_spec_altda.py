"""specs/altda.md agrees with the code: every row of its Constants table is the value of that name in
`altda`, and every drop code of its status table is a `DropCode`."""

from __future__ import annotations

import re
from pathlib import Path

from altda import commitment, derivation, payload
from altda.derivation import DropCode

SPEC = Path(__file__).resolve().parents[2] / "specs" / "altda.md"
MODULES = (commitment, payload, derivation)


def _constants() -> dict[str, str]:
    text = SPEC.read_text()
    section = text.split("## Constants", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z0-9_]+)` \| `([^`]+)` \|", section, flags=re.MULTILINE)
    assert rows, "no constants table in specs/altda.md"
    return dict(rows)


def test_the_constants_table_matches_the_code() -> None:
    for name, value in _constants().items():
        holders = [module for module in MODULES if hasattr(module, name)]
        assert holders, f"{name} is in specs/altda.md but defined nowhere in altda"
        assert getattr(holders[0], name) == int(value, 0), name


def test_the_drop_codes_are_the_specs() -> None:
    text = SPEC.read_text()
    listed = re.search(r"1 parse failed, 2 recency failed, 3 invalid certificate, 4 blob decode failed", text)
    assert listed is not None
    assert [int(code) for code in DropCode] == [1, 2, 3, 4]
    assert [code.name for code in DropCode] == ["PARSE", "RECENCY", "INVALID_CERTIFICATE", "DECODE"]
