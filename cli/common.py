"""Small helpers shared by `das` commands: typed argument parsers and password options."""

from __future__ import annotations

import argparse

from validator.keystore import resolve_password


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
