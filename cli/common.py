"""Small helpers shared by `das` commands: typed argument parsers, password options, certificate files."""

from __future__ import annotations

import argparse
from pathlib import Path

from da.errors import InvalidDataRoot
from da.header import hex_to_data_root
from da.types import DataRoot
from validator.errors import MalformedCertificate
from validator.passwords import resolve_password


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def add_password_options(parser: argparse.ArgumentParser) -> None:
    """`--password-file` and `--password-env`; without them the password is asked on the terminal."""
    parser.add_argument("--password-file", metavar="FILE", help="read the keystore password from FILE")
    parser.add_argument(
        "--password-env", metavar="VAR", help="read the keystore password from environment variable VAR"
    )


def get_password(args: argparse.Namespace, *, confirm: bool = False) -> str:
    """The password chosen by the password options (file, then environment, then a prompt)."""
    return resolve_password(
        password_file=args.password_file, env_var=args.password_env, prompt=True, confirm=confirm
    )


def read_certificate_file(path: Path) -> bytes:
    """A certificate file's bytes: raw SSZ, or 0x-prefixed hex text (`MalformedCertificate` if the
    hex does not decode; whether the bytes are a certificate is for the decoder to say)."""
    raw = path.read_bytes()
    text = raw.strip()
    if text.startswith(b"0x"):
        try:
            return bytes.fromhex(text[2:].decode("ascii"))
        except (UnicodeDecodeError, ValueError) as error:
            raise MalformedCertificate(f"{path} starts with 0x but is not hex") from error
    return raw


def data_root_arg(text: str) -> DataRoot:
    """argparse type: a data root as 64 hex digits, with or without 0x."""
    try:
        return hex_to_data_root(text)
    except InvalidDataRoot as error:
        message = f"a data root is 32 bytes in hex (0x + 64 digits), got {text!r}"
        raise argparse.ArgumentTypeError(message) from error


def confidence_arg(text: str) -> float:
    """argparse type: a confidence strictly between 0 and 1."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"confidence must be strictly between 0 and 1, got {text}")
    return value


def seconds_arg(text: str) -> float:
    """argparse type: a positive number of seconds."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def http_address_arg(text: str) -> tuple[str, int]:
    """argparse type: HOST:PORT for the status API (PORT 0 picks a free port)."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, e.g. 127.0.0.1:8081, got {text!r}")
    return host.strip("[]"), int(port)
