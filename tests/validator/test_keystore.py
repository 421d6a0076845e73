"""EIP-2335 keystores (validator/keystore.py): the EIP's own test vectors, round trips, tampering,
malformed files, atomic writes, password sources, and that no secret or password ever shows in an error."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import stat
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import validator.passwords as passwords_module
from validator.errors import (
    InvalidKeystore,
    KeystoreExists,
    KeystoreNotFound,
    PasswordUnavailable,
    ValidatorError,
    WrongPassword,
)
from validator.keys import CURVE_ORDER, SecretKey
from validator.keystore import (
    KEYSTORE_FILE_MODE,
    MAX_KEYSTORE_FILE_BYTES,
    decrypt_keystore,
    encrypt_keystore,
    get_keystore_pubkey,
    normalize_password,
    read_keystore,
    validate_keystore,
    write_keystore,
)
from validator.passwords import resolve_password

# The test vectors of EIP-2335 ("Test Cases", https://eips.ethereum.org/EIPS/eip-2335), field for field.
EIP2335_PASSWORD = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑"  # noqa: RUF001, S105 (the EIP's password: Fraktur letters on purpose)
EIP2335_ENCODED_PASSWORD = bytes.fromhex("7465737470617373776f7264f09f9491")
EIP2335_SECRET = bytes.fromhex("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
EIP2335_PUBKEY_HEX = (
    "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07"
)
EIP2335_SCRYPT: dict[str, Any] = {
    "crypto": {
        "kdf": {
            "function": "scrypt",
            "params": {
                "dklen": 32,
                "n": 262144,
                "p": 1,
                "r": 8,
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
            },
            "message": "",
        },
        "checksum": {
            "function": "sha256",
            "params": {},
            "message": "d2217fe5f3e9a1e34581ef8a78f7c9928e436d36dacc5e846690a5581e8ea484",
        },
        "cipher": {
            "function": "aes-128-ctr",
            "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
            "message": "06ae90d55fe0a6e9c5c3bc5b170827b2e5cce3929ed3f116c2811e6366dfe20f",
        },
    },
    "description": "This is a test keystore that uses scrypt to secure the secret.",
    "pubkey": EIP2335_PUBKEY_HEX,
    "path": "m/12381/60/3141592653/589793238",
    "uuid": "1d85ae20-35c5-4611-98e8-aa14a633906f",
    "version": 4,
}
EIP2335_PBKDF2: dict[str, Any] = {
    "crypto": {
        "kdf": {
            "function": "pbkdf2",
            "params": {
                "dklen": 32,
                "c": 262144,
                "prf": "hmac-sha256",
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3",
            },
            "message": "",
        },
        "checksum": {
            "function": "sha256",
            "params": {},
            "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1",
        },
        "cipher": {
            "function": "aes-128-ctr",
            "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
            "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad",
        },
    },
    "description": "This is a test keystore that uses PBKDF2 to secure the secret.",
    "pubkey": EIP2335_PUBKEY_HEX,
    "path": "m/12381/60/0/0",
    "uuid": "64625def-3331-4eea-ab6f-782f3ed16a83",
    "version": 4,
}

PASSWORD = "correct horse battery staple ⚡ tessera"  # noqa: S105 (a test password)
SECRET_KEY = SecretKey.from_seed(b"keystore test seed, 32 bytes ok!")
FAST_SCRYPT = {"n": 16, "r": 8, "p": 1}
FAST_PBKDF2 = {"c": 2}
FORBIDDEN = (PASSWORD, normalize_password(PASSWORD).hex(), SECRET_KEY.to_bytes().hex())


def assert_secret_free(error: BaseException, *forbidden: str) -> None:
    """Neither the message, the args nor the repr of `error`, nor of any exception chained to it,
    shows any of `forbidden`."""
    shown = []
    seen: BaseException | None = error
    while seen is not None:  # the error and every exception chained to it
        shown += [*traceback.format_exception_only(seen), repr(seen), repr(seen.args)]
        seen = seen.__cause__ or seen.__context__
    text = "".join(shown)
    for needle in forbidden:
        assert needle.lower() not in text.lower()


@contextlib.contextmanager
def raises_clean(kind: type[ValidatorError], *extra: str) -> Iterator[pytest.ExceptionInfo[ValidatorError]]:
    """`pytest.raises(kind)`, then check the error shows neither the test password nor the secret."""
    with pytest.raises(kind) as info:
        yield info
    assert_secret_free(info.value, *FORBIDDEN, *extra)


def fixed_randbytes(*chunks: bytes) -> Callable[[int], bytes]:
    """A `randbytes` that returns `chunks` in order (checking the requested sizes)."""
    pending = list(chunks)

    def draw(size: int) -> bytes:
        chunk = pending.pop(0)
        assert len(chunk) == size
        return chunk

    return draw


@pytest.fixture
def light_keystore() -> dict[str, Any]:
    return encrypt_keystore(SECRET_KEY, PASSWORD, "pbkdf2", kdf_params=FAST_PBKDF2)


# --- the EIP-2335 test vectors ----------------------------------------------------------------


def test_password_normalization_matches_the_eip() -> None:
    assert normalize_password(EIP2335_PASSWORD) == EIP2335_ENCODED_PASSWORD


def test_password_normalization_strips_control_codes_and_keeps_space() -> None:
    controls = "".join(chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)])
    assert normalize_password(f"a{controls}b c") == b"ab c"
    assert normalize_password("\u00e9") == normalize_password("e\u0301") == "e\u0301".encode()
    assert normalize_password("") == b""


@pytest.mark.parametrize("vector", [EIP2335_SCRYPT, EIP2335_PBKDF2], ids=["scrypt", "pbkdf2"])
def test_eip2335_vectors_decrypt(vector: dict[str, Any]) -> None:
    sk = decrypt_keystore(vector, EIP2335_PASSWORD)
    assert sk.to_bytes() == EIP2335_SECRET
    assert sk.pubkey.hex() == vector["pubkey"]
    assert get_keystore_pubkey(vector) == sk.pubkey
    with raises_clean(WrongPassword, EIP2335_SECRET.hex()) as info:
        decrypt_keystore(vector, "testpassword")  # the key emoji is part of the password
    assert info.value.keystore_uuid == vector["uuid"]


@pytest.mark.parametrize("vector", [EIP2335_SCRYPT, EIP2335_PBKDF2], ids=["scrypt", "pbkdf2"])
def test_eip2335_vectors_are_reproduced_by_encryption(vector: dict[str, Any]) -> None:
    crypto = vector["crypto"]
    params = {k: v for k, v in crypto["kdf"]["params"].items() if k not in {"salt", "prf"}}
    made = encrypt_keystore(
        SecretKey.from_bytes(EIP2335_SECRET),
        EIP2335_PASSWORD,
        crypto["kdf"]["function"],
        kdf_params=params,
        description=vector["description"],
        derivation_path=vector["path"],
        randbytes=fixed_randbytes(
            bytes.fromhex(crypto["kdf"]["params"]["salt"]), bytes.fromhex(crypto["cipher"]["params"]["iv"])
        ),
    )
    assert made["crypto"] == crypto
    assert {k: v for k, v in made.items() if k != "uuid"} == {k: v for k, v in vector.items() if k != "uuid"}


# --- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kdf", "params"), [("scrypt", FAST_SCRYPT), ("pbkdf2", FAST_PBKDF2)])
def test_round_trip(kdf: str, params: dict[str, int]) -> None:
    keystore = encrypt_keystore(SECRET_KEY, PASSWORD, kdf, kdf_params=params, description="node 1")
    assert keystore["version"] == 4
    assert keystore["path"] == ""
    assert keystore["description"] == "node 1"
    assert keystore["pubkey"] == SECRET_KEY.pubkey.hex()
    assert keystore["crypto"]["kdf"]["function"] == kdf
    assert len(bytes.fromhex(keystore["crypto"]["cipher"]["params"]["iv"])) == 16
    assert len(bytes.fromhex(keystore["crypto"]["kdf"]["params"]["salt"])) == 32
    assert decrypt_keystore(keystore, PASSWORD) == SECRET_KEY
    # JSON-serializable, and survives the trip through text.
    assert decrypt_keystore(json.loads(json.dumps(keystore)), PASSWORD) == SECRET_KEY
    text = json.dumps(keystore)
    for needle in FORBIDDEN:
        assert needle not in text


def test_defaults_are_the_eip_parameters() -> None:
    keystore = encrypt_keystore(SECRET_KEY, PASSWORD)
    params = keystore["crypto"]["kdf"]["params"]
    assert (params["n"], params["r"], params["p"], params["dklen"]) == (262144, 8, 1, 32)
    assert decrypt_keystore(keystore, PASSWORD) == SECRET_KEY
    pbkdf2 = encrypt_keystore(SECRET_KEY, PASSWORD, "pbkdf2")["crypto"]["kdf"]["params"]
    assert (pbkdf2["c"], pbkdf2["prf"], pbkdf2["dklen"]) == (262144, "hmac-sha256", 32)


def test_encryption_is_randomized() -> None:
    a = encrypt_keystore(SECRET_KEY, PASSWORD, "pbkdf2", kdf_params=FAST_PBKDF2)
    b = encrypt_keystore(SECRET_KEY, PASSWORD, "pbkdf2", kdf_params=FAST_PBKDF2)
    assert a["uuid"] != b["uuid"]
    assert a["crypto"]["kdf"]["params"]["salt"] != b["crypto"]["kdf"]["params"]["salt"]
    assert a["crypto"]["cipher"]["params"]["iv"] != b["crypto"]["cipher"]["params"]["iv"]


@given(
    scalar=st.integers(min_value=1, max_value=CURVE_ORDER - 1),
    password=st.text(max_size=40),
)
def test_round_trip_property(scalar: int, password: str) -> None:
    sk = SecretKey.from_bytes(scalar.to_bytes(32, "big"))
    keystore = encrypt_keystore(sk, password, "pbkdf2", kdf_params={"c": 2})
    assert decrypt_keystore(keystore, password) == sk


@given(first=st.text(max_size=20), second=st.text(max_size=20))
def test_other_passwords_are_wrong_property(first: str, second: str) -> None:
    keystore = encrypt_keystore(SECRET_KEY, first, "pbkdf2", kdf_params={"c": 2})
    if normalize_password(first) == normalize_password(second):
        assert decrypt_keystore(keystore, second) == SECRET_KEY
    else:
        with pytest.raises(WrongPassword):
            decrypt_keystore(keystore, second)


@pytest.mark.parametrize(
    ("kdf", "params", "message"),
    [
        ("argon2id", None, "unsupported kdf"),
        ("scrypt", {"c": 2}, "unknown scrypt parameter"),
        ("pbkdf2", {"n": 2}, "unknown pbkdf2 parameter"),
        ("scrypt", {"n": 15}, "power of 2"),
        ("scrypt", {"n": 2**24}, "crypto.kdf.params.n"),
        ("pbkdf2", {"c": 0}, "crypto.kdf.params.c"),
        ("pbkdf2", {"dklen": 16}, "crypto.kdf.params.dklen"),
    ],
)
def test_encrypt_rejects_bad_parameters(kdf: str, params: dict[str, int] | None, message: str) -> None:
    with raises_clean(InvalidKeystore) as info:
        encrypt_keystore(SECRET_KEY, PASSWORD, kdf, kdf_params=params)
    assert message in str(info.value)


# --- wrong passwords and tampering ----------------------------------------------------------------


@pytest.mark.parametrize(("kdf", "params"), [("scrypt", FAST_SCRYPT), ("pbkdf2", FAST_PBKDF2)])
def test_wrong_password(kdf: str, params: dict[str, int]) -> None:
    keystore = encrypt_keystore(SECRET_KEY, PASSWORD, kdf, kdf_params=params)
    with raises_clean(WrongPassword, "not the password") as info:
        decrypt_keystore(keystore, "not the password")
    assert keystore["uuid"] in str(info.value)


def test_control_codes_do_not_change_the_password(light_keystore: dict[str, Any]) -> None:
    assert decrypt_keystore(light_keystore, PASSWORD + "\x7f\n") == SECRET_KEY


def _flip(hex_text: str, index: int = 0) -> str:
    data = bytearray.fromhex(hex_text)
    data[index] ^= 0x01
    return data.hex()


@pytest.mark.parametrize("field", ["cipher.message", "checksum.message", "kdf.params.salt"])
def test_tampering_is_a_wrong_password(light_keystore: dict[str, Any], field: str) -> None:
    keystore = copy.deepcopy(light_keystore)
    *parents, leaf = ["crypto", *field.split(".")]
    node = keystore
    for name in parents:
        node = node[name]
    node[leaf] = _flip(node[leaf], 5)
    with raises_clean(WrongPassword):
        decrypt_keystore(keystore, PASSWORD)


def test_tampered_iv_or_pubkey_is_caught_by_the_pubkey_check(light_keystore: dict[str, Any]) -> None:
    # The checksum does not cover the IV: a changed IV decrypts to another scalar, which the declared
    # pubkey then rejects (or which is not even a valid scalar).
    keystore = copy.deepcopy(light_keystore)
    keystore["crypto"]["cipher"]["params"]["iv"] = _flip(keystore["crypto"]["cipher"]["params"]["iv"])
    with raises_clean(InvalidKeystore):
        decrypt_keystore(keystore, PASSWORD)
    keystore = copy.deepcopy(light_keystore)
    keystore["pubkey"] = SecretKey.from_seed(b"another key entirely, 32 bytes!!").pubkey.hex()
    with raises_clean(InvalidKeystore) as info:
        decrypt_keystore(keystore, PASSWORD)
    assert "pubkey does not match" in str(info.value)


# --- malformed keystores ----------------------------------------------------------------------------

MALFORMED: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("no crypto", lambda k: k.pop("crypto"), "missing field crypto"),
    ("no version", lambda k: k.pop("version"), "missing field version"),
    ("no uuid", lambda k: k.pop("uuid"), "missing field uuid"),
    ("no path", lambda k: k.pop("path"), "missing field path"),
    ("no pubkey", lambda k: k.pop("pubkey"), "missing field pubkey"),
    ("version 3", lambda k: k.update(version=3), "unsupported version 3"),
    ("version text", lambda k: k.update(version="4"), "unsupported version '4'"),
    ("version bool", lambda k: k.update(version=True), "unsupported version True"),
    ("crypto list", lambda k: k.update(crypto=[]), "crypto must be an object"),
    ("no kdf", lambda k: k["crypto"].pop("kdf"), "missing field crypto.kdf"),
    ("no checksum", lambda k: k["crypto"].pop("checksum"), "missing field crypto.checksum"),
    ("no cipher", lambda k: k["crypto"].pop("cipher"), "missing field crypto.cipher"),
    ("argon2", lambda k: k["crypto"]["kdf"].update(function="argon2id"), "unsupported crypto.kdf.function"),
    ("sha3", lambda k: k["crypto"]["checksum"].update(function="sha3-256"), "crypto.checksum.function"),
    ("gcm", lambda k: k["crypto"]["cipher"].update(function="aes-256-gcm"), "crypto.cipher.function"),
    ("no message", lambda k: k["crypto"]["kdf"].pop("message"), "missing field crypto.kdf.message"),
    ("params list", lambda k: k["crypto"]["checksum"].update(params=[]), "crypto.checksum.params"),
    ("prf", lambda k: k["crypto"]["kdf"]["params"].update(prf="hmac-sha512"), "prf"),
    ("no c", lambda k: k["crypto"]["kdf"]["params"].pop("c"), "missing field crypto.kdf.params.c"),
    ("c text", lambda k: k["crypto"]["kdf"]["params"].update(c="2"), "params.c must be an integer"),
    ("c huge", lambda k: k["crypto"]["kdf"]["params"].update(c=10**30), "params.c="),
    ("dklen 16", lambda k: k["crypto"]["kdf"]["params"].update(dklen=16), "params.dklen=16"),
    ("salt not hex", lambda k: k["crypto"]["kdf"]["params"].update(salt="zz"), "salt is not hex"),
    ("iv short", lambda k: k["crypto"]["cipher"]["params"].update(iv="00" * 15), "iv is 15 bytes"),
    ("no iv", lambda k: k["crypto"]["cipher"].update(params={}), "missing field crypto.cipher.params.iv"),
    ("ct short", lambda k: k["crypto"]["cipher"].update(message="00" * 31), "cipher.message is 31 bytes"),
    ("checksum short", lambda k: k["crypto"]["checksum"].update(message="00"), "checksum.message is 1"),
    ("pubkey short", lambda k: k.update(pubkey="00" * 47), "pubkey is 47 bytes"),
    ("pubkey bad point", lambda k: k.update(pubkey="01" * 48), "pubkey is not a valid BLS public key"),
    ("uuid", lambda k: k.update(uuid="not-a-uuid"), "uuid is not a UUID"),
    ("description", lambda k: k.update(description=5), "description must be a string"),
]


@pytest.mark.parametrize(
    ("damage", "message"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED]
)
def test_malformed_keystores(
    light_keystore: dict[str, Any], damage: Callable[[dict[str, Any]], object], message: str
) -> None:
    keystore = copy.deepcopy(light_keystore)
    damage(keystore)
    with raises_clean(InvalidKeystore) as info:
        decrypt_keystore(keystore, PASSWORD)
    assert message in str(info.value)
    with raises_clean(InvalidKeystore):
        validate_keystore(keystore)


def test_malformed_scrypt_parameters(light_keystore: dict[str, Any]) -> None:
    keystore = encrypt_keystore(SECRET_KEY, PASSWORD, "scrypt", kdf_params=FAST_SCRYPT)
    for change, message in [
        ({"n": 1000}, "not a power of 2"),
        ({"n": 2**40}, "params.n="),
        ({"n": 2**20, "r": 16}, "params.r="),  # 2 GiB of memory
        ({"p": 0}, "params.p="),
        ({"r": "8"}, "params.r must be an integer"),
    ]:
        damaged = copy.deepcopy(keystore)
        damaged["crypto"]["kdf"]["params"].update(change)
        with raises_clean(InvalidKeystore) as info:
            decrypt_keystore(damaged, PASSWORD)
        assert message in str(info.value)


def test_top_level_must_be_an_object() -> None:
    with raises_clean(InvalidKeystore):
        decrypt_keystore([], PASSWORD)  # type: ignore[arg-type]


# --- files ------------------------------------------------------------------------------------------


def test_write_then_read(tmp_path: Path, light_keystore: dict[str, Any]) -> None:
    path = write_keystore(tmp_path / "keystore.json", light_keystore)
    assert path == tmp_path / "keystore.json"
    assert stat.S_IMODE(path.stat().st_mode) == KEYSTORE_FILE_MODE == 0o600
    assert sorted(os.listdir(tmp_path)) == ["keystore.json"]  # no temporary file left behind
    loaded = read_keystore(path)
    assert loaded == light_keystore
    assert decrypt_keystore(loaded, PASSWORD) == SECRET_KEY


def test_write_mode_ignores_a_permissive_umask(tmp_path: Path, light_keystore: dict[str, Any]) -> None:
    previous = os.umask(0)
    try:
        path = write_keystore(str(tmp_path / "k.json"), light_keystore)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_write_refuses_to_overwrite(tmp_path: Path, light_keystore: dict[str, Any]) -> None:
    path = tmp_path / "keystore.json"
    path.write_text("precious")
    with raises_clean(KeystoreExists) as info:
        write_keystore(path, light_keystore)
    assert info.value.path == str(path)
    assert path.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["keystore.json"]
    write_keystore(path, light_keystore, overwrite=True)
    assert read_keystore(path) == light_keystore
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["keystore.json"]


def test_write_without_hard_links_falls_back(
    tmp_path: Path, light_keystore: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: str, dst: str) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = write_keystore(tmp_path / "k.json", light_keystore)
    assert read_keystore(path) == light_keystore
    with raises_clean(KeystoreExists):
        write_keystore(path, light_keystore)
    assert sorted(os.listdir(tmp_path)) == ["k.json"]


def test_failed_write_leaves_nothing(
    tmp_path: Path, light_keystore: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        write_keystore(tmp_path / "k.json", light_keystore)
    assert os.listdir(tmp_path) == []


def test_write_refuses_invalid_keystores(tmp_path: Path, light_keystore: dict[str, Any]) -> None:
    damaged = copy.deepcopy(light_keystore)
    del damaged["crypto"]
    with raises_clean(InvalidKeystore):
        write_keystore(tmp_path / "k.json", damaged)
    assert os.listdir(tmp_path) == []


def test_read_missing_file(tmp_path: Path) -> None:
    with raises_clean(KeystoreNotFound) as info:
        read_keystore(tmp_path / "absent.json")
    assert "absent.json" in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b"", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[]", "top level must be a JSON object"),
        (b"{}", "missing field"),
        (b" " * (MAX_KEYSTORE_FILE_BYTES + 1), "larger than"),
    ],
)
def test_read_malformed_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "k.json"
    path.write_bytes(content)
    with raises_clean(InvalidKeystore) as info:
        read_keystore(path)
    assert message in str(info.value)
    assert info.value.path == str(path)


def test_read_a_directory(tmp_path: Path) -> None:
    with raises_clean(InvalidKeystore) as info:
        read_keystore(tmp_path)
    assert "cannot read file" in str(info.value)


def test_read_reports_the_bad_field_with_the_path(tmp_path: Path, light_keystore: dict[str, Any]) -> None:
    damaged = copy.deepcopy(light_keystore)
    damaged["crypto"]["kdf"]["function"] = "argon2id"
    path = tmp_path / "k.json"
    path.write_text(json.dumps(damaged))
    with raises_clean(InvalidKeystore) as info:
        read_keystore(path)
    assert str(path) in str(info.value)
    assert "crypto.kdf.function" in str(info.value)


# --- passwords ----------------------------------------------------------------------------------------


class FakeTTY:
    def isatty(self) -> bool:
        return True


def prompts(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Pretend stdin is a terminal whose user types `answers`; returns the prompts shown."""
    shown: list[str] = []
    pending = list(answers)

    def fake_getpass(prompt: str = "") -> str:
        shown.append(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    monkeypatch.setattr(sys, "stdin", FakeTTY())
    monkeypatch.setattr(passwords_module.getpass, "getpass", fake_getpass)
    return shown


@pytest.mark.parametrize(
    ("content", "password"),
    [
        (PASSWORD + "\n", PASSWORD),
        (PASSWORD + "\n\n", PASSWORD + "\n"),
        (PASSWORD + "\r\n", PASSWORD),
        (PASSWORD, PASSWORD),
        (" spaced \n", " spaced "),
        ("", ""),
    ],
)
def test_password_file_strips_one_newline(tmp_path: Path, content: str, password: str) -> None:
    path = tmp_path / "password.txt"
    path.write_bytes(content.encode())
    assert resolve_password(password_file=path) == password
    assert resolve_password(password_file=str(path), prompt=False) == password


def test_precedence_file_then_env_then_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "password.txt"
    path.write_text("from file\n")
    monkeypatch.setenv("TESSERA_TEST_PASSWORD", "from env")
    shown = prompts(monkeypatch, "from prompt")
    assert resolve_password(password_file=path, env_var="TESSERA_TEST_PASSWORD") == "from file"
    assert resolve_password(env_var="TESSERA_TEST_PASSWORD") == "from env"
    assert shown == []
    monkeypatch.delenv("TESSERA_TEST_PASSWORD")
    assert resolve_password(env_var="TESSERA_TEST_PASSWORD") == "from prompt"
    assert len(shown) == 1


def test_empty_environment_variable_is_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_TEST_PASSWORD", "")
    assert resolve_password(env_var="TESSERA_TEST_PASSWORD", prompt=False) == ""


def test_configured_but_missing_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_TEST_PASSWORD", PASSWORD)
    with raises_clean(PasswordUnavailable) as info:
        resolve_password(password_file=tmp_path / "absent.txt", env_var="TESSERA_TEST_PASSWORD")
    assert "absent.txt" in str(info.value)
    with raises_clean(PasswordUnavailable):
        resolve_password(password_file=tmp_path)  # a directory


def test_non_utf8_password_file_leaks_nothing(tmp_path: Path) -> None:
    path = tmp_path / "password.txt"
    path.write_bytes(b"secret\xe9pw\n")
    with raises_clean(PasswordUnavailable, "secret", "\\xe9", "0xe9") as info:
        resolve_password(password_file=path)
    assert info.value.__context__ is None
    assert "not UTF-8" in str(info.value)


def test_prompt_with_confirmation(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = prompts(monkeypatch, PASSWORD, PASSWORD)
    assert resolve_password(confirm=True) == PASSWORD
    assert len(shown) == 2
    prompts(monkeypatch, PASSWORD, PASSWORD + "typo")
    with raises_clean(PasswordUnavailable, "typo") as info:
        resolve_password(confirm=True)
    assert "do not match" in str(info.value)
    prompts(monkeypatch)
    with raises_clean(PasswordUnavailable) as info:
        resolve_password()
    assert "end of input" in str(info.value)


def test_no_tty_and_nothing_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TESSERA_TEST_PASSWORD", raising=False)

    class NotATTY:
        def isatty(self) -> bool:
            return False

    monkeypatch.setattr(sys, "stdin", NotATTY())
    with raises_clean(PasswordUnavailable) as info:
        resolve_password(env_var="TESSERA_TEST_PASSWORD")
    assert "no TTY" in str(info.value)
    assert "TESSERA_TEST_PASSWORD is not set" in str(info.value)
    monkeypatch.setattr(sys, "stdin", None)
    with raises_clean(PasswordUnavailable):
        resolve_password()


def test_prompt_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = prompts(monkeypatch, PASSWORD)
    with raises_clean(PasswordUnavailable) as info:
        resolve_password(prompt=False)
    assert "prompting is disabled" in str(info.value)
    assert shown == []
