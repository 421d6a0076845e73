"""Where a keystore password comes from: a password file, an environment variable, or a prompt on
the terminal, in that order. No error message ever quotes a password or a byte of one."""

from __future__ import annotations

import getpass
import os
import sys

from validator.errors import PasswordUnavailable


def resolve_password(
    *,
    password_file: str | os.PathLike[str] | None = None,
    env_var: str | None = None,
    prompt: bool = True,
    confirm: bool = False,
) -> str:
    """The keystore password from, in order: `password_file` (one trailing newline stripped), the
    environment variable `env_var` if set, an interactive prompt on a TTY (asked twice if `confirm`).

    A configured password file that cannot be read is an error, not a fall-through.
    Raises `PasswordUnavailable` when no source yields a password.
    """
    if password_file is not None:
        return _read_password_file(password_file)
    if env_var is not None:
        from_env = os.environ.get(env_var)
        if from_env is not None:
            return from_env
    if not prompt:
        raise PasswordUnavailable(_nothing_configured(env_var, "prompting is disabled"))
    if sys.stdin is None or not sys.stdin.isatty():
        raise PasswordUnavailable(_nothing_configured(env_var, "there is no TTY to prompt on"))
    try:
        password = getpass.getpass("Keystore password: ")
        if confirm and getpass.getpass("Repeat the password: ") != password:
            raise PasswordUnavailable("the passwords entered at the prompt do not match")
    except EOFError:
        raise PasswordUnavailable("end of input at the password prompt") from None
    return password


def _nothing_configured(env_var: str | None, why: str) -> str:
    env = f"environment variable {env_var} is not set" if env_var else "no environment variable given"
    return f"no password file given, {env}, and {why}"


def _read_password_file(password_file: str | os.PathLike[str]) -> str:
    name = os.fspath(password_file)
    try:
        with open(password_file, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise PasswordUnavailable(f"password file {name} not found") from None
    except OSError as error:
        raise PasswordUnavailable(f"cannot read password file {name} ({error.strerror})") from None
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        # Raised outside the handler so that no UnicodeDecodeError (which quotes a byte of the
        # password) rides along as __context__.
        raise PasswordUnavailable(f"password file {name} is not UTF-8")
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")
