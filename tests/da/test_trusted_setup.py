"""A trusted setup that cannot load is a typed error naming the file, never a crash or a half-loaded
backend: missing, empty, garbage, truncated, or one point altered."""

from __future__ import annotations

from pathlib import Path

import pytest

from da.errors import InvalidKZGInput
from da.kzg import PRECOMPUTE_FOR_VERIFYING, default_trusted_setup_path, load_ckzg_backend


def _variants(tmp_path: Path) -> dict[str, Path]:
    text = Path(default_trusted_setup_path()).read_text()
    lines = text.splitlines()
    variants = {
        "missing": tmp_path / "absent.txt",
        "empty": tmp_path / "empty.txt",
        "garbage": tmp_path / "garbage.txt",
        "truncated": tmp_path / "truncated.txt",
        "altered point": tmp_path / "altered.txt",
    }
    variants["empty"].write_text("")
    variants["garbage"].write_text("this is not a trusted setup\n")
    variants["truncated"].write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    altered = list(lines)
    # The first G1 point with its last digit changed: a well-formed file with one wrong point.
    altered[2] = altered[2][:-1] + ("0" if altered[2][-1] != "0" else "1")
    variants["altered point"].write_text("\n".join(altered) + "\n")
    return variants


@pytest.mark.parametrize("case", ["missing", "empty", "garbage", "truncated", "altered point"])
def test_a_bad_trusted_setup_is_a_typed_error_naming_the_file(tmp_path: Path, case: str) -> None:
    path = _variants(tmp_path)[case]
    with pytest.raises(InvalidKZGInput, match="load_trusted_setup") as caught:
        load_ckzg_backend(PRECOMPUTE_FOR_VERIFYING, path)
    assert str(path) in str(caught.value)
