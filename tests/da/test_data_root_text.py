"""`hex_to_data_root`: the one parser of data roots people type and URLs carry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from da.errors import InvalidDataRoot
from da.header import hex_to_data_root


@given(st.binary(min_size=32, max_size=32), st.sampled_from(["", "0x", "0X"]), st.booleans())
def test_every_spelling_of_a_root_parses_to_it(root: bytes, prefix: str, upper: bool) -> None:
    digits = root.hex().upper() if upper else root.hex()
    assert hex_to_data_root(f" {prefix}{digits}\n") == root


@pytest.mark.parametrize(
    "text",
    [
        "",
        "0x",
        "0x" + "ab" * 31,
        "0x" + "ab" * 33,
        "0x" + "zz" * 32,
        "0x" + "ab " * 31 + "ab",
        "0xx" + "ab" * 32,
    ],
)
def test_anything_else_is_a_typed_error(text: str) -> None:
    with pytest.raises(InvalidDataRoot, match="is not a data root") as caught:
        hex_to_data_root(text)
    assert caught.value.text == text
