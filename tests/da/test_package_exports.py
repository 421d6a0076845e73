"""`da` loads its public names on first use: every name resolves to the object its module defines,
and importing what a light client uses does not import numpy or the encoder pool (a fresh
interpreter, as `das light check` starts)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import da


@pytest.mark.parametrize("name", da.__all__)
def test_every_public_name_is_its_modules_object(name: str) -> None:
    module = importlib.import_module(da._HOME[name])
    assert getattr(da, name) is getattr(module, name)


def test_dir_lists_every_public_name_and_each_resolves() -> None:
    listed = dir(da)
    assert set(da.__all__) <= set(listed)
    assert listed == sorted(listed)
    for name in da.__all__:
        assert getattr(da, name) is not None


def test_the_type_checkers_imports_are_the_table() -> None:
    """The `if TYPE_CHECKING:` re-exports (what mypy and editors read) name exactly `_MODULES`."""
    tree = ast.parse(Path(da.__file__).read_text())
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    imported: dict[str, list[str]] = {}
    for statement in block.body:
        assert isinstance(statement, ast.ImportFrom) and statement.module is not None
        for alias in statement.names:
            assert alias.asname == alias.name, "an explicit re-export: `from m import X as X`"
            imported.setdefault(statement.module, []).append(alias.name)
    assert {module: tuple(names) for module, names in imported.items()} == da._MODULES


def test_the_table_and_all_list_the_same_names() -> None:
    assert sorted(da._HOME) == da.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = da.nothing  # type: ignore[attr-defined]


def test_a_light_clients_imports_leave_numpy_and_the_pool_out() -> None:
    script = (
        "import sys\n"
        "from da import DAError, verify_samples, compute_data_root\n"
        "import da.lean_verifier\n"
        "print(sorted(m for m in ('numpy', 'da.pool', 'da.encoding') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
