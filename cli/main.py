"""`das`: the Tessera command line. Each command group registers its own subparser."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from cli import blob, cert, demo, devnet, light, validator
from da.errors import DAError
from network.errors import NetworkError
from sampling.errors import SamplingError
from validator.errors import ValidatorError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _version() -> str:
    try:
        return version("tessera-das")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The `das` argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="das",
        description=(
            "Tessera data-availability network. Sequencers post blobs, validators certify them, "
            "light clients sample them. Run `das COMMAND --help` for each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"das {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo.add_parser(subparsers)
    validator.add_parser(subparsers)
    cert.add_parser(subparsers)
    light.add_parser(subparsers)
    blob.add_parser(subparsers)
    devnet.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return EXIT_USAGE
    try:
        code: int = args.run(args)
    except (DAError, ValidatorError, SamplingError, NetworkError, OSError) as error:
        print(f"das: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("das: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
