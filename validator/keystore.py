"""EIP-2335 keystores (version 4) for BLS secret keys, and where their passwords come from.

A keystore is a JSON object: `crypto` holds three modules (`function`, `params`, `message`):
`kdf` (scrypt or pbkdf2 with hmac-sha256) derives a 32-byte decryption key from the password,
`checksum` is SHA-256(decryption_key[16:32] | cipher.message), and `cipher` is AES-128-CTR under
decryption_key[0:16] with a random 16-byte IV. Beside it: `pubkey`, `path`, `uuid`, `description`
and `version`. Passwords are NFKD-normalized, stripped of C0/C1/Delete control codes, UTF-8 encoded.

Nothing here writes a secret key or a password into an error, a log or a repr.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from validator.errors import (
    InvalidKeyMaterial,
    InvalidKeystore,
    KeystoreExists,
    KeystoreNotFound,
    WrongPassword,
)
from validator.keys import BLS_PUBKEY_BYTES, BLS_SECRET_KEY_BYTES, BLSPubkey, SecretKey, bytes_to_pubkey

Keystore = dict[str, Any]
"""An EIP-2335 keystore as its JSON object."""

KEYSTORE_VERSION = 4
SCRYPT_DEFAULT_PARAMS: Mapping[str, int] = {"n": 2**18, "r": 8, "p": 1, "dklen": 32}
PBKDF2_DEFAULT_PARAMS: Mapping[str, int] = {"c": 2**18, "dklen": 32}
SALT_BYTES = 32
IV_BYTES = 16
# The decryption key must cover the AES-128 key (bytes 0..16) and the checksum slice (16..32).
MIN_DKLEN = 32
MAX_DKLEN = 64
# Bounds on work a keystore may demand, so a hostile file cannot exhaust memory or time.
MAX_SCRYPT_MEMORY_BYTES = 2**30  # 128 * n * r; the default (n=2^18, r=8) uses 256 MiB
MAX_SCRYPT_P = 16
MAX_PBKDF2_ITERATIONS = 2**24
MAX_KEYSTORE_FILE_BYTES = 64 * 1024
KEYSTORE_FILE_MODE = 0o600

_CONTROL_CODEPOINTS = frozenset([*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)])


@dataclass(frozen=True, slots=True)
class _ScryptParams:
    n: int
    r: int
    p: int
    dklen: int
    salt: bytes


@dataclass(frozen=True, slots=True)
class _Pbkdf2Params:
    c: int
    dklen: int
    salt: bytes


@dataclass(frozen=True, slots=True)
class _ParsedKeystore:
    kdf: _ScryptParams | _Pbkdf2Params
    checksum: bytes
    iv: bytes
    ciphertext: bytes
    pubkey: BLSPubkey
    uuid: str


def normalize_password(password: str) -> bytes:
    """The EIP-2335 password bytes: NFKD, then C0, C1 and Delete control codes removed, then UTF-8."""
    normalized = unicodedata.normalize("NFKD", password)
    return "".join(ch for ch in normalized if ord(ch) not in _CONTROL_CODEPOINTS).encode("utf-8")


# --- parsing: every check names the field ------------------------------------------------------


def _field(obj: Mapping[str, Any], key: str, where: str) -> object:
    if key not in obj:
        raise InvalidKeystore(f"missing field {where}{key}")
    return obj[key]


def _mapping(obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = _field(obj, key, where)
    if not isinstance(value, Mapping):
        raise InvalidKeystore(f"field {where}{key} must be an object")
    return value


def _string(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = _field(obj, key, where)
    if not isinstance(value, str):
        raise InvalidKeystore(f"field {where}{key} must be a string")
    return value


def _integer(obj: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int:
    value = _field(obj, key, where)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidKeystore(f"field {where}{key} must be an integer")
    if not low <= value <= high:
        raise InvalidKeystore(f"field {where}{key}={value} is outside [{low}, {high}]")
    return value


def _hex(obj: Mapping[str, Any], key: str, where: str, length: int | None = None) -> bytes:
    text = _string(obj, key, where)
    try:
        data = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidKeystore(f"field {where}{key} is not hex") from None
    if length is not None and len(data) != length:
        raise InvalidKeystore(f"field {where}{key} is {len(data)} bytes, expected {length}")
    return data


def _module(crypto: Mapping[str, Any], name: str, function: tuple[str, ...]) -> Mapping[str, Any]:
    module = _mapping(crypto, name, "crypto.")
    found = _string(module, "function", f"crypto.{name}.")
    if found not in function:
        supported = ", ".join(function)
        raise InvalidKeystore(f"unsupported crypto.{name}.function {found!r} (supported: {supported})")
    _mapping(module, "params", f"crypto.{name}.")
    _string(module, "message", f"crypto.{name}.")
    return module


def _parse_kdf(module: Mapping[str, Any]) -> _ScryptParams | _Pbkdf2Params:
    where = "crypto.kdf.params."
    params = _mapping(module, "params", "crypto.kdf.")
    salt = _hex(params, "salt", where)
    dklen = _integer(params, "dklen", where, MIN_DKLEN, MAX_DKLEN)
    if module["function"] == "scrypt":
        n = _integer(params, "n", where, 2, MAX_SCRYPT_MEMORY_BYTES // 128)
        if n & (n - 1):
            raise InvalidKeystore(f"field {where}n={n} is not a power of 2")
        r = _integer(params, "r", where, 1, MAX_SCRYPT_MEMORY_BYTES // (128 * n))
        p = _integer(params, "p", where, 1, MAX_SCRYPT_P)
        return _ScryptParams(n=n, r=r, p=p, dklen=dklen, salt=salt)
    prf = _string(params, "prf", where)
    if prf != "hmac-sha256":
        raise InvalidKeystore(f"unsupported {where}prf {prf!r} (supported: hmac-sha256)")
    c = _integer(params, "c", where, 1, MAX_PBKDF2_ITERATIONS)
    return _Pbkdf2Params(c=c, dklen=dklen, salt=salt)


def _parse_keystore(keystore: Mapping[str, Any]) -> _ParsedKeystore:
    if not isinstance(keystore, Mapping):
        raise InvalidKeystore("top level must be a JSON object")
    version = _field(keystore, "version", "")
    if version != KEYSTORE_VERSION or isinstance(version, bool):
        raise InvalidKeystore(f"unsupported version {version!r} (supported: {KEYSTORE_VERSION})")
    crypto = _mapping(keystore, "crypto", "")
    kdf = _parse_kdf(_module(crypto, "kdf", ("scrypt", "pbkdf2")))
    checksum = _hex(_module(crypto, "checksum", ("sha256",)), "message", "crypto.checksum.", 32)
    cipher = _module(crypto, "cipher", ("aes-128-ctr",))
    iv = _hex(cipher["params"], "iv", "crypto.cipher.params.", IV_BYTES)
    ciphertext = _hex(cipher, "message", "crypto.cipher.", BLS_SECRET_KEY_BYTES)
    try:
        pubkey = bytes_to_pubkey(_hex(keystore, "pubkey", "", BLS_PUBKEY_BYTES))
    except InvalidKeyMaterial:
        raise InvalidKeystore("field pubkey is not a valid BLS public key") from None
    _string(keystore, "path", "")
    keystore_uuid = _string(keystore, "uuid", "")
    try:
        uuid.UUID(keystore_uuid)
    except ValueError:
        raise InvalidKeystore("field uuid is not a UUID") from None
    if not isinstance(keystore.get("description", ""), str):
        raise InvalidKeystore("field description must be a string")
    return _ParsedKeystore(kdf, checksum, iv, ciphertext, pubkey, keystore_uuid)


def validate_keystore(keystore: Mapping[str, Any]) -> None:
    """Raise `InvalidKeystore`, naming the field, unless `keystore` is a well-formed supported keystore."""
    _parse_keystore(keystore)


def get_keystore_pubkey(keystore: Mapping[str, Any]) -> BLSPubkey:
    """The public key a (validated) keystore declares, without needing its password."""
    return _parse_keystore(keystore).pubkey


# --- the cryptography ---------------------------------------------------------------------------


def _derive_key(kdf: _ScryptParams | _Pbkdf2Params, password: bytes) -> bytes:
    if isinstance(kdf, _ScryptParams):
        return Scrypt(salt=kdf.salt, length=kdf.dklen, n=kdf.n, r=kdf.r, p=kdf.p).derive(password)
    return PBKDF2HMAC(hashes.SHA256(), length=kdf.dklen, salt=kdf.salt, iterations=kdf.c).derive(password)


def _checksum(decryption_key: bytes, ciphertext: bytes) -> bytes:
    return hashlib.sha256(decryption_key[16:32] + ciphertext).digest()


def _aes_128_ctr(decryption_key: bytes, iv: bytes, data: bytes) -> bytes:
    # CTR mode: encryption and decryption are the same keystream XOR.
    context = Cipher(algorithms.AES(decryption_key[:16]), modes.CTR(iv)).encryptor()
    return context.update(data) + context.finalize()


def encrypt_keystore(
    sk: SecretKey,
    password: str,
    kdf: str = "scrypt",
    *,
    kdf_params: Mapping[str, int] | None = None,
    description: str = "",
    derivation_path: str = "",
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
) -> Keystore:
    """An EIP-2335 keystore holding `sk` under `password`.

    `kdf` is "scrypt" (default n=2^18, r=8, p=1) or "pbkdf2" (default c=2^18, hmac-sha256);
    `kdf_params` overrides those defaults (tests pass a small n or c). `randbytes` draws the salt
    then the IV; keep the default outside tests.
    """
    defaults = {"scrypt": SCRYPT_DEFAULT_PARAMS, "pbkdf2": PBKDF2_DEFAULT_PARAMS}.get(kdf)
    if defaults is None:
        raise InvalidKeystore(f"unsupported kdf {kdf!r} (supported: scrypt, pbkdf2)")
    overrides = dict(kdf_params or {})
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise InvalidKeystore(f"unknown {kdf} parameter(s): {', '.join(unknown)}")
    params: dict[str, object] = {**defaults, **overrides, "salt": randbytes(SALT_BYTES).hex()}
    if kdf == "pbkdf2":
        params["prf"] = "hmac-sha256"
    kdf_module = {"function": kdf, "params": params, "message": ""}
    parsed_kdf = _parse_kdf(kdf_module)
    iv = randbytes(IV_BYTES)
    decryption_key = _derive_key(parsed_kdf, normalize_password(password))
    ciphertext = _aes_128_ctr(decryption_key, iv, sk.to_bytes())
    checksum = _checksum(decryption_key, ciphertext)
    return {
        "crypto": {
            "kdf": kdf_module,
            "checksum": {"function": "sha256", "params": {}, "message": checksum.hex()},
            "cipher": {"function": "aes-128-ctr", "params": {"iv": iv.hex()}, "message": ciphertext.hex()},
        },
        "description": description,
        "pubkey": sk.pubkey.hex(),
        "path": derivation_path,
        "uuid": str(uuid.uuid4()),
        "version": KEYSTORE_VERSION,
    }


def decrypt_keystore(keystore: Mapping[str, Any], password: str) -> SecretKey:
    """The secret key in `keystore`. Raises `WrongPassword` on a checksum mismatch, `InvalidKeystore`
    if the keystore is malformed or its secret does not match its `pubkey`."""
    parsed = _parse_keystore(keystore)
    decryption_key = _derive_key(parsed.kdf, normalize_password(password))
    if not hmac.compare_digest(_checksum(decryption_key, parsed.ciphertext), parsed.checksum):
        raise WrongPassword(parsed.uuid)
    try:
        sk = SecretKey.from_bytes(_aes_128_ctr(decryption_key, parsed.iv, parsed.ciphertext))
    except InvalidKeyMaterial:
        raise InvalidKeystore("decrypted secret is not a valid BLS secret key") from None
    if sk.pubkey != parsed.pubkey:
        raise InvalidKeystore("field pubkey does not match the decrypted secret key")
    return sk


# --- files -----------------------------------------------------------------------------------


def read_keystore(path: str | os.PathLike[str]) -> Keystore:
    """The keystore in the JSON file at `path`, validated (`KeystoreNotFound`, `InvalidKeystore`)."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_KEYSTORE_FILE_BYTES + 1)
    except FileNotFoundError:
        raise KeystoreNotFound(name) from None
    except OSError as error:
        raise InvalidKeystore(f"cannot read file ({error.strerror})", name) from None
    if len(raw) > MAX_KEYSTORE_FILE_BYTES:
        raise InvalidKeystore(f"file is larger than {MAX_KEYSTORE_FILE_BYTES} bytes", name)
    try:
        keystore = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidKeystore("file is not UTF-8", name) from None
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise InvalidKeystore(f"not JSON ({error.msg} at {where})", name) from None
    if not isinstance(keystore, dict):
        raise InvalidKeystore("top level must be a JSON object", name)
    try:
        _parse_keystore(keystore)
    except InvalidKeystore as error:
        raise InvalidKeystore(error.reason, name) from None
    return keystore


def write_keystore(
    path: str | os.PathLike[str], keystore: Mapping[str, Any], *, overwrite: bool = False
) -> Path:
    """Write `keystore` to `path` atomically with mode 0600; `KeystoreExists` if the file exists and
    `overwrite` is False. Writes a temporary file beside it, fsyncs it, then links or renames it."""
    _parse_keystore(keystore)
    target = Path(path)
    data = (json.dumps(keystore, indent=2) + "\n").encode("utf-8")
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, KEYSTORE_FILE_MODE)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        _publish(temp_name, target, overwrite=overwrite)
        _fsync_directory(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    return target


def _publish(temp_name: str, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp_name, target)
        return
    try:
        os.link(temp_name, target)  # atomic, and fails if the target exists: no check-then-act race
    except FileExistsError:
        raise KeystoreExists(str(target)) from None
    except OSError:
        # A file system without hard links: fall back to check-then-rename.
        if os.path.lexists(target):
            raise KeystoreExists(str(target)) from None
        os.replace(temp_name, target)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
