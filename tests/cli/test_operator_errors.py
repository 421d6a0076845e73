"""What an operator sees when `das validator run` or `das validator stake` cannot go on: the real
command, its exit code (2: usage) and the message that says what to fix; nothing starts, nothing
changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import PASSWORD, das
from validator.keystore import get_keystore_pubkey, read_keystore
from validator.registry.sqlite import SqliteRegistry


def _config(tmp_path: Path, network: Path, **fields: str) -> Path:
    values = {
        "registry": str(network / "registry.sqlite"),
        "keystore": str(network / "keys" / "validator-0.json"),
        "data_dir": str(tmp_path / "node"),
        "password_env": "TESSERA_TEST_PW",
        **fields,
    }
    path = tmp_path / "node.toml"
    path.write_text("".join(f'{key} = "{value}"\n' for key, value in values.items()))
    return path


def _run(config: Path) -> tuple[int, str]:
    result = das("validator", "run", "--config", str(config), cwd=config.parent)
    return result.returncode, result.stderr


def test_a_config_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "node.toml"
    config.write_text('registry = "unterminated\n')
    code, message = _run(config)
    assert code == 2 and "invalid daemon config config" in message and str(config) in message, message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"unknown_key": "1"}, "unknown keys"),
        ({"registry": "nowhere.sqlite"}, "invalid daemon config registry: "),
        ({"log_format": "xml"}, "invalid daemon config log_format: must be json or console"),
        ({"encoder_workers": "many"}, "invalid daemon config encoder_workers: 'many': give \"auto\""),
        ({"max_queued_blobs": "0"}, "invalid daemon config max_queued_blobs: must be 1..1024"),
    ],
)
def test_a_config_with_a_bad_field_names_it(
    network: Path, tmp_path: Path, fields: dict[str, str], expected: str
) -> None:
    code, message = _run(_config(tmp_path, network, **fields))
    assert code == 2 and expected in message, message
    assert not (tmp_path / "node").exists()  # refused before anything was created


def test_a_wrong_password_is_refused_without_quoting_it(network: Path, tmp_path: Path) -> None:
    password_file = tmp_path / "wrong.txt"
    password_file.write_text("not the password\n")
    config = _config(tmp_path, network, password_file=str(password_file))
    code, message = _run(config)
    assert code == 2 and "checksum mismatch (wrong password" in message, message
    assert "not the password" not in message


def test_a_key_that_is_not_registered_is_told_to_stake(network: Path, tmp_path: Path) -> None:
    made = das(
        "validator", "keygen", "--out", "stray.json", "--light-kdf", "--password-env", "TESSERA_TEST_PW",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    code, message = _run(_config(tmp_path, network, keystore=str(tmp_path / "stray.json")))
    assert code == 2 and "its key is not registered: stake it with `das validator stake`" in message, message


def test_stake_with_a_wrong_password_registers_nothing(network: Path, tmp_path: Path) -> None:
    made = das(
        "validator", "keygen", "--out", "new.json", "--light-kdf", "--password-env", "TESSERA_TEST_PW",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    (tmp_path / "wrong.txt").write_text(PASSWORD + " but not quite\n")
    registry = network / "registry.sqlite"
    pubkey = get_keystore_pubkey(read_keystore(tmp_path / "new.json"))
    result = das(
        "validator", "stake", "--registry", str(registry), "--keystore", "new.json",
        "--amount", "32000000000", "--password-file", "wrong.txt", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "checksum mismatch (wrong password" in result.stderr, result.stderr
    with SqliteRegistry(registry) as after:
        assert after.find_validator(pubkey) is None  # not registered


def test_blob_commands_against_a_node_that_is_not_there_exit_2(tmp_path: Path) -> None:
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"tessera")
    root = "0x" + "ab" * 32
    node = ("--node", "http://127.0.0.1:9")  # the discard port: nothing answers HTTP there
    for args in (("post", str(blob)), ("status", root), ("get", root, "-o", str(tmp_path / "out"))):
        result = das("blob", *args, *node, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "das: error: unreachable: cannot reach http://127.0.0.1:9" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


def test_a_node_store_of_another_protocol_stops_the_daemon_with_the_fix(
    network: Path, tmp_path: Path
) -> None:
    """A data dir written before the header tree changed (no `max_rows_per_blob` in its store's meta):
    `das validator run` exits 2 naming the file and what to do, and leaves the file as it was."""
    from validator.daemon.store import HEADER_TREE_KEY, NodeStore  # noqa: PLC0415

    store_path = tmp_path / "node" / "node.sqlite"
    NodeStore(store_path).close()
    old = sqlite3.connect(store_path)
    with old:
        old.execute("DELETE FROM meta WHERE key = ?", (HEADER_TREE_KEY,))
    old.close()
    before = store_path.read_bytes()
    code, message = _run(_config(tmp_path, network))
    assert code == 2, message
    assert f"the node store {store_path} was written by another protocol version" in message, message
    assert "Start with a new data_dir, or move the old one aside" in message, message
    assert store_path.read_bytes() == before
