"""`das`: the Tessera command line. Each command group registers its own subparser."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, NoReturn

from contracts.toolchain import ToolchainError
from da.errors import DAError
from network.errors import NetworkError
from network.logs import configure_logging
from sampling.errors import SamplingError
from validator.errors import ValidatorError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


COMMANDS = ("demo", "validator", "cert", "light", "blob", "sequencer", "altda", "devnet")
"""Command groups, each a module of `cli` with an `add_parser(subparsers)`, in `--help` order."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - only for --version

    try:
        return version("tessera-das")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """`--version`, looking the version up only when asked (importlib.metadata costs ~40 ms)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"das {_version()}")
        parser.exit()


def _named_command(argv: Sequence[str]) -> str | None:
    """The command group `argv` runs (its first word that is not an option), if it is one."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `das` argument parser. When `argv` names a command group, only that group's module is
    imported and registered (a light check then does not import the validator, blob and devnet
    commands and what they use); otherwise every group is, for the full `--help`."""
    parser = argparse.ArgumentParser(
        prog="das",
        description=(
            "Tessera data-availability network. Sequencers post blobs, validators certify them, "
            "light clients sample them. Run `das COMMAND --help` for each command."
        ),
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    named = _named_command(argv) if argv is not None else None
    for name in (named,) if named is not None else COMMANDS:
        importlib.import_module(f"cli.{name}").add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    configure_logging(verbose=False)  # stdout carries reports: records go to stderr (a command may say more)
    try:
        code: int = args.run(args)
    except (DAError, ValidatorError, SamplingError, NetworkError, ToolchainError, OSError) as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("das: interrupted", file=sys.stderr)
        return 130
    return code


def run() -> NoReturn:
    """The `das` program: `main()`, then exit without tearing the interpreter down. When `main`
    returns, every command has closed its files, databases and connections; what is left of an
    ordinary exit is freeing some 1,500 modules, 0.25-0.35 s of a cold `das light check`. So once
    stdout, stderr and the logging handlers are flushed, `os._exit` ends the process. A command
    that leaves a non-daemon thread or a child process running gets the ordinary exit instead
    (threads joined, children reaped, atexit handlers run)."""
    code = main()
    if not _still_running():
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe: the ordinary exit reports it
            sys.exit(code)
        logging.shutdown()
        os._exit(code)
    sys.exit(code)


def _still_running() -> bool:
    """True if a non-daemon thread besides the main one, or a multiprocessing child, is alive."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return True
    multiprocessing = sys.modules.get("multiprocessing")
    return multiprocessing is not None and bool(multiprocessing.active_children())


if __name__ == "__main__":
    run()
