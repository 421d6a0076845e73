"""Ethereum accounts of operators and daemons: eth-account's encrypted JSON keystores (the Web3 Secret
Storage format geth and every wallet read), so a validator's transaction key is never on disk in the
clear. The BLS key signs protocol messages; this key only pays for and signs transactions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from eth_account import Account
from eth_account.signers.local import LocalAccount

from validator.errors import InvalidKeystore, KeystoreExists, KeystoreNotFound, WrongPassword

LIGHT_KDF_ITERATIONS: Final = 2**12
"""scrypt n for throwaway devnet accounts (the default, 2**18, takes about a second per account)."""


def create_account_keystore(
    path: Path, password: str, *, private_key: str | None = None, light_kdf: bool = False
) -> LocalAccount:
    """Write a new (or `private_key`'s) account encrypted with `password` to `path` (mode 0600);
    refuses to overwrite (`KeystoreExists`)."""
    account: LocalAccount = Account.from_key(private_key) if private_key else Account.create()
    encrypted = Account.encrypt(
        account.key, password, kdf="scrypt", iterations=LIGHT_KDF_ITERATIONS if light_kdf else None
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as error:
        raise KeystoreExists(str(path)) from error
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(encrypted, handle)
    return account


def load_account(path: Path, password: str) -> LocalAccount:
    """The account in the keystore at `path`; `WrongPassword` or `InvalidKeystore` say what failed."""
    try:
        encrypted: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise KeystoreNotFound(str(path)) from error
    except (OSError, ValueError) as error:
        raise InvalidKeystore(f"not an Ethereum keystore: {error}", str(path)) from error
    if not isinstance(encrypted, dict) or "crypto" not in {key.lower() for key in encrypted}:
        raise InvalidKeystore("not an Ethereum keystore (no crypto section)", str(path))
    try:
        key = Account.decrypt(encrypted, password)
    except ValueError as error:
        if "MAC mismatch" in str(error):
            raise WrongPassword() from error
        raise InvalidKeystore(str(error), str(path)) from error
    account: LocalAccount = Account.from_key(key)
    return account
